// The agent loop end to end: the scripted OpenAI-compatible server (tests/support/fake-openai.ts)
// stands in for the model; everything else is real — server, sync, Kernel Gateway, ipykernel.
import { beforeAll, describe, expect, it } from 'vitest';
import { cellToJSON, findCell, insertCell } from '../../common/notebook/model';
import { AI_CONTEXT_KEY } from '../../common/notebook/types';
import { readEnv } from '../../server/http/env';
import { startServer, type RunningServer } from '../../server/http/server';
import type { FakeOpenAI } from '../support/fake-openai';
import { createNotebook, tempDir } from '../support/server';
import { connectClient, waitFor } from '../support/yclient';
import { aiOf, cellOf, outText, useAiServer, userText } from '../support/ai-server';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../support/auth';
import { scaled } from '../support/timing';

const ctx = useAiServer('fake-coder');
let server: RunningServer;
let fake: FakeOpenAI;
beforeAll(() => {
  ({ server, fake } = ctx());
});
const setup = (sources?: string[]) => ctx().setup(sources);
const post = (path: string, body: unknown) => ctx().post(path, body);
const generate = (id: string, cellId: string, prompt: string, wait = true) => ctx().generate(id, cellId, prompt, wait);
const cell = cellOf;
const ai = aiOf;

