// (8) Cluster: what the relay between instances costs (issue 11).
//  - keystroke latency: a typist at 20 keys/s and one reader on one notebook, keystroke → seen by the
//    reader, for (a) both on instance A of a two-instance cluster (PostgreSQL + Redis), (b) typist on
//    A, reader on B (the update goes A → Redis → B), (c) both on a plain single server on SQLite (no
//    Redis): the baseline; and (d) both on a single server on PostgreSQL without Redis, which splits
//    what (a) costs over (c) into storage (PostgreSQL instead of SQLite) and the relay. Each pair has its own notebook, its own typist and reader processes; the
//    three pairs type in alternate blocks (order rotated each round) in one run.
//  - memory per open notebook on an instance of the cluster: 0, 10, 50 notebooks of 200 cells (20
//    lines a cell, imported as .ipynb) open with one client each on A and the same notebooks with one
//    client each on B; RSS and V8 heap (after a full GC) of each server process; the single SQLite
//    server holding the same notebooks, one client each, alongside. Per notebook = (with N − with 0) / N.
// Throwaway PostgreSQL and Redis (tests/support/postgres.ts, tests/support/redis.ts), every server a
// process of its own (bench/app-server-process.ts), everything stopped and removed at the end.
// Run: npm run bench -- --only cluster [--quick]   (or npx tsx bench/cluster.ts [--quick])
import fs from 'node:fs';
import { fetchAsAdmin } from '../tests/support/auth';
import { startPostgres, type TestPostgres } from '../tests/support/postgres';
import { startRedis, type TestRedis } from '../tests/support/redis';
import { tempDir } from '../tests/support/server';
import { ipynb } from './doc-fixtures';
import { startChild, type Child } from './proc';
import { mb, ms, ratio, sleep, summarize, table, type Summary } from './stats';

export interface ClusterOptions {
  /** blocks per pair, pairs alternating */
  rounds: number;
  keysPerRound: number;
  intervalMs: number;
  openCounts: number[];
  cells: number;
  lines: number;
}
export const CLUSTER_FULL: ClusterOptions = { rounds: 6, keysPerRound: 50, intervalMs: 50, openCounts: [0, 10, 50], cells: 200, lines: 20 };
export const CLUSTER_QUICK: ClusterOptions = { rounds: 1, keysPerRound: 40, intervalMs: 50, openCounts: [0, 5], cells: 200, lines: 20 };

type Mem = { rss: number; heapUsed: number; external: number; arrayBuffers: number };
type PairName = 'same' | 'cross' | 'single' | 'singlePg';
export interface ClusterResult {
  latency: Record<PairName, Summary & { missing: number }>;
  memory: { open: number; a: Mem; b: Mem; single: Mem }[];
}

interface Server {
  proc: Child;
  url: string;
  wsUrl: string;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const proc = startChild('app-server-process.ts', { env, nodeArgs: ['--expose-gc'] });
  const url = String((await proc.ready).url);
  return { proc, url, wsUrl: url.replace(/^http/, 'ws') + '/sync' };
}

