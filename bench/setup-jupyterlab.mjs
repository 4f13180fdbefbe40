#!/usr/bin/env node
// The baseline of bench/open-notebook.ts: plain JupyterLab 4 in a benchmark-only Python environment,
// bench/.venv (gitignored), apart from the kernel gateway's. Idempotent: re-running is a no-op while
// the installed version is the pinned one. Run: `node bench/setup-jupyterlab.mjs`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The JupyterLab the benchmark compares with (pip resolves its dependencies at install time). */
export const JUPYTERLAB_VERSION = '4.6.6';
const here = path.dirname(fileURLToPath(import.meta.url));
export const BENCH_VENV = path.join(here, '.venv');
const STAMP = path.join(BENCH_VENV, '.jupyterlab-version');

export function venvBin(name) {
  return path.join(BENCH_VENV, process.platform === 'win32' ? 'Scripts' : 'bin', process.platform === 'win32' ? `${name}.exe` : name);
}

function run(cmd, args, log) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) throw new Error(`could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

/** Ensures bench/.venv holds jupyterlab==JUPYTERLAB_VERSION; returns the `jupyter` executable. */
export function setupJupyterLab(log = (s) => console.error(s)) {
  const jupyter = venvBin('jupyter');
  if (existsSync(jupyter) && existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === JUPYTERLAB_VERSION) return { jupyter, changed: false };
  if (!existsSync(venvBin('python'))) {
    const python = process.env.PYTHON ?? 'python3';
    run(python, ['-m', 'venv', BENCH_VENV], log);
  }
  run(venvBin('python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `jupyterlab==${JUPYTERLAB_VERSION}`], log);
  writeFileSync(STAMP, `${JUPYTERLAB_VERSION}\n`);
  return { jupyter, changed: true };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { jupyter, changed } = setupJupyterLab();
  console.log(`${changed ? 'installed' : 'already there:'} jupyterlab ${JUPYTERLAB_VERSION} → ${jupyter}`);
}
