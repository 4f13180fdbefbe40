// The app's server in this process (kernels on its embedded gateway), for the benchmarks that also
// drive a bare kernel of the same gateway.
import * as Y from 'yjs';
import { cellsOf, insertCell } from '../common/notebook/model';
import { readEnv } from '../server/http/env';
import { startServer, type RunningServer, type ServerOptions } from '../server/http/server';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../tests/support/auth';
import { tempDir } from '../tests/support/server';
import fs from 'node:fs';
import path from 'node:path';

export interface AppHandle {
  server: RunningServer;
  wsUrl: string;
  /** where the embedded gateway's kernels work (DATA_DIR/kernels) */
  workRoot: string;
  /** a new notebook whose cells are `sources` (server-side writes); its id and cell ids */
  notebook(title: string, sources: string[]): Promise<{ id: string; cellIds: string[]; doc: Y.Doc }>;
  post(path: string, body: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startApp(extra: Partial<ServerOptions> = {}): Promise<AppHandle> {
  const dataDir = tempDir('ynb-bench-app-');
  const env = readEnv({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...(process.env.KERNEL_SPARE_POOL ? { KERNEL_SPARE_POOL: process.env.KERNEL_SPARE_POOL } : {}) });
  const server = await startServer({ env, withUi: false, warmKernels: true, log: () => undefined, rateLimits: { runsPerMinute: 1e6, generationsPerMinute: 1e6 }, ...extra });
  await server.execution.kernels;
  const post = async (path: string, body: unknown) => {
    const res = await fetchAsAdmin(`${server.url}/api${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };
  return {
    server,
    workRoot: path.join(dataDir, 'kernels'),
    wsUrl: server.url.replace(/^http/, 'ws') + '/sync',
    async notebook(title, sources) {
      const nb = await server.notebooks.create({ title });
      const room = (await server.rooms.get(nb.id))!;
      const cells = cellsOf(room.doc);
      room.doc.transact(() => {
        if (cells.length) cells.delete(0, cells.length);
        for (const s of sources) insertCell(room.doc, cells.length, { source: s });
      }, 'server');
      return { id: nb.id, cellIds: cells.toArray().map((c) => String(c.get('id'))), doc: room.doc };
    },
    post,
    async close() {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
