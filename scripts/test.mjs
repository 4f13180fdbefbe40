// `npm test`: the whole suite — unit, integration (real Kernel Gateway, real sync server) and
// browser tests (real Chromium). Prepares what they need first, then prints one closing line
// "N passed, N failed".
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBubblewrap, ensureDebianPackage, ensureSlirp4netns } from './apt-install.mjs';
import { buildIfStale } from './build-if-stale.mjs';

const root = path.resolve(import.meta.dirname, '..');
const CHROMIUM = '/usr/bin/chromium';

function ensureChromium() {
  if (!ensureDebianPackage({ binary: CHROMIUM, pkg: 'chromium', why: 'the browser tests', log: (m) => console.log(`test: ${m}`) })) {
    console.error(`Chromium is missing at ${CHROMIUM}: install Debian's package (sudo apt-get install -y chromium).`);
    process.exit(1);
  }
}

execFileSync(process.execPath, [path.join(root, 'scripts', 'setup-python.mjs')], { stdio: 'inherit' });
ensureChromium();
// tests/integration/sandbox.test.ts needs a working bubblewrap; other tests run either way
ensureBubblewrap((m) => console.log(`test: ${m}`));
// tests/integration/kernel-network.test.ts: the kernels' internet through slirp4netns
ensureSlirp4netns((m) => console.log(`test: ${m}`));
buildIfStale();

const suites = [
  { name: 'unit + integration', args: ['run'] },
  { name: 'browser', args: ['run', '--config', 'vitest.e2e.config.ts'] },
];
let passed = 0;
let failed = 0;
let skipped = 0;
let broken = false;
for (const suite of suites) {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ynb-test-')), 'results.json');
  console.log(`\n=== ${suite.name} tests ===`);
  const r = spawnSync('npx', ['vitest', ...suite.args, ...process.argv.slice(2), '--reporter=default', '--reporter=json', `--outputFile=${out}`], {
    cwd: root,
    stdio: 'inherit',
  });
  if (fs.existsSync(out)) {
    const res = JSON.parse(fs.readFileSync(out, 'utf8'));
    passed += res.numPassedTests;
    failed += res.numFailedTests;
    skipped += res.numPendingTests + (res.numTodoTests ?? 0);
    if (res.numTotalTests === 0) broken = true;
  } else broken = true;
  if (r.status !== 0) broken = true;
}
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(broken || failed > 0 ? 1 : 0);