async function newNotebook(url: string, title: string): Promise<string> {
  const res = await fetchAsAdmin(`${url}/api/notebooks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title }) });
  if (res.status !== 201) throw new Error(`create notebook: ${res.status}`);
  return ((await res.json()) as { id: string }).id;
}

async function importNotebook(url: string, body: string): Promise<string> {
  const res = await fetchAsAdmin(`${url}/api/notebooks/import?name=bench.ipynb`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (res.status !== 201) throw new Error(`import: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export async function benchCluster(o: ClusterOptions, log: (s: string) => void = () => undefined): Promise<ClusterResult> {
  const dirs = [tempDir('ynb-bench-cluster-a-'), tempDir('ynb-bench-cluster-b-'), tempDir('ynb-bench-cluster-single-'), tempDir('ynb-bench-cluster-pg-')];
  const children: Child[] = [];
  let pg: TestPostgres | null = null;
  let redis: TestRedis | null = null;
  const servers: Server[] = [];
  try {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    const databaseUrl = await pg.createDatabase('bench_cluster');
    const cluster = { DATABASE_URL: databaseUrl, REDIS_URL: redis.url };
    // A first: it makes the schema; then B and the single server (SQLite: no database, no Redis)
    const a = await startServer({ ...cluster, DATA_DIR: dirs[0] });
    servers.push(a);
    // (d): a database of its own (a server without Redis takes no leases: it must not share A's)
    const pgOnlyUrl = await pg.createDatabase('bench_single');
    const [b, single, singlePg] = await Promise.all([
      startServer({ ...cluster, DATA_DIR: dirs[1] }),
      startServer({ DATABASE_URL: '', REDIS_URL: '', DATA_DIR: dirs[2] }),
      startServer({ DATABASE_URL: pgOnlyUrl, REDIS_URL: '', DATA_DIR: dirs[3] }),
    ]);
    servers.push(b, single, singlePg);
    log(`  cluster: A ${a.url}, B ${b.url} (PostgreSQL :${pg.port}, ${redis.url}); single SQLite ${single.url}; single PostgreSQL ${singlePg.url}`);

    // (1) latency: three pairs, each its own notebook and client processes
    const pairs = await Promise.all(
      (
        [
          ['same', a, a, a],
          ['cross', a, a, b],
          ['single', single, single, single],
          ['singlePg', singlePg, singlePg, singlePg],
        ] as const
      ).map(async ([name, home, typistOn, readerOn]) => {
        const room = await newNotebook(home.url, `cluster ${name}`);
        const typist = startChild('sync-clients-process.ts');
        const reader = startChild('sync-clients-process.ts');
        children.push(typist, reader);
        await Promise.all([typist.ready, reader.ready]);
        await typist.call('connect', { wsUrl: typistOn.wsUrl, room, count: 1, role: 'typist' });
        await reader.call('connect', { wsUrl: readerOn.wsUrl, room, count: 1, role: 'readers' });
        return { name: name as PairName, typist, reader, lat: [] as (number | null)[] };
      }),
    );
    const block = async (p: (typeof pairs)[number], keys: number, settleMs: number) => {
      const { start, sends } = await p.typist.call<{ start: number; sends: number[] }>('type', { keys, intervalMs: o.intervalMs }, 120_000);
      const [seen] = await p.reader.call<(number | null)[][]>('collect', { start, count: sends.length, settleMs });
      return sends.map((t, k) => (seen[k] == null ? null : seen[k]! - t));
    };
    // warm-up: connections settle, code paths get compiled; not counted
    for (const p of pairs) await block(p, 20, 500);
    for (let round = 0; round < o.rounds; round++) {
      const order = pairs.map((_, i) => pairs[(i + round) % pairs.length]);
      for (const p of order) p.lat.push(...(await block(p, o.keysPerRound, 1000)));
    }
    const latency = {} as ClusterResult['latency'];
    for (const p of pairs) {
      latency[p.name] = { ...summarize(p.lat.filter((x): x is number => x !== null)), missing: p.lat.filter((x) => x === null).length };
      log(`  keystroke ${p.name}: p50 ${ms(latency[p.name].median)} p95 ${ms(latency[p.name].p95)} p99 ${ms(latency[p.name].p99)}${latency[p.name].missing ? ` (${latency[p.name].missing} never seen)` : ''}`);
    }
    await Promise.all(pairs.flatMap((p) => [p.typist.stop(), p.reader.stop()]));

    // (2) memory: the same notebooks stored in the cluster (through A) and in the single server
    const max = Math.max(...o.openCounts);
    const body = ipynb(o.cells, o.lines);
    const clusterIds: string[] = [];
    const singleIds: string[] = [];
    for (let i = 0; i < max; i++) {
      clusterIds.push(await importNotebook(a.url, body));
      singleIds.push(await importNotebook(single.url, body));
    }
    const memory: ClusterResult['memory'] = [];
    let openers: Child[] = [];
    for (const n of o.openCounts) {
      // a fresh client process per server and step: exactly the first n notebooks are open
      await Promise.all(openers.map((c) => c.stop()));
      openers = [startChild('sync-clients-process.ts'), startChild('sync-clients-process.ts'), startChild('sync-clients-process.ts')];
      children.push(...openers);
      await Promise.all(openers.map((c) => c.ready));
      if (n) {
        // A first (it loads them from PostgreSQL and takes their leases), then B, then the single server
        await openers[0].call('openMany', { wsUrl: a.wsUrl, rooms: clusterIds.slice(0, n), minCells: o.cells }, 180_000);
        await openers[1].call('openMany', { wsUrl: b.wsUrl, rooms: clusterIds.slice(0, n), minCells: o.cells }, 180_000);
        await openers[2].call('openMany', { wsUrl: single.wsUrl, rooms: singleIds.slice(0, n), minCells: o.cells }, 180_000);
      }
      await sleep(1000);
      const [ma, mb_, ms_] = await Promise.all([a.proc.call<Mem>('memory'), b.proc.call<Mem>('memory'), single.proc.call<Mem>('memory')]);
      memory.push({ open: n, a: ma, b: mb_, single: ms_ });
      log(`  memory with ${n} open: A heap ${mb(ma.heapUsed)} rss ${mb(ma.rss)} | B heap ${mb(mb_.heapUsed)} rss ${mb(mb_.rss)} | single heap ${mb(ms_.heapUsed)} rss ${mb(ms_.rss)}`);
    }
    await Promise.all(openers.map((c) => c.stop()));
    return { latency, memory };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    // graceful stop (leases released, last writes flushed) before the database and Redis go
    await Promise.all(servers.map((s) => s.proc.stop()));
    await Promise.all([pg?.stop(), redis?.stop()]);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
}

export function clusterTable(r: ClusterResult, o: ClusterOptions): string {
  const L = r.latency;
  const keys = o.rounds * o.keysPerRound;
  const row = (label: string, s: ClusterResult['latency'][PairName], vsSame: string, vsSingle: string, vsPg = '–') => [
    label,
    `${s.n}${s.missing ? ` (${s.missing} never seen)` : ''}`,
    ms(s.median),
    ms(s.p95),
    ms(s.p99),
    vsSame,
    vsSingle,
    vsPg,
  ];
  const r2 = (a: Summary, b: Summary) => `${ratio(a.median, b.median)} / ${ratio(a.p95, b.p95)} / ${ratio(a.p99, b.p99)}`;
  const latency = table(
    [`typist → reader, ${1000 / o.intervalMs} keys/s, ${keys} keys each, alternating blocks of ${o.keysPerRound}`, 'keys seen', 'p50', 'p95', 'p99', 'different / same instance (p50 / p95 / p99)', 'vs single SQLite server (p50 / p95 / p99)', 'vs single PostgreSQL server (p50 / p95 / p99)'],
    [
      row('(a) cluster, both on instance A', L.same, '–', r2(L.same, L.single), r2(L.same, L.singlePg)),
      row('(b) cluster, typist on A, reader on B (relay)', L.cross, r2(L.cross, L.same), r2(L.cross, L.single), r2(L.cross, L.singlePg)),
      row('(c) single server on SQLite, no Redis (baseline)', L.single, '–', '–'),
      row('(d) single server on PostgreSQL, no Redis (storage alone)', L.singlePg, '–', r2(L.singlePg, L.single)),
    ],
  );
  const base = r.memory[0];
  const per = (n: number, now: number, zero: number) => (n ? mb((now - zero) / n) : '–');
  const mem = table(
    [`notebooks of ${o.cells} cells open (one client each on A and on B; on the single server)`, 'A heap', 'A RSS', 'A heap / notebook', 'A RSS / notebook', 'B heap / notebook', 'B RSS / notebook', 'single heap / notebook', 'single RSS / notebook', 'ratio A / single (heap / notebook)'],
    r.memory.map((m) => [
      m.open,
      mb(m.a.heapUsed),
      mb(m.a.rss),
      per(m.open, m.a.heapUsed, base.a.heapUsed),
      per(m.open, m.a.rss, base.a.rss),
      per(m.open, m.b.heapUsed, base.b.heapUsed),
      per(m.open, m.b.rss, base.b.rss),
      per(m.open, m.single.heapUsed, base.single.heapUsed),
      per(m.open, m.single.rss, base.single.rss),
      m.open ? ratio(m.a.heapUsed - base.a.heapUsed, m.single.heapUsed - base.single.heapUsed) : '–',
    ]),
  );
  return `${latency}\n\n${mem}`;
}

if (process.argv[1]?.endsWith('cluster.ts')) {
  const o = process.argv.includes('--quick') ? CLUSTER_QUICK : CLUSTER_FULL;
  console.log(clusterTable(await benchCluster(o, console.log), o));
  process.exit(0);
}
