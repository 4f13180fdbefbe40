// Installs Debian packages the app or its tests need (bubblewrap for the kernel sandbox, Chromium
// for the browser tests) when they are missing and we can: as root on a machine with apt-get.
// Elsewhere it says what to do and returns false; the caller decides whether that is fatal.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';

const hasAptGet = () => spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
let isUpdated = false;

/**
 * Ensures `binary` exists, installing Debian's `pkg` when it does not.
 * @returns {boolean} true when the binary is there afterwards
 */
export function ensureDebianPackage({ binary, pkg, why, log = (m) => console.log(m) }) {
  if (fs.existsSync(binary)) return true;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !hasAptGet()) {
    log(`${binary} is missing (${why}): install it with \`sudo apt-get install -y ${pkg}\` (Debian/Ubuntu) or your system's package manager.`);
    return false;
  }
  log(`installing ${pkg} from Debian packages (${why})…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    if (!isUpdated) {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
      isUpdated = true;
    }
    execFileSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'inherit', env });
  } catch (err) {
    log(`could not install ${pkg}: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
  return fs.existsSync(binary);
}

/**
 * bubblewrap runs the embedded gateway's kernels in a sandbox (docs/decisions/0009-kernel-sandbox.md).
 * Without it they run unsandboxed with a loud warning, unless KERNEL_SANDBOX=required.
 */
export function ensureBubblewrap(log) {
  if (process.platform !== 'linux') {
    (log ?? console.log)('bubblewrap exists only on Linux: kernels run WITHOUT a sandbox here (KERNEL_SANDBOX=auto).');
    return false;
  }
  return ensureDebianPackage({ binary: '/usr/bin/bwrap', pkg: 'bubblewrap', why: 'the sandbox of the notebook kernels', log });
}
