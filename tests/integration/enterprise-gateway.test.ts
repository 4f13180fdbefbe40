// The app with KERNEL_GATEWAY_URL pointing at a real Jupyter Enterprise Gateway (local process
// proxy), unchanged: runs, interrupt and restart, the files API through the kernel, and an AI cell
// whose code runs there. EG's kernel start options come from the settings (KERNEL_SPEC,
// KERNEL_USERNAME, KERNEL_WORKDIR_ROOT, KERNEL_START_ENV), and no secret of the app reaches it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellToJSON, findCell, insertCell } from '../../common/notebook/model';
import type { CellJSON } from '../../common/notebook/types';
import { readEnv } from '../../server/http/env';
import { startServer, type RunningServer } from '../../server/http/server';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../support/auth';
import { EG_KERNEL_SPEC, startEnterpriseGateway, type EnterpriseGateway } from '../support/enterprise-gateway';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { scriptPerTest } from '../support/script-per-test';
import { createNotebook, tempDir } from '../support/server';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { scaled } from '../support/timing';

const MODEL_KEY = 'sk-test-eg-never-in-a-kernel';
let eg: EnterpriseGateway;
let fake: FakeOpenAI;
let server: RunningServer;
let work: string;
let workDirRoot: string;
const clients: YClient[] = [];

beforeAll(async () => {
  eg = await startEnterpriseGateway();
  fake = await startFakeOpenAI({ model: 'fake-coder' });
  work = tempDir('ynb-eg-');
  workDirRoot = path.join(eg.root, 'work');
  const env = readEnv({
    PORT: '0',
    DATA_DIR: path.join(work, 'data'),
    NODE_ENV: 'test',
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    KERNEL_GATEWAY_URL: eg.url,
    KERNEL_GATEWAY_TOKEN: eg.token,
    KERNEL_SPEC: EG_KERNEL_SPEC,
    KERNEL_USERNAME: 'alice',
    KERNEL_WORKDIR_ROOT: workDirRoot,
    KERNEL_START_ENV: JSON.stringify({ KERNEL_LAUNCH_TIMEOUT: '60' }),
  });
  server = await startServer({
    env,
    withUi: false,
    log: () => undefined,
    model: { apiKey: MODEL_KEY, baseURL: fake.url, model: 'fake-coder', endpointName: new URL(fake.url).host },
    aiTurnOptions: { retryBaseDelayMs: 10, retryMaxDelayMs: 50, idleTimeoutMs: 5000 },
  });
}, 180_000);
scriptPerTest(() => fake);
afterAll(async () => {
  for (const c of clients) c.destroy();
  await server?.close();
  await fake?.close();
  await eg?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

async function notebookWithCells(sources: string[]) {
  const id = await createNotebook(server.url);
  const b = connectClient(server.url.replace(/^http/, 'ws') + '/sync', id);
  clients.push(b);
  await b.synced;
  const ids = sources.map((source, i) => insertCell(b.doc, i, { source }));
  return { id, b, ids };
}

async function post(url: string, body: Record<string, unknown> = {}) {
  // the cell may still be on its way to the server's copy of the document: retry a 404 briefly
  const deadline = Date.now() + 5000;
  for (;;) {
    const res = await fetchAsAdmin(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: { name: 'Ada' }, ...body }) });
    if (res.status !== 404 || Date.now() > deadline) return { status: res.status, body: (await res.json()) as Record<string, any> };
    await new Promise((r) => setTimeout(r, 50));
  }
}
const run = (id: string, cellId: string, body: Record<string, unknown> = {}) => post(`${server.url}/api/notebooks/${id}/cells/${cellId}/run`, body);
const cell = (c: YClient, cellId: string): CellJSON => cellToJSON(findCell(c.doc, cellId)!);
const text = (c: CellJSON) =>
  (c.outputs ?? [])
    .map((o) => (o.output_type === 'stream' ? o.text : o.output_type === 'error' ? `${o.ename}: ${o.evalue}` : String((o as any).data?.['text/plain'] ?? '')))
    .join('');

