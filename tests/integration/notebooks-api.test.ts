// The home page's actions through the API, against the real server and real Yjs clients: rename
// (seen live by everyone who has the notebook open, by the list and by the export; bad titles
// refused; editor and up), duplicate (the same cells and outputs, independent afterwards, stored
// in one step, the admin's) and delete.
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellsOf, cellSource, createCellMap, findCell, getTitle, metaOf, notebookToJSON, outputToY, type YCell } from '../../common/notebook/model';
import { MAX_TITLE_LENGTH } from '../../common/notebook/title';
import type { AiInfo, CellJSON } from '../../common/notebook/types';
import { openSqliteStorage } from '../../server/storage/sqlite';
import type { Storage } from '../../server/storage/types';
import { DUPLICATE_STOPPED_DETAIL } from '../../server/notebook/duplicate';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../support/auth';
import { startTestServer, tempDir, type TestServer } from '../support/server';
import { connectClient, waitFor, type YClient } from '../support/yclient';

let server: TestServer;
const clients: YClient[] = [];
/** when set, the next notebook stored with an owner grant fails inside its transaction */
let failNextCreate: string | null = null;

beforeAll(async () => {
  const dataDir = tempDir();
  const sqlite = openSqliteStorage(dataDir);
  // the real SQLite storage; on demand, the owner grant of a new notebook collides with an existing
  // token hash, so the transaction that stores record, document and grant fails half-way
  const storage: Storage = Object.assign(Object.create(sqlite) as Storage, {
    createNotebook: (rec: { id: string; title: string }, initialState?: Uint8Array, grant?: Parameters<Storage['createNotebook']>[2]) => {
      if (failNextCreate && grant) {
        const tokenHash = failNextCreate;
        failNextCreate = null;
        return sqlite.createNotebook(rec, initialState, { ...grant, tokenHash });
      }
      return sqlite.createNotebook(rec, initialState, grant);
    },
  });
  server = await startTestServer({ dataDir, storage });
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await server?.close();
});

const json = (method: string, body: unknown, token: string | null = TEST_ADMIN_TOKEN): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

async function newNotebook(title: string): Promise<{ id: string; owner: string }> {
  const res = await fetchAsAdmin(`${server.url}/api/notebooks`, json('POST', { title }));
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: string; token: string };
  return { id: body.id, owner: body.token };
}

function client(id: string, token = TEST_ADMIN_TOKEN): YClient {
  const c = connectClient(server.wsUrl, id, { token });
  clients.push(c);
  return c;
}

