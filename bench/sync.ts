// (1) Sync: one typist at 20 keys/s, keystroke → seen by every other client, for 2, 20 and 100
// clients on one notebook; and a fresh client's first sync of a 1000-cell notebook.
// Product: the app's server (server/sync, SQLite) in its own process. Baseline: the reference
// y-websocket server (@y/websocket-server 0.1.1, in-memory) in its own process. The typist and the
// readers are two more processes (same client code for both servers); rounds alternate servers.
// Run: npm run bench -- --only sync   (or npx tsx bench/sync.ts [--quick])
import { fetchAsAdmin } from '../tests/support/auth';
import { tempDir } from '../tests/support/server';
import { startChild, type Child } from './proc';
import { kb, ms, ratio, summarize, table, type Summary } from './stats';
import fs from 'node:fs';

export interface SyncOptions {
  sizes: number[];
  /** rounds per server and size, alternating servers */
  rounds: number;
  keysPerRound: number;
  intervalMs: number;
  firstSyncTimes: number;
  firstSyncCells: number;
  linesPerCell: number;
}

export const SYNC_FULL: SyncOptions = { sizes: [2, 20, 100], rounds: 4, keysPerRound: 100, intervalMs: 50, firstSyncTimes: 10, firstSyncCells: 1000, linesPerCell: 20 };
export const SYNC_QUICK: SyncOptions = { sizes: [2, 20, 100], rounds: 1, keysPerRound: 25, intervalMs: 50, firstSyncTimes: 3, firstSyncCells: 1000, linesPerCell: 20 };

interface Target {
  name: 'app' | 'ref';
  server: Child;
  wsUrl: string;
  newRoom(title: string): Promise<string>;
}

export interface SyncRow {
  clients: number;
  app: Summary;
  ref: Summary;
  appMissing: number;
  refMissing: number;
}
export interface SyncResult {
  rows: SyncRow[];
  firstSync: { app: Summary; ref: Summary; appBytes: number; refBytes: number; cells: number };
}

