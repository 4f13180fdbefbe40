#!/usr/bin/env node
// Creates (idempotently) the Python environment of the kernel gateway: kernel-gateway/.venv.
// Installs requirements.lock: every package, transitive ones included, pinned with its hashes
// (`pip install --require-hashes`), generated from the top-level pins in requirements.txt and
// requirements-dev.txt by `npm run lock:python` (this script with --lock, which runs
// `uv pip compile --generate-hashes --universal` from a pinned uv in a throwaway venv).
// Re-running is a no-op unless the lock changed: its hash is kept in a stamp inside the venv.
// A top-level pin that the lock does not match fails loudly: re-lock after editing requirements.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_PYTHON_DIR = path.join(ROOT, 'kernel-gateway');
const STAMP_NAME = '.requirements.sha256';
export const LOCK_NAME = 'requirements.lock';
/** The tool that writes the lock, itself pinned. */
const UV_VERSION = '0.13.9';
const LOCK_PYTHON_VERSION = '3.11';

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
/** The top-level requirement files the lock is generated from. */
function inputFiles(pythonDir) {
  const requirements = path.join(pythonDir, 'requirements.txt');
  if (!existsSync(requirements)) throw new SetupPythonError(`missing ${requirements}`);
  const devRequirements = path.join(pythonDir, 'requirements-dev.txt');
  return existsSync(devRequirements) ? [requirements, devRequirements] : [requirements];
}

const normalize = (name) => name.toLowerCase().replace(/[-_.]+/g, '-');

/** name -> version of every `name==version` line. */
function pins(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)/.exec(line.trim());
    if (m) out.set(normalize(m[1]), m[2]);
  }
  return out;
}

/** Fails when a top-level pin is missing from the lock or has another version there. */
export function checkLockMatches(pythonDir = DEFAULT_PYTHON_DIR) {
  const lockFile = path.join(pythonDir, LOCK_NAME);
  if (!existsSync(lockFile)) throw new SetupPythonError(`missing ${lockFile}: run \`npm run lock:python\``);
  const locked = pins(readFileSync(lockFile, 'utf8'));
  for (const f of inputFiles(pythonDir)) {
    for (const [name, version] of pins(readFileSync(f, 'utf8'))) {
      if (locked.get(name) !== version) {
        throw new SetupPythonError(
          `${path.basename(f)} pins ${name}==${version} but ${LOCK_NAME} has ${locked.has(name) ? `${name}==${locked.get(name)}` : 'no such package'}: run \`npm run lock:python\``,
        );
      }
    }
  }
  return lockFile;
}

/**
 * Regenerates requirements.lock from requirements.txt and requirements-dev.txt: every transitive
 * package with the sha256 of each of its files on PyPI, resolved for Python 3.11 on every platform.
 */
export function lockPython({ pythonDir = DEFAULT_PYTHON_DIR, log = (m) => console.log(`[lock-python] ${m}`) } = {}) {
  const toolDir = path.join(tmpdir(), `ynotebook-uv-${UV_VERSION}`);
  const toolPython = venvPython(toolDir);
  if (!existsSync(toolPython)) run(findSystemPython(), ['-m', 'venv', toolDir], log);
  run(toolPython, ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', `uv==${UV_VERSION}`], log);
  const uv = path.join(path.dirname(toolPython), process.platform === 'win32' ? 'uv.exe' : 'uv');
  const rel = (f) => path.relative(ROOT, f);
  const args = [
    'pip', 'compile', '--universal', '--python-version', LOCK_PYTHON_VERSION, '--generate-hashes',
    '--no-config', '--index-url', 'https://pypi.org/simple', '--custom-compile-command', 'npm run lock:python',
    '--output-file', rel(path.join(pythonDir, LOCK_NAME)), ...inputFiles(pythonDir).map(rel),
  ];
  log(`$ uv ${args.join(' ')}`);
  const r = spawnSync(uv, args, { stdio: 'inherit', cwd: ROOT });
  if (r.status !== 0) throw new SetupPythonError(`uv pip compile exited with ${r.status}`);
  checkLockMatches(pythonDir);
  log(`wrote ${rel(path.join(pythonDir, LOCK_NAME))}`);
}

export function setupPython({ pythonDir = DEFAULT_PYTHON_DIR, venvDir = path.join(pythonDir, '.venv'), log = (m) => console.log(`[setup-python] ${m}`) } = {}) {
  const lockFile = checkLockMatches(pythonDir);
  const python = venvPython(venvDir);
  const stamp = path.join(venvDir, STAMP_NAME);
  const hash = createHash('sha256').update('requirements.lock\0').update(readFileSync(lockFile)).digest('hex');

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
  log(previous ? 'requirements.lock changed; installing' : 'installing requirements.lock');
  // --require-hashes: a file whose sha256 is not in the lock is refused; --no-deps: the lock is
  // the whole environment, nothing is resolved at install time
  run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--require-hashes', '--no-deps', '-r', lockFile], log);
  writeFileSync(stamp, `${hash}\n`);
  log('Python environment ready');
  return { venvDir, python, changed: true };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    const argValue = (flag) => (process.argv.includes(flag) ? path.resolve(process.argv[process.argv.indexOf(flag) + 1]) : undefined);
    // --dir <folder>: another locked environment (enterprise-gateway/); default kernel-gateway/
    const pythonDir = argValue('--dir') ?? DEFAULT_PYTHON_DIR;
    if (process.argv.includes('--lock')) lockPython({ pythonDir });
    else setupPython({ pythonDir, ...(argValue('--venv') ? { venvDir: argValue('--venv') } : {}) });
  } catch (err) {
    console.error(`[setup-python] FAILED: ${err instanceof Error ? err.message : String(err)}`);
    console.error('[setup-python] fix the problem above and re-run `npm run setup:python`.');
    process.exit(1);
  }
}
