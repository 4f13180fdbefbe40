// Execution round trip, two ways, interleaved in one run so machine noise hits both alike:
//  - direct: @jupyterlab/services requestExecute of `1` on a kernel of the same gateway;
//  - app:    POST /api/notebooks/:id/cells/:cellId/run, until a second Yjs client sees the
//            cell's execute_result and execution_count (the path a collaborator experiences).
// Run: npm run bench -- --runs 200   (or npx tsx bench/execution.ts 200)
import { KernelManager } from '@jupyterlab/services';
import { findCell, insertCell, cellToJSON } from '../common/notebook/model';
import { readEnv } from '../server/http/env';
import { startServer } from '../server/http/server';
import { connectClient } from '../tests/support/yclient';
import { tempDir } from '../tests/support/server';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../tests/support/auth';

export interface Stats {
  runs: number;
  median: number;
  p95: number;
  mean: number;
}

export function stats(samples: number[]): Stats {
  const s = samples.slice().sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { runs: s.length, median: at(0.5), p95: at(0.95), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

export async function benchExecution(runs: number): Promise<{ direct: Stats; app: Stats }> {
  const quietDebug = console.debug;
  const quietLog = console.log;
  console.debug = () => undefined;
  const env = readEnv({ PORT: '0', DATA_DIR: tempDir('ynb-bench-'), NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  const server = await startServer({ env, withUi: false, warmKernels: true, log: () => undefined });
  try {
    const kernels = await server.execution.kernels;
    // direct: a kernel of our own on the same gateway
    const manager = new KernelManager({ serverSettings: kernels.serverSettings });
    await manager.ready;
    console.log = (...a: unknown[]) => (String(a[0]).startsWith('Starting WebSocket') ? undefined : quietLog(...a));
    const kernel = await manager.startNew({ name: 'python3' });
    const direct = async () => {
      const t0 = performance.now();
      await kernel.requestExecute({ code: '1', store_history: true }).done;
      return performance.now() - t0;
    };

    // app: a notebook, a second client watching
    const nb = await server.notebooks.create({ title: 'bench' });
    const wsUrl = server.url.replace(/^http/, 'ws') + '/sync';
    const writer = connectClient(wsUrl, nb.id);
    const watcher = connectClient(wsUrl, nb.id);
    await Promise.all([writer.synced, watcher.synced]);
    const cellId = insertCell(writer.doc, 0, { source: '1' });
    while (!findCell(watcher.doc, cellId)) await new Promise((r) => setTimeout(r, 5));
    const url = `${server.url}/api/notebooks/${nb.id}/cells/${cellId}/run`;
    const app = async () => {
      const before = cellToJSON(findCell(watcher.doc, cellId)!).execution_count ?? 0;
      const t0 = performance.now();
      const seen = new Promise<number>((resolve) => {
        const check = () => {
          const c = cellToJSON(findCell(watcher.doc, cellId)!);
          if ((c.execution_count ?? 0) > before && c.outputs?.length && c.execution_state?.state === 'idle') {
            watcher.doc.off('update', check);
            resolve(performance.now() - t0);
          }
        };
        watcher.doc.on('update', check);
      });
      const res = await fetchAsAdmin(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ source: '1', wait: false }) });
      if (res.status !== 202) throw new Error(`run failed: ${res.status}`);
      return seen;
    };

    for (let i = 0; i < 10; i++) {
      await direct();
      await app();
    }
    const d: number[] = [];
    const a: number[] = [];
    for (let i = 0; i < runs; i++) {
      d.push(await direct());
      a.push(await app());
    }
    writer.destroy();
    watcher.destroy();
    await kernel.shutdown();
    manager.dispose();
    return { direct: stats(d), app: stats(a) };
  } finally {
    await server.close();
    console.debug = quietDebug;
    console.log = quietLog;
  }
}

export function executionTable(r: { direct: Stats; app: Stats }): string {
  const f = (n: number) => `${n.toFixed(1)} ms`;
  return [
    '| path | runs | median | p95 | mean |',
    '|---|---|---|---|---|',
    `| direct \`@jupyterlab/services\` execute of \`1\` | ${r.direct.runs} | ${f(r.direct.median)} | ${f(r.direct.p95)} | ${f(r.direct.mean)} |`,
    `| app: HTTP run → queue → kernel → document → second Yjs client sees the result | ${r.app.runs} | ${f(r.app.median)} | ${f(r.app.p95)} | ${f(r.app.mean)} |`,
    `| ratio app / direct | | ${(r.app.median / r.direct.median).toFixed(2)}× | ${(r.app.p95 / r.direct.p95).toFixed(2)}× | |`,
  ].join('\n');
}

if (process.argv[1]?.endsWith('execution.ts')) {
  const runs = Number(process.argv[2] ?? 200);
  const r = await benchExecution(runs);
  console.log(executionTable(r));
  process.exit(0);
}
