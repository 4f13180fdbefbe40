// (2) Execution, two measurements, each against a bare kernel of the same gateway, interleaved:
//  - round trip of `x=1`: HTTP run → queue → kernel → document → a second Yjs client sees the cell
//    idle with its execution count, against a direct @jupyterlab/services execute;
//  - the first run in a brand-new notebook (kernel start included), against starting a bare kernel
//    and executing `x=1` on it. Each new notebook is deleted afterwards (its kernel shut down).
// (Supersedes bench/execution.ts, whose direct kernel the sandboxed gateway no longer starts.)
// Run: npm run bench -- --only execution
import type { Kernel } from '@jupyterlab/services';
import { cellToJSON, findCell } from '../common/notebook/model';
import { fetchAsAdmin } from '../tests/support/auth';
import { connectClient, type YClient } from '../tests/support/yclient';
import { startApp, type AppHandle } from './app-in-process';
import { startBareKernel } from './bare-kernel';
import { ms, quietly, ratio, sleep, summarize, table, type Summary } from './stats';

export interface ExecutionResult {
  roundTrip: { direct: Summary; app: Summary };
  firstRun: { direct: Summary; app: Summary };
}

/** POST run (wait: false) and resolve when `watcher` sees the cell idle with a new count. */
async function runSeen(app: AppHandle, watcher: YClient, nbId: string, cellId: string, source: string, timeoutMs = 60_000): Promise<number> {
  const before = (() => {
    const c = findCell(watcher.doc, cellId);
    return c ? (cellToJSON(c).execution_count ?? 0) : 0;
  })();
  const t0 = performance.now();
  const seen = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('run not seen in time')), timeoutMs);
    const check = () => {
      const y = findCell(watcher.doc, cellId);
      if (!y) return;
      const c = cellToJSON(y);
      if ((c.execution_count ?? 0) > before && c.execution_state?.state === 'idle') {
        watcher.doc.off('update', check);
        clearTimeout(timer);
        resolve(performance.now() - t0);
      }
    };
    watcher.doc.on('update', check);
  });
  const res = await app.post(`/notebooks/${nbId}/cells/${cellId}/run`, { source, wait: false });
  if (res.status !== 202) throw new Error(`run failed: ${res.status} ${JSON.stringify(res.body)}`);
  return seen;
}

export async function benchExecutionRuns(opts: { runs: number; firstRuns: number }, log: (s: string) => void = () => undefined): Promise<ExecutionResult> {
  return quietly(async () => {
    const app = await startApp();
    const settings = (await app.server.execution.kernels).serverSettings;
    const kernels: Kernel.IKernelConnection[] = [];
    try {
      // round trip
      const bare = await startBareKernel(settings, app.workRoot, 'bench-bare-rt');
      kernels.push(bare);
      const nb = await app.notebook('round trip', ['x=1']);
      const watcher = connectClient(app.wsUrl, nb.id);
      await watcher.synced;
      const direct = async () => {
        const t0 = performance.now();
        await bare.requestExecute({ code: 'x=1', store_history: true }).done;
        return performance.now() - t0;
      };
      for (let i = 0; i < 10; i++) {
        await direct();
        await runSeen(app, watcher, nb.id, nb.cellIds[0], 'x=1');
      }
      // the notebook's first run took the spare kernel; the pool starts another (a kernel start
      // and its completer warm-up, seconds of CPU here): measure the steady state, after it
      await (await app.server.execution.kernels).sparesSettled();
      await sleep(3000);
      const d: number[] = [];
      const a: number[] = [];
      for (let i = 0; i < opts.runs; i++) {
        d.push(await direct());
        a.push(await runSeen(app, watcher, nb.id, nb.cellIds[0], 'x=1'));
      }
      watcher.destroy();
      log(`  round trip: app ${ms(summarize(a).median)} direct ${ms(summarize(d).median)}`);

      // first run in a brand-new notebook
      const fd: number[] = [];
      const fa: number[] = [];
      for (let i = 0; i < opts.firstRuns; i++) {
        let t0 = performance.now();
        const k = await startBareKernel(settings, app.workRoot, `bench-bare-first-${i}`);
        await k.requestExecute({ code: 'x=1' }).done;
        fd.push(performance.now() - t0);
        await k.shutdown();
        k.dispose();

        const fresh = await app.notebook(`first run ${i}`, ['x=1']);
        const w = connectClient(app.wsUrl, fresh.id);
        await w.synced;
        fa.push(await runSeen(app, w, fresh.id, fresh.cellIds[0], 'x=1'));
        w.destroy();
        await fetchAsAdmin(`${app.server.url}/api/notebooks/${fresh.id}`, { method: 'DELETE' });
        log(`  first run ${i + 1}: app ${ms(fa[i], 0)} bare ${ms(fd[i], 0)}`);
      }
      return { roundTrip: { direct: summarize(d), app: summarize(a) }, firstRun: { direct: summarize(fd), app: summarize(fa) } };
    } finally {
      for (const k of kernels) {
        await k.shutdown().catch(() => undefined);
        k.dispose();
      }
      await app.close();
    }
  });
}

export function executionRunsTable(r: ExecutionResult): string {
  const row = (name: string, s: Summary) => [name, s.n, ms(s.median), ms(s.p95), ms(s.p99), ms(s.mean)];
  return [
    table(
      ['path', 'runs', 'median', 'p95', 'p99', 'mean'],
      [
        row('direct `@jupyterlab/services` execute of `x=1`', r.roundTrip.direct),
        row('app: HTTP run → queue → kernel → document → second Yjs client sees it idle', r.roundTrip.app),
        ['ratio app / direct', '', ratio(r.roundTrip.app.median, r.roundTrip.direct.median), ratio(r.roundTrip.app.p95, r.roundTrip.direct.p95), ratio(r.roundTrip.app.p99, r.roundTrip.direct.p99), ''],
      ],
    ),
    '',
    table(
      ['first run in a new notebook (kernel start included)', 'runs', 'median', 'p95', 'max'],
      [
        ['bare: start a kernel on the gateway, execute `x=1`', r.firstRun.direct.n, ms(r.firstRun.direct.median, 0), ms(r.firstRun.direct.p95, 0), ms(r.firstRun.direct.max, 0)],
        ['app: new notebook, run `x=1`, second client sees it idle', r.firstRun.app.n, ms(r.firstRun.app.median, 0), ms(r.firstRun.app.p95, 0), ms(r.firstRun.app.max, 0)],
        ['ratio app / bare', '', ratio(r.firstRun.app.median, r.firstRun.direct.median), ratio(r.firstRun.app.p95, r.firstRun.direct.p95), ''],
      ],
    ),
  ].join('\n');
}

if (process.argv[1]?.endsWith('execution-runs.ts')) {
  console.log(executionRunsTable(await benchExecutionRuns({ runs: Number(process.argv[2] ?? 200), firstRuns: Number(process.argv[3] ?? 10) }, console.log)));
  process.exit(0);
}
