// Installs Debian packages the app or its tests need (bubblewrap for the kernel sandbox, Chromium
// for the browser tests) when they are missing and we can: as root on a machine with apt-get.
// Elsewhere it says what to do and returns false; the caller decides whether that is fatal.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';

const hasAptGet = () => spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
let isUpdated = false;

/**
 * Ensures `binary` exists (or `isPresent()` holds, when the path varies), installing Debian's `pkg`
 * when it does not.
 * @returns {boolean} true when the binary is there afterwards
 */
export function ensureDebianPackage({ binary, pkg, why, log = (m) => console.log(m), isPresent = () => fs.existsSync(binary) }) {
  if (isPresent()) return true;
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
  return isPresent();
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

/**
 * slirp4netns gives the sandboxed kernels outbound internet from a network namespace of their own
 * (KERNEL_NETWORK=internet, the default; docs/decisions/0022-kernel-network-namespace.md). Without
 * it they run with no network at all, and the server says so.
 */
export function ensureSlirp4netns(log) {
  if (process.platform !== 'linux') return false;
  return ensureDebianPackage({ binary: '/usr/bin/slirp4netns', pkg: 'slirp4netns', why: "the notebook kernels' internet access", log });
}

/** The bin directory of the newest installed PostgreSQL server (Debian: /usr/lib/postgresql/N/bin), or null. */
export function findPostgresBin() {
  const root = '/usr/lib/postgresql';
  let versions = [];
  try {
    versions = fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  } catch {
    // not installed
  }
  for (const v of versions) {
    const bin = `${root}/${v}/bin`;
    if (fs.existsSync(`${bin}/initdb`) && fs.existsSync(`${bin}/pg_ctl`)) return bin;
  }
  return null;
}

/**
 * PostgreSQL for the tests of the PostgreSQL storage (tests/support/postgres.ts starts a throwaway
 * cluster from it; the app itself never needs it unless DATABASE_URL is set).
 * @returns {string | null} its bin directory
 */
export function ensurePostgres(log) {
  const found = findPostgresBin();
  if (found || process.platform !== 'linux') return found;
  // which server version Debian installs varies by release: look for any
  ensureDebianPackage({ binary: '/usr/lib/postgresql/<version>/bin/pg_ctl', pkg: 'postgresql', why: 'the tests of the PostgreSQL storage', log, isPresent: () => findPostgresBin() !== null });
  return findPostgresBin();
}
