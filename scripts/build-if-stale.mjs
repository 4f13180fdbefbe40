// Builds the Remix app when the sources changed since the last build (a hash stamp in build/).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const stamp = path.join(root, 'build', '.source-hash');
const inputs = ['app', 'common', 'vite.config.ts', 'package-lock.json', 'tsconfig.json'];

function hashTree(hash, p) {
  const full = path.join(root, p);
  if (!fs.existsSync(full)) return;
  const st = fs.statSync(full);
  if (st.isDirectory()) {
    for (const name of fs.readdirSync(full).sort()) hashTree(hash, path.join(p, name));
  } else {
    hash.update(p);
    hash.update(fs.readFileSync(full));
  }
}

export function buildIfStale() {
  const hash = createHash('sha256');
  for (const p of inputs) hashTree(hash, p);
  const digest = hash.digest('hex');
  const ok = fs.existsSync(path.join(root, 'build', 'server', 'index.js'));
  if (ok && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === digest) {
    console.log('build: up to date');
    return;
  }
  console.log('build: building the web app (remix vite:build)…');
  // always a production build, whatever NODE_ENV the caller runs under (vitest sets 'test')
  execFileSync('npx', ['remix', 'vite:build'], { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
  fs.writeFileSync(stamp, digest);
}

if (import.meta.url === `file://${process.argv[1]}`) buildIfStale();
