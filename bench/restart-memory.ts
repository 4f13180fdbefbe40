// (5) Server restart and memory.
//  - restart: 50 stored notebooks (49 of 200 cells, one of 1000 cells, 20 lines a cell, imported as
//    .ipynb); the server process is killed (SIGKILL) and started again; time from spawn until a
//    fresh client has the whole 1000-cell notebook (split: process up and listening; then the
//    notebook loaded from SQLite and synced).
//  - memory: RSS and V8 heap (after a full GC) of the server process with 0, 10 and 50 notebooks of
//    200 cells open, one client each, against the reference y-websocket server holding the same
//    documents. Per notebook = (with N − with 0) / N.
// Run: npm run bench -- --only restart
import fs from 'node:fs';
import { fetchAsAdmin } from '../tests/support/auth';
import { tempDir } from '../tests/support/server';
import { ipynb } from './doc-fixtures';
import { startChild, type Child } from './proc';
import { mb, ms, summarize, table, type Summary } from './stats';

type Mem = { rss: number; heapUsed: number; external: number; arrayBuffers: number };
export interface RestartResult {
  restarts: { boot: Summary; firstSync: Summary; total: Summary };
  memory: { open: number; app: Mem; ref: Mem }[];
}

async function importNotebook(url: string, cells: number, lines: number): Promise<string> {
  const res = await fetchAsAdmin(`${url}/api/notebooks/import?name=bench.ipynb`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ipynb(cells, lines) });
  if (res.status !== 201) throw new Error(`import: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export async function benchRestartMemory(opts: { restarts: number; openCounts?: number[] }, log: (s: string) => void = () => undefined): Promise<RestartResult> {
  const dataDir = tempDir('ynb-bench-restart-');
  const counts = opts.openCounts ?? [0, 10, 50];
  const start = () => startChild('app-server-process.ts', { env: { DATA_DIR: dataDir }, nodeArgs: ['--expose-gc'] });
  let server: Child = start();
  const clients = startChild('sync-clients-process.ts');
  let ref: Child | null = null;
  let refClients: Child | null = null;
  let appClients: Child | null = null;
  try {
    let url = String((await server.ready).url);
    await clients.ready;
    const small: string[] = [];
    for (let i = 0; i < 49; i++) small.push(await importNotebook(url, 200, 20));
    const big = await importNotebook(url, 1000, 20);
    const boot: number[] = [];
    const sync: number[] = [];
    const total: number[] = [];
    for (let i = 0; i < opts.restarts; i++) {
      await server.stop('SIGKILL');
      const t0 = performance.now();
      server = start();
      url = String((await server.ready).url);
      const up = performance.now() - t0;
      const r = await clients.call<{ ms: number[] }>('firstSync', { wsUrl: url.replace(/^http/, 'ws') + '/sync', room: big, times: 1, cells: 1000 });
      boot.push(up);
      sync.push(r.ms[0]);
      total.push(performance.now() - t0);
      log(`  restart ${i + 1}: up ${ms(up, 0)}, 1000-cell notebook synced ${ms(r.ms[0], 0)} later`);
    }

    // memory: a fresh server process, notebooks opened 10, then 40 more
    await server.stop('SIGKILL');
    server = start();
    url = String((await server.ready).url);
    ref = startChild('ref-server-process.ts', { nodeArgs: ['--expose-gc'] });
    refClients = startChild('sync-clients-process.ts');
    await refClients.ready;
    const refUrl = String((await ref.ready).url).replace(/^http/, 'ws') + '/sync';
    const wsUrl = url.replace(/^http/, 'ws') + '/sync';
    const memory: RestartResult['memory'] = [];
    let opened = 0;
    for (const n of counts) {
      // the app's notebooks are opened all at once by a fresh client process each step
      await appClients?.stop();
      appClients = startChild('sync-clients-process.ts');
      await appClients.ready;
      if (n) await appClients.call('openMany', { wsUrl, rooms: small.slice(0, n), minCells: 200 }, 120_000);
      for (; opened < n; opened++) await refClients!.call('seed', { wsUrl: refUrl, room: `mem-${opened}`, cells: 200, lines: 20 });
      await new Promise((r) => setTimeout(r, 500));
      const [a, b] = await Promise.all([server.call<Mem>('memory'), ref.call<Mem>('memory')]);
      memory.push({ open: n, app: a, ref: b });
      log(`  memory with ${n} open: app heap ${mb(a.heapUsed)} rss ${mb(a.rss)} | ref heap ${mb(b.heapUsed)} rss ${mb(b.rss)}`);
    }
    return { restarts: { boot: summarize(boot), firstSync: summarize(sync), total: summarize(total) }, memory };
  } finally {
    await Promise.all([server.stop(), clients.stop(), ref?.stop(), refClients?.stop(), appClients?.stop()]);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export function restartTable(r: RestartResult): string {
  const s = r.restarts;
  const restart = table(
    ['restart (SIGKILL) with 50 stored notebooks', 'runs', 'median', 'max'],
    [
      ['spawn → server listening (node + tsx start, SQLite open)', s.boot.n, ms(s.boot.median, 0), ms(s.boot.max, 0)],
      ['listening → fresh client has the 1000-cell notebook (cold load)', s.firstSync.n, ms(s.firstSync.median, 0), ms(s.firstSync.max, 0)],
      ['total: spawn → 1000-cell notebook served', s.total.n, ms(s.total.median, 0), ms(s.total.max, 0)],
    ],
  );
  const base = r.memory[0];
  const per = (n: number, now: number, zero: number) => (n ? mb((now - zero) / n) : '–');
  const mem = table(
    ['notebooks of 200 cells open (one client each)', 'app heap', 'app RSS', 'app heap / notebook', 'app RSS / notebook', 'reference heap', 'reference RSS', 'reference heap / notebook', 'ratio heap / notebook'],
    r.memory.map((m) => [
      m.open,
      mb(m.app.heapUsed),
      mb(m.app.rss),
      per(m.open, m.app.heapUsed, base.app.heapUsed),
      per(m.open, m.app.rss, base.app.rss),
      mb(m.ref.heapUsed),
      mb(m.ref.rss),
      per(m.open, m.ref.heapUsed, base.ref.heapUsed),
      m.open ? `${((m.app.heapUsed - base.app.heapUsed) / (m.ref.heapUsed - base.ref.heapUsed)).toFixed(2)}×` : '–',
    ]),
  );
  return `${restart}\n\n${mem}`;
}

if (process.argv[1]?.endsWith('restart-memory.ts')) {
  console.log(restartTable(await benchRestartMemory({ restarts: Number(process.argv[2] ?? 3) }, console.log)));
  process.exit(0);
}
