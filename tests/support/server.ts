// Starts the real server on port 0 with a temporary DATA_DIR, for integration tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { readEnv } from '../../server/http/env';
import { startServer, type Logger, type RunningServer } from '../../server/http/server';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from './auth';
import type { YClient } from './yclient';
import { UI_MS } from './timing';

export interface TestServer extends RunningServer {
  dataDir: string;
  wsUrl: string;
  logs: string[];
}

export function tempDir(prefix = 'ynb-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** `env`: more variables (e.g. DATABASE_URL), or ADMIN_TOKEN: '' to let the server make its own. */
export async function startTestServer(opts: { dataDir?: string; unloadAfterMs?: number; storage?: import('../../server/storage/types').Storage; env?: Record<string, string> } = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDir();
  const logs: string[] = [];
  const log: Logger = (level, msg) => logs.push(`${level}: ${msg}`);
  const env = readEnv({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...opts.env });
  const server = await startServer({ env, withUi: false, log, unloadAfterMs: opts.unloadAfterMs, storage: opts.storage });
  return { ...server, dataDir, wsUrl: server.url.replace(/^http/, 'ws') + '/sync', logs };
}

export async function createNotebook(baseUrl: string, title?: string): Promise<string> {
  const res = await fetchAsAdmin(`${baseUrl}/api/notebooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(title ? { title } : {}),
  });
  if (res.status !== 201) throw new Error(`create notebook: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/**
 * POSTs JSON to a cell route of a cell a Yjs client has just inserted: the route answers 404 until
 * the insert has reached the server, so this retries 404s for a few seconds.
 */
export async function postWhenCellArrives(url: string, body: unknown = {}, timeoutMs = UI_MS): Promise<{ status: number; body: any }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetchAsAdmin(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status !== 404 || Date.now() > deadline) return { status: res.status, body: await res.json() };
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface AppServerFixture {
  server: RunningServer;
  wsUrl: string;
  /** Yjs clients a test opened; destroyed after the file */
  clients: YClient[];
}

/**
 * The real server with its embedded gateway started, shared by the tests of a file and closed
 * after them. Call at the top level; use the getter inside hooks and tests.
 */
export function useAppServer(): () => AppServerFixture {
  let current: AppServerFixture | null = null;
  beforeAll(async () => {
    const env = readEnv({ PORT: '0', DATA_DIR: tempDir(), NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    const server = await startServer({ env, withUi: false, log: () => undefined, warmKernels: true });
    await server.execution.kernels;
    current = { server, wsUrl: server.url.replace(/^http/, 'ws') + '/sync', clients: [] };
  }, 120_000);
  afterAll(async () => {
    for (const c of current?.clients ?? []) c.destroy();
    await current?.server.close();
    current = null;
  });
  return () => {
    if (!current) throw new Error('useAppServer: not started (call it at the top level of the test file)');
    return current;
  };
}
