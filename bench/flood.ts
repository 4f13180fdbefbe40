// (4) Output flood: `for i in range(200000): print(i)`.
//  - time to finish: app (HTTP run → kernel → outputs into the Yjs document, stored, synced) against
//    the same loop on a bare kernel of the same gateway (@jupyterlab/services requestExecute),
//    interleaved run by run;
//  - the document size after (the app keeps MAX_STREAM_CHARS_PER_RUN characters, with a notice);
//  - keystroke latency of another client typing in another cell during the flood, seen by a third
//    client (typist and reader in their own processes), against the same typing with no flood.
// Run: npm run bench -- --only flood
import * as Y from 'yjs';
import { startApp } from './app-in-process';
import { startBareKernel } from './bare-kernel';
import { startChild } from './proc';
import { kb, ms, quietly, ratio, sleep, summarize, table, type Summary } from './stats';

export const FLOOD_CODE = 'for i in range(200000): print(i)';

export interface FloodResult {
  runs: number;
  app: Summary;
  bare: Summary;
  docBytes: number;
  keysDuring: Summary;
  keysIdle: Summary;
}

export async function benchFlood(opts: { runs: number }, log: (s: string) => void = () => undefined): Promise<FloodResult> {
  return quietly(async () => {
    const app = await startApp();
    const typist = startChild('sync-clients-process.ts');
    const readers = startChild('sync-clients-process.ts');
    const kernel = await startBareKernel((await app.server.execution.kernels).serverSettings, app.workRoot, 'bench-bare-flood');
    try {
      const nb = await app.notebook('flood', [FLOOD_CODE, '']);
      await Promise.all([typist.ready, readers.ready]);
      await typist.call('connect', { wsUrl: app.wsUrl, room: nb.id, count: 1, role: 'typist', cellIndex: 1 });
      await readers.call('connect', { wsUrl: app.wsUrl, room: nb.id, count: 1, role: 'readers', cellIndex: 1 });
      const latencies = async (typing: Promise<{ start: number; sends: number[] }>, from = -Infinity, to = Infinity) => {
        const { start, sends } = await typing;
        const [seen] = await readers.call<(number | null)[][]>('collect', { start, count: sends.length, settleMs: 500 });
        return sends.map((t, k) => (t >= from && t <= to && seen[k] != null ? seen[k]! - t : NaN)).filter(Number.isFinite);
      };
      const type = (seconds: number) => typist.call<{ start: number; sends: number[] }>('type', { keys: Math.round(seconds * 20), intervalMs: 50 }, 120_000);
      const monoNow = () => Number(process.hrtime.bigint()) / 1e6;

      // warm-up of both paths
      await kernel.requestExecute({ code: 'for i in range(1000): print(i)' }).done;
      await app.post(`/notebooks/${nb.id}/cells/${nb.cellIds[0]}/run`, { source: 'for i in range(1000): print(i)' });
      const idle = await latencies(type(3));

      const a: number[] = [];
      const b: number[] = [];
      const during: number[] = [];
      let docBytes = 0;
      for (let i = 0; i < opts.runs; i++) {
        let t0 = performance.now();
        await kernel.requestExecute({ code: FLOOD_CODE }).done;
        b.push(performance.now() - t0);

        const typing = type(Math.max(4, (b[b.length - 1] / 1000) * 2 + 2));
        await sleep(300);
        const from = monoNow();
        t0 = performance.now();
        const r = await app.post(`/notebooks/${nb.id}/cells/${nb.cellIds[0]}/run`, { source: FLOOD_CODE, wait: true });
        a.push(performance.now() - t0);
        const to = monoNow();
        if (r.body?.status !== 'ok') throw new Error(`flood run: ${JSON.stringify(r.body)}`);
        during.push(...(await latencies(typing, from, to)));
        docBytes = Y.encodeStateAsUpdate(nb.doc).byteLength;
        log(`  flood ${i + 1}: app ${ms(a[a.length - 1], 0)} bare ${ms(b[b.length - 1], 0)}, ${during.length} keys during`);
      }
      return { runs: opts.runs, app: summarize(a), bare: summarize(b), docBytes, keysDuring: summarize(during), keysIdle: summarize(idle) };
    } finally {
      await kernel.shutdown().catch(() => undefined);
      kernel.dispose();
      await Promise.all([typist.stop(), readers.stop()]);
      await app.close();
    }
  });
}

export function floodTable(r: FloodResult): string {
  return [
    table(
      ['path', 'runs', 'median', 'max', 'document after'],
      [
        [`bare kernel: \`${FLOOD_CODE}\` (@jupyterlab/services)`, r.runs, ms(r.bare.median, 0), ms(r.bare.max, 0), '–'],
        ['app: HTTP run → kernel → document → stored → synced', r.runs, ms(r.app.median, 0), ms(r.app.max, 0), kb(r.docBytes)],
        ['ratio app / bare', '', ratio(r.app.median, r.bare.median), ratio(r.app.max, r.bare.max), ''],
      ],
    ),
    '',
    table(
      ['keystroke in another cell → seen by a third client', 'keys', 'p50', 'p95', 'p99', 'max'],
      [
        ['during the flood', r.keysDuring.n, ms(r.keysDuring.median), ms(r.keysDuring.p95), ms(r.keysDuring.p99), ms(r.keysDuring.max)],
        ['no flood (same clients, just before)', r.keysIdle.n, ms(r.keysIdle.median), ms(r.keysIdle.p95), ms(r.keysIdle.p99), ms(r.keysIdle.max)],
      ],
    ),
  ].join('\n');
}

if (process.argv[1]?.endsWith('flood.ts')) {
  console.log(floodTable(await benchFlood({ runs: Number(process.argv[2] ?? 3) }, console.log)));
  process.exit(0);
}
