// Files through the kernel, against a plain PUT to disk, for 1, 20 and 200 MB, in one run:
//  - app:      PUT /api/notebooks/:id/files/<name> (bytes → server → binary comm chunks → kernel →
//              disk) and GET back (disk → kernel → comm → server → client), the sha256 checked;
//  - baseline: a bare Node HTTP server in the same process that streams a PUT body to a file on the
//              same disk and the file back on GET: what moving the bytes costs with no kernel at all.
// Rounds alternate app and baseline so machine noise hits both alike.
// Run: npm run bench -- --only files   (or npx tsx bench/files.ts [rounds])
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { readEnv } from '../server/http/env';
import { startServer } from '../server/http/server';
import { MiB } from '../server/kernel/kernel-files';
import { tempDir } from '../tests/support/server';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../tests/support/auth';

export const FILE_BENCH_SIZES_MB = [1, 20, 200];

export interface FileBenchRow {
  sizeMB: number;
  rounds: number;
  /** median MB/s (1 MB = 10^6 bytes) */
  appUp: number;
  appDown: number;
  baseUp: number;
  baseDown: number;
}

function startBaseline(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const file = path.join(dir, path.basename(req.url ?? 'x'));
    if (req.method === 'PUT') {
      const hash = createHash('sha256');
      req.on('data', (c: Buffer) => hash.update(c));
      pipeline(req, fs.createWriteStream(file)).then(
        () => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sha256: hash.digest('hex') })),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(200, { 'content-length': fs.statSync(file).size });
      fs.createReadStream(file).pipe(res);
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) }),
    ),
  );
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Streams `data` as the PUT body (no whole-body copy), returns seconds. */
async function timedPut(url: string, data: Buffer, expectSha: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetchAsAdmin(url, { method: 'PUT', body: data as unknown as BodyInit });
  const body = (await res.json()) as { sha256?: string };
  const dt = (performance.now() - t0) / 1000;
  if (res.status !== 201 || body.sha256 !== expectSha) throw new Error(`PUT ${url}: ${res.status} ${JSON.stringify(body)}`);
  return dt;
}

async function timedGet(url: string, expectSha: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetchAsAdmin(url);
  const hash = createHash('sha256');
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  const dt = (performance.now() - t0) / 1000;
  if (res.status !== 200 || hash.digest('hex') !== expectSha) throw new Error(`GET ${url}: ${res.status} or checksum mismatch`);
  return dt;
}

export async function benchFiles(opts: { sizesMB?: number[]; rounds?: (sizeMB: number) => number } = {}): Promise<FileBenchRow[]> {
  const sizes = opts.sizesMB ?? FILE_BENCH_SIZES_MB;
  const roundsFor = opts.rounds ?? ((mb: number) => (mb >= 200 ? 3 : mb >= 20 ? 5 : 15));
  const quiet = console.log;
  const quietDebug = console.debug;
  const isChatter = (a: unknown[]) => /^(Starting WebSocket|Kernel: )/.test(String(a[0]));
  console.log = (...a: unknown[]) => (isChatter(a) ? undefined : quiet(...a));
  console.debug = (...a: unknown[]) => (isChatter(a) ? undefined : quietDebug(...a));
  const root = tempDir('ynb-bench-files-');
  const env = readEnv({ PORT: '0', DATA_DIR: path.join(root, 'data'), NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  const server = await startServer({ env, withUi: false, warmKernels: true, log: () => undefined, fileLimits: { maxFileBytes: 1024 * MiB, quotaBytes: 4096 * MiB } });
  fs.mkdirSync(path.join(root, 'plain'));
  const baseline = await startBaseline(path.join(root, 'plain'));
  const rows: FileBenchRow[] = [];
  try {
    const nb = await server.notebooks.create({ title: 'bench files' });
    // the kernel starts on the first request: not part of any measurement
    await fetchAsAdmin(`${server.url}/api/notebooks/${nb.id}/files`);
    for (const mb of sizes) {
      const data = randomBytes(mb * 1_000_000);
      const sha = createHash('sha256').update(data).digest('hex');
      const appUrl = `${server.url}/api/notebooks/${nb.id}/files/bench-${mb}.bin`;
      const baseUrl = `${baseline.url}/bench-${mb}.bin`;
      const up = { app: [] as number[], base: [] as number[] };
      const down = { app: [] as number[], base: [] as number[] };
      const rounds = roundsFor(mb);
      for (let i = 0; i < rounds; i++) {
        up.app.push(await timedPut(appUrl, data, sha));
        up.base.push(await timedPut(baseUrl, data, sha));
        down.app.push(await timedGet(appUrl, sha));
        down.base.push(await timedGet(baseUrl, sha));
      }
      const rate = (xs: number[]) => mb / median(xs);
      rows.push({ sizeMB: mb, rounds, appUp: rate(up.app), appDown: rate(down.app), baseUp: rate(up.base), baseDown: rate(down.base) });
      await fetchAsAdmin(appUrl, { method: 'DELETE' });
    }
  } finally {
    await baseline.close();
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
    console.log = quiet;
    console.debug = quietDebug;
  }
  return rows;
}

export function filesTable(rows: FileBenchRow[]): string {
  const f = (n: number) => `${n.toFixed(0)} MB/s`;
  return [
    '| size | rounds | upload: app (through the kernel) | upload: plain PUT to disk | ratio | download: app | download: plain GET | ratio |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.sizeMB} MB | ${r.rounds} | ${f(r.appUp)} | ${f(r.baseUp)} | ${(r.appUp / r.baseUp).toFixed(2)}× | ${f(r.appDown)} | ${f(r.baseDown)} | ${(r.appDown / r.baseDown).toFixed(2)}× |`,
    ),
  ].join('\n');
}

if (process.argv[1]?.endsWith('files.ts')) {
  const rounds = process.argv[2] ? Number(process.argv[2]) : undefined;
  console.log(filesTable(await benchFiles(rounds ? { rounds: () => rounds } : {})));
  process.exit(0);
}
