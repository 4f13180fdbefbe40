// The app with its AI service on the scripted OpenAI-compatible server (the one stand-in), for the
// AI integration tests: one server per test file, two Yjs clients per notebook, and the small
// helpers those tests share.
import { afterAll, beforeAll } from 'vitest';
import { aiInfo, cellToJSON, findCell, insertCell } from '../../common/notebook/model';
import type { AiInfo, CellJSON } from '../../common/notebook/types';
import { readEnv } from '../../server/http/env';
import { startServer, type RunningServer } from '../../server/http/server';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from './auth';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai';
import { scriptPerTest } from './script-per-test';
import { createNotebook, tempDir } from './server';
import { connectClient, waitFor, type YClient } from './yclient';

export interface AiServer {
  server: RunningServer;
  fake: FakeOpenAI;
  /** a new notebook with these cells, seen by two clients (a writes, b watches) */
  setup(sources?: string[]): Promise<{ id: string; a: YClient; b: YClient; ids: string[] }>;
  post(path: string, body: unknown): Promise<{ status: number; body: any }>;
  generate(id: string, cellId: string, prompt: string, wait?: boolean): Promise<{ status: number; body: any }>;
}

/**
 * Starts the app against a scripted model for the tests of this file (closed after them); each
 * test's script is its own (scriptPerTest). Call at the top level; use the getter inside tests.
 */
export function useAiServer(model: string): () => AiServer {
  let current: AiServer | null = null;
  const clients: YClient[] = [];
  beforeAll(async () => {
    const fake = await startFakeOpenAI({ model });
    const env = readEnv({ PORT: '0', DATA_DIR: tempDir(), NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    const server = await startServer({
      env,
      withUi: false,
      log: () => undefined,
      warmKernels: true,
      model: { apiKey: 'sk-test-never-shown', baseURL: fake.url, model, endpointName: new URL(fake.url).host },
      aiTurnOptions: { retryBaseDelayMs: 10, retryMaxDelayMs: 50, idleTimeoutMs: 3000 },
    });
    await server.execution.kernels;
    const wsUrl = server.url.replace(/^http/, 'ws') + '/sync';
    const post = async (path: string, body: unknown) => {
      const res = await fetchAsAdmin(`${server.url}/api${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as any };
    };
    current = {
      server,
      fake,
      post,
      generate: (id, cellId, prompt, wait = true) => post(`/notebooks/${id}/cells/${cellId}/generate`, { prompt, by: { name: 'Grace' }, wait }),
      async setup(sources = ['']) {
        const id = await createNotebook(server.url);
        const a = connectClient(wsUrl, id);
        const b = connectClient(wsUrl, id);
        clients.push(a, b);
        await Promise.all([a.synced, b.synced]);
        const ids = sources.map((s, i) => insertCell(a.doc, i, { source: s }));
        await waitFor(() => ids.every((c) => findCell(b.doc, c)));
        return { id, a, b, ids };
      },
    };
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await current?.server.close();
    await current?.fake.close();
    current = null;
  });
  scriptPerTest(() => current?.fake);
  return () => {
    if (!current) throw new Error('useAiServer: not started (call it at the top level of the test file)');
    return current;
  };
}

export const cellOf = (c: YClient, id: string): CellJSON => cellToJSON(findCell(c.doc, id)!);
export const aiOf = (c: YClient, id: string): AiInfo => aiInfo(findCell(c.doc, id)!)!;
/** The outputs as a person reads them: stream text, error names, plain-text results. */
export const outText = (c: CellJSON) =>
  (c.outputs ?? []).map((o: any) => (o.output_type === 'stream' ? o.text : o.output_type === 'error' ? o.ename : (o.data?.['text/plain'] ?? ''))).join('');
/** What the model was sent, without the system prompt. */
export const userText = (req: any) => req.messages.filter((m: any) => m.role !== 'system').map((m: any) => (typeof m.content === 'string' ? m.content : '')).join('\n');
