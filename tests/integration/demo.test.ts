// The offline demo (`npm run demo`) drives the real app through the whole AI-cell flow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aiInfo, cellToJSON, findCell, insertCell } from '../../common/notebook/model';
import { readEnv } from '../../server/http/env';
import { startServer, type RunningServer } from '../../server/http/server';
import { DEMO_MODEL_NAME, demoReply } from '../../demo/offline-model';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { createNotebook, postWhenCellArrives, tempDir } from '../support/server';
import { connectClient, type YClient } from '../support/yclient';
import { TEST_ADMIN_TOKEN } from '../support/auth';
import { scaled } from '../support/timing';

let server: RunningServer;
let model: FakeOpenAI;
let client: YClient;
let notebookId: string;

beforeAll(async () => {
  model = await startFakeOpenAI({ model: DEMO_MODEL_NAME });
  model.respond(demoReply);
  server = await startServer({
    env: readEnv({ PORT: '0', DATA_DIR: tempDir(), NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN }),
    withUi: false,
    log: () => undefined,
    model: { apiKey: 'offline-demo', baseURL: model.url, model: DEMO_MODEL_NAME, endpointName: 'offline demo' },
  });
  notebookId = await createNotebook(server.url);
  client = connectClient(server.url.replace(/^http/, 'ws') + '/sync', notebookId);
  await client.synced;
});
afterAll(async () => {
  client?.destroy();
  await server?.close();
  await model?.close();
});

async function ask(prompt: string) {
  const cellId = insertCell(client.doc, client.doc.getArray('cells').length, {});
  await postWhenCellArrives(`${server.url}/api/notebooks/${notebookId}/cells/${cellId}/generate`, { prompt, wait: true, by: { name: 'Demo user' } }, scaled(60_000));
  return { cell: cellToJSON(findCell(client.doc, cellId)!), ai: aiInfo(findCell(client.doc, cellId)!)! };
}

describe('offline demo', () => {
  it('makes sample data, plots it, and shows the fix loop, labelled as a demo', async () => {
    const data = await ask('make sample sales data');
    expect(data.ai.status).toBe('done');
    expect(data.ai.model).toBe(DEMO_MODEL_NAME);
    expect((data.cell.outputs![0] as any).data['text/html']).toContain('revenue');
    expect(data.ai.answer).toContain('Offline demo');

    const plot = await ask('plot it');
    expect(plot.ai.status).toBe('done');
    expect(plot.cell.source).toContain('sales[["revenue", "units"]].plot');
    expect(plot.cell.outputs!.some((o: any) => o.data?.['image/png'])).toBe(true);

    const fix = await ask('show the fix loop');
    expect(fix.ai.attempts.map((a) => a.outcome)).toEqual(['error', 'ok']);
    expect(fix.ai.attempts[0].error).toContain("name 'valuse' is not defined");
    expect((fix.cell.outputs![0] as any).text).toBe('mean: 3.875\n');
  });
});