async function link(id: string, role: 'editor' | 'viewer'): Promise<string> {
  const res = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/links`, json('POST', { role }));
  expect(res.status).toBe(201);
  return ((await res.json()) as { token: string }).token;
}

function rename(id: string, title: unknown, token: string | null = TEST_ADMIN_TOKEN) {
  return fetch(`${server.url}/api/notebooks/${id}`, json('PATCH', { title }, token));
}

async function list(): Promise<{ id: string; title: string; updatedAt: number }[]> {
  const res = await fetchAsAdmin(`${server.url}/api/notebooks`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { notebooks: { id: string; title: string; updatedAt: number }[] }).notebooks;
}

async function exported(id: string, token = TEST_ADMIN_TOKEN): Promise<{ disposition: string; nb: any }> {
  const res = await fetch(`${server.url}/api/notebooks/${id}/export.ipynb`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return { disposition: res.headers.get('content-disposition') ?? '', nb: await res.json() };
}

describe('rename: PATCH /api/notebooks/:id', () => {
  it('everyone who has the notebook open sees the new title live; the list, the record and the export follow', async () => {
    const { id } = await newNotebook('Draft');
    const ada = client(id);
    const bob = client(id, await link(id, 'viewer'));
    await Promise.all([ada.synced, bob.synced]);
    await waitFor(() => getTitle(bob.doc) === 'Draft', { what: 'the first title' });
    const seen: string[] = [];
    metaOf(bob.doc).observe(() => seen.push(getTitle(bob.doc)));

    const res = await rename(id, '  Revenue by month  ');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id, title: 'Revenue by month' });

    await waitFor(() => getTitle(ada.doc) === 'Revenue by month' && getTitle(bob.doc) === 'Revenue by month', { what: 'both clients to see the new title' });
    expect(seen).toContain('Revenue by month');
    // as soon as the rename answered: the list and the record, without waiting for anything
    expect((await list()).find((n) => n.id === id)?.title).toBe('Revenue by month');
    const rec = (await (await fetchAsAdmin(`${server.url}/api/notebooks/${id}`)).json()) as { title: string };
    expect(rec.title).toBe('Revenue by month');
    const { disposition, nb } = await exported(id);
    expect(nb.metadata.title).toBe('Revenue by month');
    expect(disposition).toContain('filename="Revenue by month.ipynb"');
  });

  it('renames a notebook nobody has open, and the title is stored with the document', async () => {
    const { id } = await newNotebook('Closed notebook');
    expect(server.rooms.loaded(id)).toBeUndefined();
    expect((await rename(id, 'Ünïcode — 数据 📈')).status).toBe(200);
    expect((await list()).find((n) => n.id === id)?.title).toBe('Ünïcode — 数据 📈');
    // a client that joins later reads it from the document
    const late = client(id);
    await late.synced;
    expect(getTitle(late.doc)).toBe('Ünïcode — 数据 📈');
  });

  it('a rename moves the notebook to the top of "last changed first"', async () => {
    const older = await newNotebook('Older');
    await newNotebook('Newer');
    expect((await rename(older.id, 'Older, renamed')).status).toBe(200);
    const [first] = [...(await list())].sort((a, b) => b.updatedAt - a.updatedAt);
    expect(first.title).toBe('Older, renamed');
  });

  it('refuses a bad title with 400 INVALID_TITLE naming what is wrong, and changes nothing', async () => {
    const { id } = await newNotebook('Keep me');
    const cases: [unknown, RegExp][] = [
      ['', /empty/],
      ['   \u00a0 ', /empty/],
      ['x'.repeat(MAX_TITLE_LENGTH + 1), new RegExp(`${MAX_TITLE_LENGTH + 1} characters long; at most ${MAX_TITLE_LENGTH}`)],
      ['two\nlines', /control character \(U\+000A\) at position 4/],
      ['tab\there', /control character \(U\+0009\)/],
      ['bell\u0007', /control character \(U\+0007\)/],
      ['del\u007f', /control character \(U\+007F\)/],
      ['c1\u0085', /control character \(U\+0085\)/],
      ['line\u2028sep', /U\+2028/],
      ['evil\u202etxt.exe', /U\+202E/],
      [42, /must be a string/],
      [null, /must be a string/],
    ];
    for (const [title, message] of cases) {
      const res = await rename(id, title);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect({ title, status: res.status, code: body.error.code }).toEqual({ title, status: 400, code: 'INVALID_TITLE' });
      expect(body.error.message).toMatch(message);
    }
    // no title at all, other keys, not JSON
    for (const body of [{}, { title: 'ok', extra: 1 }]) {
      const res = await fetch(`${server.url}/api/notebooks/${id}`, json('PATCH', body));
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error.message).toContain('{"title"');
    }
    const res = await fetch(`${server.url}/api/notebooks/${id}`, json('PATCH', '{"title": '));
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('BAD_JSON');

    expect((await list()).find((n) => n.id === id)?.title).toBe('Keep me');
    // exactly the limit is fine
    const longest = 'y'.repeat(MAX_TITLE_LENGTH);
    const ok = await rename(id, longest);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { title: string }).title).toBe(longest);
  });

  it('404 for a notebook that does not exist', async () => {
    const res = await rename('zzzzzzzzzzzz', 'Anything');
    expect(res.status).toBe(404);
  });

  it('editors, owners and the admin rename; a viewer, another notebook\'s owner and strangers may not', async () => {
    const { id, owner } = await newNotebook('Roles');
    const other = await newNotebook('Someone else');
    const editor = await link(id, 'editor');
    const viewer = await link(id, 'viewer');
    expect((await rename(id, 'by the viewer', viewer)).status).toBe(403);
    expect((await rename(id, 'by another owner', other.owner)).status).toBe(403);
    expect((await rename(id, 'by nobody', null)).status).toBe(401);
    expect((await rename(id, 'by the editor', editor)).status).toBe(200);
    expect((await rename(id, 'by the owner', owner)).status).toBe(200);
    expect((await rename(id, 'by the admin')).status).toBe(200);
    expect((await list()).find((n) => n.id === id)?.title).toBe('by the admin');
    // a viewer's refusal says why
    const res = await rename(id, 'again', viewer);
    expect(((await res.json()) as any).error.message).toMatch(/editor role/);
  });
});

/** A notebook with one of everything a duplicate must carry. */
async function richNotebook(title: string): Promise<{ id: string; writer: YClient }> {
  const { id } = await newNotebook(title);
  const writer = client(id);
  await writer.synced;
  await waitFor(() => cellsOf(writer.doc).length === 1, { what: 'the first cell' });
  const aiInfo: AiInfo = {
    model: 'gpt-test',
    endpoint: 'api.example.com',
    status: 'generating',
    attempt: 2,
    maxAttempts: 3,
    attempts: [
      { generation: 1, code: 'df = load()', outcome: 'error', error: 'NameError', startedAt: 1, finishedAt: 2 },
      { generation: 1, code: 'df = pd.read_csv("s.csv")', outcome: null, startedAt: 3 },
    ],
    by: { name: 'Ada' },
    startedAt: 1,
    generation: 1,
    promptAtStart: 'load the csv',
  };
  writer.doc.transact(() => {
    const cells = cellsOf(writer.doc);
    cells.delete(0, 1);
    cells.push([
      createCellMap({ id: 'intro', cell_type: 'markdown', source: '# Sales\nQuarterly.', metadata: { tags: ['intro'] } }),
      createCellMap({
        id: 'calc',
        source: 'print("hi")\n6 * 7',
        metadata: { collapsed: false, tags: ['calc'] },
        execution_count: 4,
        outputs: [
          { output_type: 'stream', name: 'stdout', text: 'hi\n' },
          { output_type: 'execute_result', execution_count: 4, data: { 'text/plain': '42' }, metadata: {} },
          { output_type: 'display_data', data: { 'image/png': 'iVBORw0KGgo=', 'text/plain': '<Figure>' }, metadata: { 'image/png': { width: 10 } } },
        ],
      }),
      createCellMap({ id: 'ask', source: 'df = pd.read_csv("s.csv")', prompt: 'load the csv', ai: aiInfo, execution_count: null }),
      createCellMap({ id: 'raw', cell_type: 'raw', source: 'raw text' }),
    ]);
    findCell(writer.doc, 'calc')!.set('execution_state', { state: 'running', since: 5, by: { name: 'Ada' } });
    // a jupyter_ydoc client writes the plain-string form
    findCell(writer.doc, 'raw')!.set('execution_state', 'busy');
    findCell(writer.doc, 'ask')!.set('execution_state', { state: 'queued', since: 6 });
    metaOf(writer.doc).set('metadata', { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' }, authors: [{ name: 'Ada' }] });
  });
  // a stream output as the server writes it (Y.Map with a growing Y.Text) next to the plain ones
  const calc = findCell(writer.doc, 'calc') as YCell;
  (calc.get('outputs') as Y.Array<unknown>).push([outputToY({ output_type: 'stream', name: 'stderr', text: 'warn\n' })]);
  await server.rooms.loaded(id)?.flushed();
  await waitFor(() => cellsOf(server.rooms.loaded(id)!.doc).length === 4 && (findCell(server.rooms.loaded(id)!.doc, 'calc')!.get('outputs') as Y.Array<unknown>).length === 4, { what: 'the cells on the server' });
  await server.rooms.loaded(id)!.flushed();
  return { id, writer };
}

async function duplicate(id: string, token: string | null = TEST_ADMIN_TOKEN) {
  return fetch(`${server.url}/api/notebooks/${id}/duplicate`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
}

const withoutRunState = (c: CellJSON) => {
  const { execution_state: _s, ai, ...rest } = c;
  if (!ai) return rest;
  const { status: _st, detail: _d, finishedAt: _f, attempts, ...aiRest } = ai;
  return { ...rest, ai: { ...aiRest, attempts: attempts.map(({ outcome: _o, finishedAt: _af, ...a }) => a) } };
};

describe('duplicate: POST /api/notebooks/:id/duplicate', () => {
  it('makes "Copy of X" with the same cells, sources, outputs, metadata and AI provenance; runs reset, the generation stopped', async () => {
    const { id } = await richNotebook('Sales analysis');
    const res = await duplicate(id);
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; token: string; title: string };
    expect(body.title).toBe('Copy of Sales analysis');
    expect(body.id).not.toBe(id);
    expect(body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect((await list()).find((n) => n.id === body.id)?.title).toBe('Copy of Sales analysis');

    const original = notebookToJSON(server.rooms.loaded(id)!.doc);
    const copyClient = client(body.id);
    await copyClient.synced;
    const copy = notebookToJSON(copyClient.doc);
    expect(copy.title).toBe('Copy of Sales analysis');
    expect(copy.metadata).toEqual(original.metadata);
    expect(copy.cells.map((c) => c.id)).toEqual(['intro', 'calc', 'ask', 'raw']);
    expect(copy.cells.map(withoutRunState)).toEqual(original.cells.map(withoutRunState));
    // outputs keep their form: the server's stream Y.Map stays a Y.Map with a Y.Text
    const copiedOutputs = findCell(copyClient.doc, 'calc')!.get('outputs') as Y.Array<unknown>;
    expect(copiedOutputs.get(3)).toBeInstanceOf(Y.Map);
    expect(copy.cells[1].outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'hi\n' },
      { output_type: 'execute_result', execution_count: 4, data: { 'text/plain': '42' }, metadata: {} },
      { output_type: 'display_data', data: { 'image/png': 'iVBORw0KGgo=', 'text/plain': '<Figure>' }, metadata: { 'image/png': { width: 10 } } },
      { output_type: 'stream', name: 'stderr', text: 'warn\n' },
    ]);
    expect(copy.cells[1].execution_count).toBe(4);
    expect(copy.cells[2].prompt).toBe('load the csv');

    // what was under way in the original is not under way in the copy
    expect(copy.cells[1].execution_state?.state).toBe('idle');
    expect(copy.cells[2].execution_state?.state).toBe('idle');
    // as the duplicate stored it, its first update (a room's load rewrites a plain-string state
    // later, as for any notebook): the plain-string form stays one
    const stored = await server.storage.loadUpdates(body.id);
    const storedDoc = new Y.Doc();
    Y.applyUpdate(storedDoc, stored.updates[0]);
    expect(findCell(storedDoc, 'raw')!.get('execution_state')).toBe('idle');
    expect(findCell(storedDoc, 'calc')!.get('execution_state')).toMatchObject({ state: 'idle' });
    expect(copy.cells[2].ai?.status).toBe('stopped');
    expect(copy.cells[2].ai?.detail).toBe(DUPLICATE_STOPPED_DETAIL);
    expect(copy.cells[2].ai?.attempts.map((a) => a.outcome)).toEqual(['error', 'stopped']);
    // ...and the original is untouched
    expect(original.cells[1].execution_state?.state).toBe('running');
    expect(original.cells[2].ai?.status).toBe('generating');

    // the export of the copy has the same cells as the original's, under the copy's title
    const [a, b] = await Promise.all([exported(id), exported(body.id)]);
    expect(b.nb.metadata.title).toBe('Copy of Sales analysis');
    expect(b.nb.cells.map((c: any) => [c.id, c.cell_type, c.source, c.outputs])).toEqual(a.nb.cells.map((c: any) => [c.id, c.cell_type, c.source, c.outputs]));
    expect(b.disposition).toContain('Copy of Sales analysis.ipynb');
  });

  it('the copy is independent: editing either leaves the other as it was', async () => {
    const { id, writer } = await richNotebook('Independent');
    const res = await duplicate(id);
    const { id: copyId } = (await res.json()) as { id: string };
    const copyWriter = client(copyId);
    await copyWriter.synced;

    cellSource(findCell(copyWriter.doc, 'calc')!).insert(0, '# edited in the copy\n');
    cellsOf(copyWriter.doc).delete(0, 1);
    cellSource(findCell(writer.doc, 'intro')!).insert(0, '> edited in the original\n');
    expect((await rename(copyId, 'Copy, renamed')).status).toBe(200);

    const copyRoom = server.rooms.loaded(copyId)!;
    const originalRoom = server.rooms.loaded(id)!;
    await waitFor(() => cellsOf(copyRoom.doc).length === 3 && cellSource(findCell(originalRoom.doc, 'intro')!).toString().startsWith('>'), { what: 'both edits on the server' });
    await Promise.all([copyRoom.flushed(), originalRoom.flushed()]);

    expect(cellSource(findCell(originalRoom.doc, 'calc')!).toString()).toBe('print("hi")\n6 * 7');
    expect(cellsOf(originalRoom.doc).length).toBe(4);
    expect(getTitle(originalRoom.doc)).toBe('Independent');
    expect(findCell(copyRoom.doc, 'intro')).toBeUndefined();
    expect(cellSource(findCell(copyRoom.doc, 'calc')!).toString()).toBe('# edited in the copy\nprint("hi")\n6 * 7');
    // and the same from storage, past the rooms
    const fromStorage = async (nid: string) => {
      const stored = await server.storage.loadUpdates(nid);
      const d = new Y.Doc();
      for (const u of [...(stored.snapshot ? [stored.snapshot] : []), ...stored.updates]) Y.applyUpdate(d, u);
      return notebookToJSON(d);
    };
    const [o, c] = await Promise.all([fromStorage(id), fromStorage(copyId)]);
    expect(o.cells.find((x) => x.id === 'intro')?.source).toBe('> edited in the original\n# Sales\nQuarterly.');
    expect(o.cells.find((x) => x.id === 'calc')?.source).toBe('print("hi")\n6 * 7');
    expect(c.cells.map((x) => x.id)).toEqual(['calc', 'ask', 'raw']);
    expect(c.title).toBe('Copy, renamed');
  });

  it('is stored in one step: the new record holds its whole document, and a failure leaves nothing behind', async () => {
    const { id } = await richNotebook('Atomic');
    const res = await duplicate(id);
    const { id: copyId } = (await res.json()) as { id: string };
    // nobody has opened the copy: its document came with the record
    expect(server.rooms.loaded(copyId)).toBeUndefined();
    const stored = await server.storage.loadUpdates(copyId);
    expect(stored.updates.length).toBe(1);
    const d = new Y.Doc();
    Y.applyUpdate(d, stored.updates[0]);
    expect(notebookToJSON(d).cells.map((c) => c.id)).toEqual(['intro', 'calc', 'ask', 'raw']);

    // now the owner grant collides half-way through the transaction
    const before = (await list()).map((n) => n.id).sort();
    const existing = (await server.storage.listGrants(id))[0];
    failNextCreate = existing.tokenHash;
    const failed = await duplicate(id);
    expect(failed.status).toBe(500);
    expect(failNextCreate).toBeNull();
    expect((await list()).map((n) => n.id).sort()).toEqual(before);
  });

  it('is the admin\'s: owners, editors and viewers of the notebook may not; an unknown notebook is 404', async () => {
    const { id, owner } = await newNotebook('Not yours to copy');
    for (const token of [owner, await link(id, 'editor'), await link(id, 'viewer')]) {
      const res = await duplicate(id, token);
      expect(res.status).toBe(403);
    }
    expect((await duplicate(id, null)).status).toBe(401);
    expect((await duplicate('zzzzzzzzzzzz')).status).toBe(404);
    expect((await list()).filter((n) => n.title === 'Copy of Not yours to copy')).toEqual([]);
  });

  it("the copy's owner token opens the copy, not the original; the original's tokens do not open the copy", async () => {
    const { id, owner } = await newNotebook('Tokens');
    const res = await duplicate(id);
    const copy = (await res.json()) as { id: string; token: string };
    const get = (nid: string, token: string) => fetch(`${server.url}/api/notebooks/${nid}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await get(copy.id, copy.token)).status).toBe(200);
    expect((await get(id, copy.token)).status).toBe(403);
    expect((await get(copy.id, owner)).status).toBe(403);
    // the copy has no links of the original
    const links = await fetch(`${server.url}/api/notebooks/${copy.id}/links`, { headers: { authorization: `Bearer ${copy.token}` } });
    expect(((await links.json()) as { links: unknown[] }).links).toEqual([]);
  });

  it('a long title is cut to the limit in the copy', async () => {
    const { id } = await newNotebook('z'.repeat(MAX_TITLE_LENGTH));
    const body = (await (await duplicate(id)).json()) as { title: string };
    expect(body.title.length).toBeLessThanOrEqual(MAX_TITLE_LENGTH);
    expect(body.title.startsWith('Copy of zzz')).toBe(true);
    expect(body.title.endsWith('…')).toBe(true);
  });
});

describe('delete: DELETE /api/notebooks/:id', () => {
  it('the admin deletes: the list loses it, its clients are closed, a rename or duplicate of it is 404; others may not', async () => {
    const { id, owner } = await newNotebook('Doomed');
    const viewer = await link(id, 'viewer');
    const c = client(id);
    await c.synced;
    expect((await fetch(`${server.url}/api/notebooks/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${owner}` } })).status).toBe(403);
    const closed = new Promise<number>((resolve) => c.provider.ws?.addEventListener('close', (e: any) => resolve(e.code)));
    expect((await fetchAsAdmin(`${server.url}/api/notebooks/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await closed).toBe(4404);
    expect((await list()).some((n) => n.id === id)).toBe(false);
    expect((await rename(id, 'Too late')).status).toBe(404);
    expect((await duplicate(id)).status).toBe(404);
    // its tokens open nothing any more
    expect((await fetch(`${server.url}/api/notebooks/${id}`, { headers: { authorization: `Bearer ${viewer}` } })).status).toBe(401);
  });
});