describe('kernels on Jupyter Enterprise Gateway', () => {
  it('runs cells with the configured kernelspec, user and working directory, and no secret of the app', async () => {
    const { id, b, ids } = await notebookWithCells([
      'x = 21',
      'print(x * 2)',
      'import os, json, sys\nprint(json.dumps({"cwd": os.getcwd(), "user": os.environ.get("KERNEL_USERNAME"), "env": dict(os.environ), "python": sys.executable}))',
    ]);
    expect((await run(id, ids[0])).body.status).toBe('ok');
    expect((await run(id, ids[1])).body.status).toBe('ok');
    expect(text(cell(b, ids[1]))).toBe('42\n');
    expect((await run(id, ids[2])).body.status).toBe('ok');
    const seen = JSON.parse(text(cell(b, ids[2])));
    expect(seen.cwd).toBe(path.join(workDirRoot, id));
    expect(seen.user).toBe('alice');
    expect(seen.python).toBe(path.resolve('kernel-gateway/.venv/bin/python'));
    const env = JSON.stringify(seen.env);
    for (const secret of [MODEL_KEY, eg.token, TEST_ADMIN_TOKEN]) expect(env).not.toContain(secret);
    // EG started the kernelspec named by KERNEL_SPEC (the only one it offers, not its default)
    const kernels = await (await fetch(`${eg.url}/api/kernels`, { headers: { Authorization: `token ${eg.token}` } })).json();
    expect(kernels.map((k: { name: string }) => k.name)).toContain(EG_KERNEL_SPEC);
  });

  it('interrupt stops a loop and restart clears the variables', async () => {
    const { id, b, ids } = await notebookWithCells(['print("looping", flush=True)\nwhile True: pass', 'y = 5', 'print(y)']);
    const loop = run(id, ids[0]);
    await waitFor(() => text(cell(b, ids[0])).includes('looping'), { what: 'the loop to start', timeoutMs: scaled(60_000) });
    expect((await post(`${server.url}/api/notebooks/${id}/interrupt`)).status).toBe(200);
    expect((await loop).body.status).toBe('aborted');
    await waitFor(() => text(cell(b, ids[0])).includes('KeyboardInterrupt'), { what: 'KeyboardInterrupt output' });
    await run(id, ids[1]);
    expect((await post(`${server.url}/api/notebooks/${id}/restart`)).status).toBe(200);
    const r = await run(id, ids[2]);
    expect(r.body.error?.ename).toBe('NameError');
  });

  it('files move through the kernel to the gateway side, and code reads and writes them', async () => {
    const { id, b, ids } = await notebookWithCells(["import pandas as pd\ndf = pd.read_csv('in/sales.csv')\ndf.groupby('region').revenue.sum().to_csv('by_region.csv')\nprint(len(df))"]);
    const csv = 'month,region,revenue\n2024-01,north,120\n2024-01,south,80\n2024-02,north,95\n';
    const put = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/files/in/sales.csv`, { method: 'PUT', body: csv });
    expect(put.status).toBe(201);
    expect(fs.readFileSync(path.join(workDirRoot, id, 'in', 'sales.csv'), 'utf8')).toBe(csv);
    expect((await run(id, ids[0])).body.status).toBe('ok');
    expect(text(cell(b, ids[0]))).toBe('3\n');
    const list = await (await fetchAsAdmin(`${server.url}/api/notebooks/${id}/files`)).json();
    expect(list.files.map((f: { path: string }) => f.path).sort()).toEqual(['by_region.csv', 'in/sales.csv']);
    const out = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/files/by_region.csv`);
    expect(await out.text()).toBe('region,revenue\nnorth,215\nsouth,80\n');
    expect((await fetchAsAdmin(`${server.url}/api/notebooks/${id}/files/in/sales.csv`, { method: 'DELETE' })).status).toBe(204);
    expect(fs.existsSync(path.join(workDirRoot, id, 'in', 'sales.csv'))).toBe(false);
  });

  it('an AI cell generates code that runs on the Enterprise Gateway kernel, and fixes an error there', async () => {
    const { id, b, ids } = await notebookWithCells(['']);
    fake.script([
      { toolCall: { name: 'run_python', arguments: { code: 'import numpy as np\nprint(np.arange(5).sum() + undefined_name)' } } },
      { toolCall: { name: 'run_python', arguments: { code: 'import numpy as np\nprint(np.arange(5).sum())' } } },
      { content: 'The sum of 0..4 is 10.' },
    ]);
    const r = await post(`${server.url}/api/notebooks/${id}/cells/${ids[0]}/generate`, { prompt: 'sum the numbers 0 to 4 with numpy', wait: true });
    expect(r.status).toBe(200);
    expect(r.body.ai.status).toBe('done');
    const c = cell(b, ids[0]);
    expect(c.source).toBe('import numpy as np\nprint(np.arange(5).sum())');
    expect(text(c)).toBe('10\n');
    // the model saw the NameError of the first attempt
    expect(JSON.stringify(fake.requests[1].messages)).toContain('NameError');
  });
});
