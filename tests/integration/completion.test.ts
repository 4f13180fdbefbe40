// Completion and help from the real kernel (Kernel Gateway, ipykernel) through the API, beside
// the run queue: what a person typing in a cell gets, and that a running cell is never disturbed.
import { beforeAll, describe, expect, it } from 'vitest';
import { cellToJSON, findCell, insertCell } from '../../common/notebook/model';
import type { CellJSON } from '../../common/notebook/types';
import type { RunningServer } from '../../server/http/server';
import { COMPLETE_TIMEOUT_MS } from '../../server/kernel';
import { createNotebook, useAppServer } from '../support/server';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { fetchAsAdmin } from '../support/auth';
import { scaled } from '../support/timing';

const app = useAppServer();
let server: RunningServer;
let wsUrl: string;
let clients: YClient[];
beforeAll(() => {
  ({ server, wsUrl, clients } = app());
});

async function notebookWithCells(sources: string[]) {
  const id = await createNotebook(server.url);
  const b = connectClient(wsUrl, id);
  clients.push(b);
  await b.synced;
  const ids = sources.map((src, i) => insertCell(b.doc, i, { source: src }));
  return { id, b, ids };
}

async function post(path: string, body: unknown) {
  const res = await fetchAsAdmin(`${server.url}/api${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}
const runOk = async (id: string, cellId: string, source: string) => {
  for (let i = 0; i < 50; i++) {
    const r = await post(`/notebooks/${id}/cells/${cellId}/run`, { by: { name: 'Ada' }, source });
    if (r.status !== 404) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('cell never reached the server');
};
const complete = (id: string, code: string, cursor_pos = code.length) => post(`/notebooks/${id}/complete`, { code, cursor_pos });
const inspect = (id: string, code: string, cursor_pos = code.length, detail_level?: 0 | 1) =>
  post(`/notebooks/${id}/inspect`, { code, cursor_pos, ...(detail_level !== undefined ? { detail_level } : {}) });
const cell = (c: YClient, cellId: string): CellJSON => cellToJSON(findCell(c.doc, cellId)!);
const text = (c: CellJSON) =>
  (c.outputs ?? []).map((o: any) => (o.output_type === 'stream' ? o.text : o.output_type === 'error' ? `${o.ename}: ${o.evalue}` : String(o.data?.['text/plain'] ?? ''))).join('');
// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

describe('completion and help from the kernel', () => {
  it('before any kernel runs, both answer empty at once and start none', async () => {
    const { id } = await notebookWithCells([]);
    const t0 = Date.now();
    const c = await complete(id, 'import o');
    const h = await inspect(id, 'len');
    expect(Date.now() - t0).toBeLessThan(scaled(1000));
    expect(c).toEqual({ status: 200, body: { matches: [], cursor_start: 8, cursor_end: 8 } });
    expect(h).toEqual({ status: 200, body: { found: false, data: {} } });
    expect((await server.execution.runner(id)).kernel.isRunning).toBe(false);
  });

  it('completes DataFrame columns after "df." and gives the docstring of len', async () => {
    const { id, ids } = await notebookWithCells(['']);
    const r = await runOk(id, ids[0], "import pandas as pd; df = pd.DataFrame({'revenue': [1], 'region': ['n']})");
    expect(r.body.status).toBe('ok');
    const code = 'x = 1\ndf.re';
    // the kernel warms its completer at start, so even the first completion answers in time
    const c = await complete(id, code);
    expect(c.status).toBe(200);
    const completed = c.body.matches.map((m: string) => code.slice(0, c.body.cursor_start) + m + code.slice(c.body.cursor_end));
    expect(completed).toContain('x = 1\ndf.revenue');
    expect(completed).toContain('x = 1\ndf.region');

    const h = await inspect(id, 'len(');
    expect(h.status).toBe(200);
    expect(h.body.found).toBe(true);
    expect(plain(h.body.data['text/plain'])).toMatch(/Return the number of items in a container/);
    expect((await inspect(id, 'no_such_name_here')).body).toEqual({ found: false, data: {} });
  });

  it('cursor offsets are JS string offsets, also after characters outside the BMP', async () => {
    const { id, ids } = await notebookWithCells(['']);
    await runOk(id, ids[0], 'value_one = 1');
    const code = 's = "😀"; value_o';
    const c = await complete(id, code);
    expect(c.body.cursor_end).toBe(code.length);
    expect(code.slice(c.body.cursor_start, c.body.cursor_end)).toBe('value_o');
    expect(c.body.matches).toContain('value_one');
  });

  it('while a cell runs, a completion gives up empty within its deadline and the run is unaffected', async () => {
    const { id, b, ids } = await notebookWithCells(['']);
    await runOk(id, ids[0], 'import time\nnumber_of_things = 3');
    const long = runOk(id, ids[0], 'time.sleep(5)\nprint("slept", number_of_things)');
    await waitFor(() => cell(b, ids[0]).execution_state?.state === 'running', { what: 'the cell running' });
    const t0 = Date.now();
    const c = await complete(id, 'number_of_th');
    const took = Date.now() - t0;
    expect(c).toEqual({ status: 200, body: { matches: [], cursor_start: 12, cursor_end: 12 } });
    expect(took).toBeGreaterThanOrEqual(COMPLETE_TIMEOUT_MS - 100);
    expect(took).toBeLessThan(COMPLETE_TIMEOUT_MS + scaled(1500));
    const h = await inspect(id, 'len');
    expect(h.body).toEqual({ found: false, data: {} });
    const r = await long;
    expect(r.body).toMatchObject({ status: 'ok' });
    expect(text(cell(b, ids[0]))).toBe('slept 3\n');
    // and afterwards completion works again
    const after = await complete(id, 'number_of_th');
    expect(after.body.matches).toContain('number_of_things');
  });

  it('`obj?` runs as in Jupyter: the help is the output, not an error', async () => {
    const { id, b, ids } = await notebookWithCells(['']);
    const r = await runOk(id, ids[0], 'len?');
    expect(r.body.status).toBe('ok');
    const outs = cell(b, ids[0]).outputs ?? [];
    expect(outs.some((o) => o.output_type === 'error')).toBe(false);
    expect(plain(text(cell(b, ids[0])))).toMatch(/Signature:\s*len\(obj, \/\)[\s\S]*Return the number of items/);
  });

  it('bad bodies get 400 naming what is wrong', async () => {
    const { id } = await notebookWithCells([]);
    const past = await post(`/notebooks/${id}/complete`, { code: 'ab', cursor_pos: 3 });
    expect(past.status).toBe(400);
    expect(past.body.error.message).toMatch(/cursor_pos/);
    expect((await post(`/notebooks/${id}/complete`, { code: 'ab' })).status).toBe(400);
    expect((await post(`/notebooks/${id}/inspect`, { code: 'ab', cursor_pos: 1, detail_level: 2 })).status).toBe(400);
    expect((await post(`/notebooks/${id}/complete`, { code: 'x'.repeat(1_000_001), cursor_pos: 0 })).status).toBe(400);
    expect((await post(`/notebooks/nope/complete`, { code: 'x', cursor_pos: 0 })).status).toBe(404);
  });

  it('needs an editor: a viewer gets 403, an editor an answer, no token 401', async () => {
    const { id } = await notebookWithCells([]);
    const link = async (role: string) => (await post(`/notebooks/${id}/links`, { role })).body.token as string;
    const [viewer, editor] = [await link('viewer'), await link('editor')];
    const as = (token: string | null, route: string) =>
      fetch(`${server.url}/api/notebooks/${id}/${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ code: 'le', cursor_pos: 2 }),
      }).then((r) => r.status);
    for (const route of ['complete', 'inspect']) {
      expect(await as(viewer, route)).toBe(403);
      expect(await as(editor, route)).toBe(200);
      expect(await as(null, route)).toBe(401);
    }
  });
});
