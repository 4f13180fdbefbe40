#!/usr/bin/env node
// Creates (idempotently) the Python environment of the kernel gateway: kernel-gateway/.venv.
// Installs requirements.txt and, when present, requirements-dev.txt (nbformat and nbconvert, which
// the tests use; jupyter_server needs them anyway) in one pip run, so the resolver sees every pin.
// Re-running is a no-op unless one of them changed: their hash is kept in a stamp inside the venv
// and compared on every run.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_PYTHON_DIR = path.join(ROOT, 'kernel-gateway');
const STAMP_NAME = '.requirements.sha256';

export class SetupPythonError extends Error {}

/** Path of the interpreter inside a venv (posix and Windows layouts). */
export function venvPython(venvDir) {
  const win = path.join(venvDir, 'Scripts', 'python.exe');
  return process.platform === 'win32' ? win : path.join(venvDir, 'bin', 'python');
}

function run(cmd, args, log) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.error) throw new SetupPythonError(`could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new SetupPythonError(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

function findSystemPython() {
  const candidates = [process.env.PYTHON, 'python3.11', 'python3', 'python'].filter(Boolean);
  for (const c of candidates) {
    const r = spawnSync(c, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
    if (r.status === 0) {
      const [major, minor] = r.stdout.trim().split('.').map(Number);
      if (major === 3 && minor >= 10) return c;
    }
  }
  throw new SetupPythonError(
    'no Python >= 3.10 found (tried $PYTHON, python3.11, python3, python). Install Python 3.11 or set PYTHON=/path/to/python3.',
  );
}

/**
 * Ensures `<pythonDir>/.venv` exists with the pinned requirements installed.
 * @returns {{ venvDir: string, python: string, changed: boolean }}
 */
export function setupPython({ pythonDir = DEFAULT_PYTHON_DIR, log = (m) => console.log(`[setup-python] ${m}`) } = {}) {
  const requirements = path.join(pythonDir, 'requirements.txt');
  if (!existsSync(requirements)) throw new SetupPythonError(`missing ${requirements}`);
  const devRequirements = path.join(pythonDir, 'requirements-dev.txt');
  const files = existsSync(devRequirements) ? [requirements, devRequirements] : [requirements];
  const venvDir = path.join(pythonDir, '.venv');
  const python = venvPython(venvDir);
  const stamp = path.join(venvDir, STAMP_NAME);
  const hasher = createHash('sha256').update(readFileSync(requirements));
  // the dev file joins the hash: adding or changing it re-runs pip once
  if (files.length > 1) hasher.update('\0requirements-dev.txt\0').update(readFileSync(devRequirements));
  const hash = hasher.digest('hex');

  let changed = false;
  if (!existsSync(python)) {
    const sys = findSystemPython();
    if (existsSync(venvDir)) {
      log(`${venvDir} exists but has no interpreter; recreating it`);
      rmSync(venvDir, { recursive: true, force: true });
    }
    log(`creating virtual environment ${path.relative(process.cwd(), venvDir) || venvDir}`);
    run(sys, ['-m', 'venv', venvDir], log);
    changed = true;
  }

  const previous = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (previous === hash) {
    log('Python environment up to date (requirements unchanged)');
    return { venvDir, python, changed };
  }
  log(previous ? 'requirements changed; installing' : 'installing requirements');
  run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--upgrade', 'pip'], log);
  run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', ...files.flatMap((f) => ['-r', f])], log);
  writeFileSync(stamp, `${hash}\n`);
  log('Python environment ready');
  return { venvDir, python, changed: true };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    setupPython();
  } catch (err) {
    console.error(`[setup-python] FAILED: ${err instanceof Error ? err.message : String(err)}`);
    console.error('[setup-python] fix the problem above and re-run `npm run setup:python`.');
    process.exit(1);
  }
}