describe('AI cells', () => {
  it('a prompt becomes code via a tool call, runs, and gets a short answer; provenance is recorded', async () => {
    const { id, b, ids } = await setup();
    fake.script([
      { toolCall: { name: 'run_python', arguments: { code: 'total = sum(range(10))\nprint(total)' } } },
      { content: 'The sum of 0 to 9 is 45.' },
    ]);
    const r = await generate(id, ids[0], 'add the numbers 0 to 9');
    expect(r.status).toBe(200);
    const c = cell(b, ids[0]);
    expect(c.source).toBe('total = sum(range(10))\nprint(total)');
    expect(outText(c)).toBe('45\n');
    expect(c.prompt).toBe('add the numbers 0 to 9');
    const info = ai(b, ids[0]);
    expect(info).toMatchObject({ status: 'done', model: 'fake-coder', answer: 'The sum of 0 to 9 is 45.', by: { name: 'Grace' }, generation: 1 });
    expect(info.endpoint).toBe(new URL(fake.url).host);
    expect(info.attempts).toHaveLength(1);
    expect(info.attempts[0]).toMatchObject({ outcome: 'ok', code: c.source });
    // the model saw the output of its code
    expect(userText(fake.requests[1])).toContain('45');
    // what the model saw is kept, and the key is nowhere in the document
    expect(String(findCell(b.doc, ids[0])!.get(AI_CONTEXT_KEY))).toContain('add the numbers 0 to 9');
    expect(JSON.stringify(b.doc.toJSON())).not.toContain('sk-test-never-shown');
  });

  it('an error goes back to the model with its traceback, and the fixed code runs', async () => {
    const { id, b, ids } = await setup();
    fake.script([
      { toolCall: { name: 'run_python', arguments: { code: 'print(undefined_thing)' } } },
      { toolCall: { name: 'run_python', arguments: { code: 'print("fixed")' } } },
      { content: 'It prints "fixed".' },
    ]);
    await generate(id, ids[0], 'print something');
    expect(userText(fake.requests[1])).toContain("NameError: name 'undefined_thing' is not defined");
    const c = cell(b, ids[0]);
    expect(c.source).toBe('print("fixed")');
    expect(outText(c)).toBe('fixed\n');
    const info = ai(b, ids[0]);
    expect(info.status).toBe('done');
    expect(info.attempts.map((a) => a.outcome)).toEqual(['error', 'ok']);
    expect(info.attempts[0].error).toContain('NameError');
  });

  it('plain replies with a fenced block work too (local models)', async () => {
    const { id, b, ids } = await setup();
    fake.script([{ content: 'Here you go:\n```python\nprint(6 * 7)\n```\n' }, { content: 'The answer is 42.' }]);
    await generate(id, ids[0], 'six times seven');
    expect(outText(cell(b, ids[0]))).toBe('42\n');
    expect(ai(b, ids[0]).answer).toBe('The answer is 42.');
  });

  it('spends its attempt budget and then says it failed', async () => {
    const { id, b, ids } = await setup();
    fake.script([1, 2, 3].map(() => ({ toolCall: { name: 'run_python', arguments: { code: '1/0' } } })));
    await generate(id, ids[0], 'divide');
    const info = ai(b, ids[0]);
    expect(info.status).toBe('failed');
    expect(info.attempts).toHaveLength(3);
    expect(info.detail).toContain('3 attempts');
    expect(info.detail).toContain('ZeroDivisionError');
    expect(fake.requests).toHaveLength(3);
  });

  it('a second client sees the code arrive while it streams, and Stop stops it', async () => {
    const { id, b, ids } = await setup();
    // far more code than arrives before Stop (2 000 pieces, 40 ms apart: 80 s), so the test waits
    // for the states it asserts, never for a time or a length, and a busy machine only slows it
    const code = Array.from({ length: 2000 }, (_, i) => `x${i} = ${i}`).join('\n');
    fake.script([{ content: '```python\n' + code + '\n```', chunkSize: 6, delayMs: 40 }]);
    const seen = new Set<string>();
    const partials = () => [...seen].filter((s) => s.length > 0 && s.length < code.length);
    const watch = () => seen.add(cell(b, ids[0]).source);
    b.doc.on('update', watch);
    const started = await generate(id, ids[0], 'define variables', false);
    expect(started.status).toBe(202);
    // four distinct partial sources seen by the second client while the model is still writing
    await waitFor(() => partials().length > 3, { what: 'four partial states of the code', timeoutMs: scaled(30_000) });
    await waitFor(() => ai(b, ids[0]).status === 'generating', { what: 'generating' });
    const stop = await post(`/notebooks/${id}/cells/${ids[0]}/stop`, {});
    expect(stop.body.stopped).toBe(true);
    b.doc.off('update', watch);
    await waitFor(() => ai(b, ids[0]).status === 'stopped', { what: 'stopped', timeoutMs: scaled(30_000) });
    expect(partials().length).toBeGreaterThan(3);
    // it stopped before the whole code arrived, and nothing ran
    expect(cell(b, ids[0]).source.length).toBeLessThan(code.length);
    expect(cell(b, ids[0]).outputs).toEqual([]);
  });

  it('provider 500 and 429 are retried; a 401 fails with a clear message and no retry', async () => {
    const { id, b, ids } = await setup(['', '']);
    fake.script([
      { status: 500 },
      { status: 429, headers: { 'retry-after': '0' } },
      { toolCall: { name: 'run_python', arguments: { code: 'print("ok")' } } },
      { content: 'Done.' },
    ]);
    await generate(id, ids[0], 'say ok');
    expect(ai(b, ids[0]).status).toBe('done');
    expect(fake.requests).toHaveLength(4);

    fake.reset();
    fake.script([{ status: 401 }]);
    await generate(id, ids[1], 'say ok');
    const info = ai(b, ids[1]);
    expect(info.status).toBe('failed');
    expect(info.detail).toMatch(/401/);
    expect(info.detail).toMatch(/OPENAI_API_KEY/);
    expect(fake.requests).toHaveLength(1);
  });

  it('a stream cut mid-way is a clear failure, not a hung spinner', async () => {
    const { id, b, ids } = await setup();
    fake.script([{ cutAfterChars: 20, content: '```python\nprint("this will be cut")\n```' }]);
    await generate(id, ids[0], 'cut');
    const info = ai(b, ids[0]);
    expect(info.status).toBe('failed');
    expect(info.detail?.toLowerCase()).toMatch(/cut|ended|interrupted/);
  });

  it('after a CSV is loaded into a DataFrame, the context holds its columns and the file', async () => {
    const { id, b, ids } = await setup([
      'import pandas as pd\npd.DataFrame({"month": ["2024-01", "2024-02"], "revenue": [1200.5, 980.0], "units": [12, 9]}).to_csv("sales.csv", index=False)\nsales = pd.read_csv("sales.csv")',
      '',
    ]);
    const run = await post(`/notebooks/${id}/cells/${ids[0]}/run`, {});
    expect(run.body.status).toBe('ok');
    fake.script([{ toolCall: { name: 'run_python', arguments: { code: 'sales["revenue"].sum()' } } }, { content: 'Total revenue is 2180.5.' }]);
    await generate(id, ids[1], 'total revenue');
    const context = userText(fake.requests[0]);
    expect(context).toMatch(/sales: pandas(\.core\.frame)?\.DataFrame shape \(2, 3\); columns: month \((object|str)\), revenue \(float64\), units \(int64\)/);
    expect(context).toContain('sales.csv');
    expect(context).toContain('pd.read_csv("sales.csv")');
    expect(outText(cell(b, ids[1]))).toBe('np.float64(2180.5)');
  });

  it('two generations in two cells at once both finish', async () => {
    const { id, b, ids } = await setup(['', '']);
    fake.respond((body) => {
      // the request itself: the context also shows the other cell's request ("say alpha")
      const last = JSON.stringify(body.messages[body.messages.length - 1]).split('## Request').pop()!;
      const tag = last.includes('alpha') ? 'alpha' : 'beta';
      if (body.messages.length > 2) return { content: `Printed ${tag}.` };
      return { toolCall: { name: 'run_python', arguments: { code: `print("${tag}")` } }, delayMs: 20 };
    });
    const [r1, r2] = await Promise.all([generate(id, ids[0], 'say alpha'), generate(id, ids[1], 'say beta')]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect(outText(cell(b, ids[0]))).toBe('alpha\n');
    expect(outText(cell(b, ids[1]))).toBe('beta\n');
    expect(ai(b, ids[0]).status).toBe('done');
    expect(ai(b, ids[1]).status).toBe('done');
  });

  it('a request that needs several steps adds cells below, each run, and ends with an answer', async () => {
    const { id, a, b, ids } = await setup(['', 'print("untouched")']);
    fake.script([
      { toolCall: { name: 'run_python', arguments: { code: 'import pandas as pd\ndf = pd.DataFrame({"x": [1, 2, 3]})\nprint(len(df))' } } },
      { toolCall: { name: 'run_python', arguments: { code: 'print(df["x"].mean())' } } },
      { content: 'The frame has 3 rows and x averages 2.0.' },
    ]);
    await generate(id, ids[0], 'load a frame, then average x');
    const cells = a.doc.getArray('cells').toArray().map((m: any) => cellToJSON(m));
    const first = cells.findIndex((c) => c.id === ids[0]);
    const step = cells[first + 1];
    expect(cells[first + 2].id).toBe(ids[1]);
    expect(outText(cell(b, ids[0]))).toBe('3\n');
    expect(step.source).toBe('print(df["x"].mean())');
    expect(outText(step)).toBe('2.0\n');
    expect(step.ai).toMatchObject({ status: 'done', parentCellId: ids[0], answer: 'The frame has 3 rows and x averages 2.0.' });
    expect(ai(b, ids[0]).status).toBe('done');
    expect(outText(cell(b, ids[1]))).toBe('');
  });

  it('regenerate keeps the earlier attempts as history', async () => {
    const { id, b, ids } = await setup();
    fake.script([
      { toolCall: { name: 'run_python', arguments: { code: 'print(1)' } } },
      { content: 'One.' },
      { toolCall: { name: 'run_python', arguments: { code: 'print(2)' } } },
      { content: 'Two.' },
    ]);
    await generate(id, ids[0], 'print one');
    await generate(id, ids[0], 'print two');
    const info = ai(b, ids[0]);
    expect(info.generation).toBe(2);
    expect(info.attempts.map((a) => [a.generation, a.code])).toEqual([
      [1, 'print(1)'],
      [2, 'print(2)'],
    ]);
    expect(info.promptAtStart).toBe('print two');
  });

  it('a generation stops when its token budget is spent', async () => {
    const env = readEnv({ PORT: '0', DATA_DIR: tempDir(), NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    const small = await startServer({
      env,
      withUi: false,
      log: () => undefined,
      model: { apiKey: 'k', baseURL: fake.url, model: 'fake-coder', endpointName: 'fake' },
      aiMaxTokens: 40,
      createKernels: () => server.execution.kernels,
    });
    const c = connectClient(small.url.replace(/^http/, 'ws') + '/sync', await createNotebook(small.url));
    try {
      await c.synced;
      const cellId = insertCell(c.doc, 0, {});
      // the generate route needs the cell on the server: wait for it there, not for a time
      const room = (await small.rooms.get(c.provider.roomname))!;
      await waitFor(() => findCell(room.doc, cellId), { what: 'the cell on the server' });
      // each reply reports 10 prompt tokens plus its length: the second turn already goes past 40,
      // so a third is never asked for
      fake.script([1, 2].map(() => ({ toolCall: { name: 'run_python', arguments: { code: 'raise ValueError("nope " + "x" * 40)' } } })));
      const res = await fetchAsAdmin(`${small.url}/api/notebooks/${c.provider.roomname}/cells/${cellId}/generate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'fail', wait: true }),
      });
      const body = (await res.json()) as any;
      expect(body.ai.status).toBe('failed');
      expect(body.ai.detail).toMatch(/Token budget spent \(\d+ of 40 tokens\)/);
      expect(fake.requests).toHaveLength(2);
    } finally {
      c.destroy();
      await small.close();
    }
  });

  it('without a model the generate route says how to configure one', async () => {
    const env = readEnv({ PORT: '0', DATA_DIR: tempDir(), NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    const bare = await startServer({ env, withUi: false, log: () => undefined, model: null });
    try {
      const nb = await createNotebook(bare.url);
      const room = await bare.rooms.get(nb);
      const cellId = cellToJSON(room!.doc.getArray('cells').get(0) as any).id;
      const res = await fetchAsAdmin(`${bare.url}/api/notebooks/${nb}/cells/${cellId}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"x"}' });
      expect(res.status).toBe(503);
      const body = (await res.json()) as any;
      expect(body.error.code).toBe('NOT_CONFIGURED');
      expect(body.error.message).toContain('OPENAI_API_KEY');
    } finally {
      await bare.close();
    }
  });
});