export async function startTargets(): Promise<{ app: Target; ref: Target; dataDir: string; stop(): Promise<void> }> {
  const dataDir = tempDir('ynb-bench-sync-');
  const appProc = startChild('app-server-process.ts', { env: { DATA_DIR: dataDir }, nodeArgs: ['--expose-gc'] });
  const refProc = startChild('ref-server-process.ts', { nodeArgs: ['--expose-gc'] });
  const [a, r] = await Promise.all([appProc.ready, refProc.ready]);
  const appUrl = String(a.url);
  let n = 0;
  const app: Target = {
    name: 'app',
    server: appProc,
    wsUrl: appUrl.replace(/^http/, 'ws') + '/sync',
    async newRoom(title) {
      const res = await fetchAsAdmin(`${appUrl}/api/notebooks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title }) });
      if (res.status !== 201) throw new Error(`create notebook: ${res.status}`);
      return ((await res.json()) as { id: string }).id;
    },
  };
  const ref: Target = { name: 'ref', server: refProc, wsUrl: String(r.url).replace(/^http/, 'ws') + '/sync', newRoom: async () => `bench-${process.pid}-${++n}` };
  return {
    app,
    ref,
    dataDir,
    async stop() {
      await Promise.all([appProc.stop(), refProc.stop()]);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Latency of each key until the last reader saw it (null: some reader never did). */
function allSeen(sends: number[], perReader: (number | null)[][]): (number | null)[] {
  return sends.map((t, k) => {
    let last = -Infinity;
    for (const r of perReader) {
      const at = r[k];
      if (at == null) return null;
      if (at > last) last = at;
    }
    return last - t;
  });
}

async function typingSize(targets: Target[], clients: number, o: SyncOptions, log: (s: string) => void): Promise<SyncRow> {
  const rigs = await Promise.all(
    targets.map(async (t) => {
      const room = await t.newRoom(`sync ${clients}`);
      const typist = startChild('sync-clients-process.ts');
      const readers = startChild('sync-clients-process.ts');
      await Promise.all([typist.ready, readers.ready]);
      await typist.call('connect', { wsUrl: t.wsUrl, room, count: 1, role: 'typist' });
      await readers.call('connect', { wsUrl: t.wsUrl, room, count: clients - 1, role: 'readers' }, 180_000);
      return { t, typist, readers, lat: [] as (number | null)[] };
    }),
  );
  try {
    // warm-up: connections settle, code paths get compiled; not counted
    for (const rig of rigs) {
      const { start, sends } = await rig.typist.call<{ start: number; sends: number[] }>('type', { keys: 20, intervalMs: o.intervalMs });
      await rig.readers.call('collect', { start, count: sends.length, settleMs: 500 });
    }
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? rigs : rigs.slice().reverse();
      for (const rig of order) {
        const { start, sends } = await rig.typist.call<{ start: number; sends: number[] }>('type', { keys: o.keysPerRound, intervalMs: o.intervalMs }, 120_000);
        const seen = await rig.readers.call<(number | null)[][]>('collect', { start, count: sends.length, settleMs: 1000 });
        rig.lat.push(...allSeen(sends, seen));
      }
    }
  } finally {
    for (const rig of rigs) {
      await Promise.all([rig.typist.stop(), rig.readers.stop()]);
    }
  }
  const by = (name: string) => rigs.find((r) => r.t.name === name)!.lat;
  const row: SyncRow = {
    clients,
    app: summarize(by('app').filter((x): x is number => x !== null)),
    ref: summarize(by('ref').filter((x): x is number => x !== null)),
    appMissing: by('app').filter((x) => x === null).length,
    refMissing: by('ref').filter((x) => x === null).length,
  };
  log(`  sync ${clients} clients: app p50 ${ms(row.app.median)} p99 ${ms(row.app.p99)} | ref p50 ${ms(row.ref.median)} p99 ${ms(row.ref.p99)}`);
  return row;
}

export async function benchSync(o: SyncOptions, log: (s: string) => void = () => undefined): Promise<SyncResult> {
  const targets = await startTargets();
  try {
    const list = [targets.ref, targets.app];
    const rows: SyncRow[] = [];
    for (const size of o.sizes) rows.push(await typingSize(list, size, o, log));

    // first sync of a big notebook: seeded by a client (same content on both), then fresh clients
    const seeder = startChild('sync-clients-process.ts');
    const fresh = startChild('sync-clients-process.ts');
    await Promise.all([seeder.ready, fresh.ready]);
    try {
      const rooms: Record<string, string> = {};
      const cells: Record<string, number> = {};
      for (const t of list) {
        rooms[t.name] = await t.newRoom('first sync');
        cells[t.name] = await seeder.call<number>('seed', { wsUrl: t.wsUrl, room: rooms[t.name], cells: o.firstSyncCells, lines: o.linesPerCell }, 180_000);
      }
      const times: Record<string, number[]> = { app: [], ref: [] };
      const bytes: Record<string, number> = {};
      for (let i = 0; i < o.firstSyncTimes; i++) {
        for (const t of i % 2 === 0 ? list : list.slice().reverse()) {
          const r = await fresh.call<{ ms: number[]; bytes: number }>('firstSync', { wsUrl: t.wsUrl, room: rooms[t.name], times: 1, cells: cells[t.name] }, 120_000);
          times[t.name].push(...r.ms);
          bytes[t.name] = r.bytes;
        }
      }
      const firstSync = { app: summarize(times.app), ref: summarize(times.ref), appBytes: bytes.app, refBytes: bytes.ref, cells: o.firstSyncCells };
      log(`  first sync: app ${ms(firstSync.app.median)} ref ${ms(firstSync.ref.median)}`);
      return { rows, firstSync };
    } finally {
      await Promise.all([seeder.stop(), fresh.stop()]);
    }
  } finally {
    await targets.stop();
  }
}

export function syncTable(r: SyncResult, o: SyncOptions): string {
  const keys = o.rounds * o.keysPerRound;
  const typing = table(
    ['clients', 'keys', 'app p50', 'app p95', 'app p99', 'reference p50', 'reference p95', 'reference p99', 'ratio p50', 'ratio p99'],
    r.rows.map((x) => [
      x.clients,
      `${keys}${x.appMissing || x.refMissing ? ` (never seen: app ${x.appMissing}, ref ${x.refMissing})` : ''}`,
      ms(x.app.median),
      ms(x.app.p95),
      ms(x.app.p99),
      ms(x.ref.median),
      ms(x.ref.p95),
      ms(x.ref.p99),
      ratio(x.app.median, x.ref.median),
      ratio(x.app.p99, x.ref.p99),
    ]),
  );
  const f = r.firstSync;
  const first = table(
    ['server', `first sync of ${f.cells} cells × ${o.linesPerCell} lines (runs)`, 'median', 'p95', 'max', 'document'],
    [
      ['app (server/sync, SQLite)', f.app.n, ms(f.app.median), ms(f.app.p95), ms(f.app.max), kb(f.appBytes)],
      ['reference @y/websocket-server 0.1.1', f.ref.n, ms(f.ref.median), ms(f.ref.p95), ms(f.ref.max), kb(f.refBytes)],
      ['ratio app / reference', '', ratio(f.app.median, f.ref.median), ratio(f.app.p95, f.ref.p95), '', ''],
    ],
  );
  return `${typing}\n\n${first}`;
}

if (process.argv[1]?.endsWith('sync.ts')) {
  const o = process.argv.includes('--quick') ? SYNC_QUICK : SYNC_FULL;
  console.log(syncTable(await benchSync(o, console.log), o));
  process.exit(0);
}
