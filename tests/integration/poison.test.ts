// Notebooks cannot be poisoned (issue 16, docs/decisions/0025): what an editor tried, against the
// real server, a real y-websocket client, SQLite on disk and a real kernel on the embedded gateway.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { cellsOf, cellToJSON, findCell, getTitle, insertCell, metaOf, outputsToJSON, type YOutput } from '../../common/notebook/model';
import { MAX_NESTING_DEPTH } from '../../common/notebook/nesting';
import { CloseCode } from '../../server/sync/close-codes';
import { nbformatValidator } from '../../server/notebook/ipynb';
import { fetchAsAdmin } from '../support/auth';
import { createNotebook, postWhenCellArrives, startTestServer, type TestServer } from '../support/server';
import { KERNEL_MS, TEST_MS, scaled } from '../support/timing';
import { connectClient, waitFor, type YClient } from '../support/yclient';

let s: TestServer;
const clients: YClient[] = [];

beforeAll(async () => {
  s = await startTestServer();
}, scaled(60_000));
afterAll(async () => {
  for (const c of clients) c.destroy();
  await s?.close();
  if (s) fs.rmSync(s.dataDir, { recursive: true, force: true });
});

function client(id: string, token?: string): YClient {
  const c = connectClient(s.wsUrl, id, token ? { token } : {});
  clients.push(c);
  return c;
}

const nested = (levels: number): unknown => {
  let v: unknown = { x: 1 };
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
};

/** Makes an edit on a synced client and returns how the server closed its socket. */
async function editAndWaitForClose(c: YClient, edit: (doc: Y.Doc) => void): Promise<{ code: number; reason: string }> {
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    const onClose = (event: { code: number; reason: string | Buffer } | null) => {
      if (!event) return;
      c.provider.off('connection-close', onClose);
      resolve({ code: event.code, reason: String(event.reason) });
    };
    c.provider.on('connection-close', onClose);
  });
  c.doc.transact(() => edit(c.doc));
  return closed;
}

async function exportOf(id: string): Promise<{ status: number; nb: any }> {
  const res = await fetchAsAdmin(`${s.url}/api/notebooks/${id}/export.ipynb`);
  const text = await res.text();
  return { status: res.status, nb: res.status === 200 ? JSON.parse(text) : text };
}

async function runCode(c: YClient, id: string, code: string): Promise<string> {
  const cellId = insertCell(c.doc, cellsOf(c.doc).length, { source: code });
  const r = await postWhenCellArrives(`${s.url}/api/notebooks/${id}/cells/${cellId}/run`, {}, scaled(10_000));
  expect(r.status).toBe(200);
  const outputs = await waitFor(
    () => {
      const cell = findCell(c.doc, cellId);
      const st = cell?.get('execution_state') as { state?: string } | undefined;
      return cell && st?.state === 'idle' && cell.get('execution_count') !== null ? outputsToJSON(cell.get('outputs') as Y.Array<YOutput>) : null;
    },
    { what: 'the run to finish', timeoutMs: KERNEL_MS },
  );
  return outputs.map((o: any) => (o.output_type === 'stream' ? o.text : o.output_type === 'error' ? `${o.ename}: ${o.evalue}` : '')).join('');
}

async function restart(id: string) {
  const res = await fetchAsAdmin(`${s.url}/api/notebooks/${id}/restart`, { method: 'POST' });
  expect(res.status).toBe(200);
}

describe('deep values', () => {
  it('a value nested past MAX_NESTING_DEPTH over the WebSocket is refused with 4422 naming the limit; the export still answers 200', async () => {
    const id = await createNotebook(s.url, 'deep over ws');
    const attacker = client(id);
    await attacker.synced;
    const cellId = cellsOf(attacker.doc).get(0).get('id') as string;
    const closed = await editAndWaitForClose(attacker, (d) => (cellsOf(d).get(0).get('metadata') as Y.Map<unknown>).set('poison', nested(2000)));
    attacker.destroy();
    expect(closed.code).toBe(CloseCode.INVALID_LAYOUT);
    expect(closed.reason).toMatch(/nested more than 64 levels deep \(MAX_NESTING_DEPTH\)/);
    expect(closed.reason).toContain(cellId);

    // also one level at a time, as Y.Maps inside Y.Maps: refused at the level that crosses the limit
    const builder = client(id);
    await builder.synced;
    let m = cellsOf(builder.doc).get(0).get('metadata') as Y.Map<unknown>;
    const refused = new Promise<number>((resolve) => builder.provider.on('connection-close', (e: { code: number } | null) => e && resolve(e.code)));
    for (let level = 5; level <= MAX_NESTING_DEPTH + 1; level++) {
      const child = new Y.Map<unknown>();
      m.set('a', child);
      m = child;
    }
    expect(await refused).toBe(CloseCode.INVALID_LAYOUT);
    builder.destroy();

    const exported = await exportOf(id);
    expect(exported.status).toBe(200);
    expect(nbformatValidator().validate(exported.nb)).toEqual([]);
    expect(exported.nb.cells[0].metadata.poison).toBeUndefined();
    expect(exported.nb.metadata.title).toBe('deep over ws');
  }, TEST_MS);

  it('kernel code displaying JSON nested past the limit gets a notice in its place, not a poisoned document', async () => {
    const id = await createNotebook(s.url, 'deep display');
    const c = client(id);
    await c.synced;
    const code = "from IPython.display import display\nd = 1\nfor _ in range(300):\n    d = [d]\ndisplay({'application/json': d, 'text/plain': 'deep'}, raw=True)\nprint('after')";
    expect(await runCode(c, id, code)).toBe('after\n');
    const cell = cellsOf(c.doc).toArray().find((x) => (x.get('source') as Y.Text).toString() === code)!;
    const outputs = outputsToJSON(cell.get('outputs') as Y.Array<YOutput>);
    expect(outputs[0]).toMatchObject({ output_type: 'display_data', data: { 'text/plain': 'Output not kept: it is nested more than 64 levels deep (MAX_NESTING_DEPTH) (application/json, text/plain).' } });
    expect((await exportOf(id)).status).toBe(200);
  }, TEST_MS);

  it('an .ipynb nested past the limit is refused with 400 INVALID_NOTEBOOK naming the limit and where', async () => {
    const file = { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ id: 'c1', cell_type: 'code', source: '', metadata: {}, execution_count: null, outputs: [{ output_type: 'display_data', metadata: {}, data: { 'application/json': nested(3000) } }] }] };
    const res = await fetchAsAdmin(`${s.url}/api/notebooks/import`, { method: 'POST', body: JSON.stringify(file) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('INVALID_NOTEBOOK');
    expect(body.error.message).toMatch(/nested more than 64 levels deep \(MAX_NESTING_DEPTH\) at cells\[0\]\.outputs\[0\]\.data\.application\/json\.a/);
  });

  it('a notebook stored with values thousands deep (as before the limit) exports 200 with notices and opens with its cells', async () => {
    // an import makes the record and its stored state without loading it; the poison is then
    // appended to storage directly, past every check, as an old stored notebook holds it
    const file = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { title: 'stored poison' },
      cells: [
        { id: 'first', cell_type: 'markdown', source: '# Still here', metadata: {} },
        { id: 'second', cell_type: 'code', source: 'print(1)', metadata: {}, execution_count: 1, outputs: [{ output_type: 'stream', name: 'stdout', text: '1\n' }] },
      ],
    };
    const imported = await fetchAsAdmin(`${s.url}/api/notebooks/import`, { method: 'POST', body: JSON.stringify(file) });
    expect(imported.status).toBe(201);
    const { id } = (await imported.json()) as { id: string };
    const stored = await s.storage.loadUpdates(id);
    const doc = new Y.Doc();
    if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot);
    for (const u of stored.updates) Y.applyUpdate(doc, u);
    const sv = Y.encodeStateVector(doc);
    doc.transact(() => {
      const second = findCell(doc, 'second')!;
      (second.get('outputs') as Y.Array<unknown>).push([{ output_type: 'display_data', metadata: {}, data: { 'application/json': nested(3000) } }]);
      (second.get('metadata') as Y.Map<unknown>).set('poison', nested(3000));
      metaOf(doc).set('metadata', { ...(metaOf(doc).get('metadata') as object), poison: nested(3000) });
    });
    // Y.Maps 6000 deep: Y.Map#toJSON runs out of stack on them
    doc.transact(() => {
      let m = new Y.Map<unknown>();
      findCell(doc, 'first')!.set('chain', m);
      for (let i = 0; i < 6000; i++) {
        const child = new Y.Map<unknown>();
        m.set('a', child);
        m = child;
      }
    });
    await s.storage.appendUpdate(id, Y.encodeStateAsUpdate(doc, sv));

    const exported = await exportOf(id);
    expect(exported.status).toBe(200);
    expect(nbformatValidator().validate(exported.nb)).toEqual([]);
    const [first, second] = exported.nb.cells;
    expect(first.source.join('')).toBe('# Still here');
    expect(second.outputs.map((o: any) => o.output_type)).toEqual(['stream', 'display_data']);
    expect(second.outputs[1].data['text/plain'].join('')).toMatch(/Output removed on export: it was nested more than 64 levels deep \(MAX_NESTING_DEPTH\)/);
    expect(JSON.stringify(second.metadata.poison)).toContain('MAX_NESTING_DEPTH');
    expect(JSON.stringify(first.metadata.ynotebook.chain)).toContain('MAX_NESTING_DEPTH');
    expect(exported.nb.metadata.title).toBe('stored poison');

    // what a browser gets over sync, read by the model code the page renders with
    const viewer = client(id);
    await viewer.synced;
    const cells = cellsOf(viewer.doc).toArray();
    expect(cells.map((c) => c.get('id'))).toEqual(['first', 'second']);
    const outputs = outputsToJSON(cells[1].get('outputs') as Y.Array<YOutput>);
    expect(outputs[0]).toEqual({ output_type: 'stream', name: 'stdout', text: '1\n' });
    expect(JSON.stringify(outputs[1])).toMatch(/Output not shown: .*MAX_NESTING_DEPTH/);
    for (const c of cells) expect(() => JSON.stringify(cellToJSON(c))).not.toThrow();
    viewer.destroy();
  }, TEST_MS);
});

describe('the title over Yjs', () => {
  it('a 5000-character or bidi title is refused with 4422 naming the rule, and the stored title stays', async () => {
    const id = await createNotebook(s.url, 'Quarterly numbers');
    for (const [title, rule] of [
      ['x'.repeat(5000), /title is 5000 characters long; at most 200 \(MAX_TITLE_LENGTH\)/],
      ['Quarterly\u202Esrebmun', /control character \(U\+202E\)/],
    ] as const) {
      const c = client(id);
      await c.synced;
      const closed = await editAndWaitForClose(c, (d) => metaOf(d).set('title', title));
      c.destroy();
      expect(closed.code).toBe(CloseCode.INVALID_LAYOUT);
      expect(closed.reason).toMatch(rule);
    }
    const fresh = client(id);
    await fresh.synced;
    expect(getTitle(fresh.doc)).toBe('Quarterly numbers');
    const listed = (await (await fetchAsAdmin(`${s.url}/api/notebooks`)).json()) as { notebooks: { id: string; title: string }[] };
    expect(listed.notebooks.find((n) => n.id === id)?.title).toBe('Quarterly numbers');
    // the title field's own writes still pass
    metaOf(fresh.doc).set('title', 'Quarterly numbers, final');
    const again = client(id);
    await again.synced;
    await waitFor(() => getTitle(again.doc) === 'Quarterly numbers, final', { what: 'the renamed title', timeoutMs: scaled(10_000) });
    expect(fresh.provider.wsconnected).toBe(true);
  }, TEST_MS);
});

describe('the app folder .ynotebook/ and the pip prefix', () => {
  const fileUrl = (id: string, p: string) => `${s.url}/api/notebooks/${id}/files/${p.split('/').map(encodeURIComponent).join('/')}`;

  const POISON = "import os\nos.environ['YNB_POISONED'] = 'yes'\n";
  const CHECK = "import os\nprint(os.environ.get('YNB_POISONED', 'clean'))";

  it('uploads, reads and deletes under .ynotebook/ are refused with 400, also through a symlink; a kernel start runs nothing', async () => {
    const id = await createNotebook(s.url, 'uploads');
    const c = client(id);
    await c.synced;
    for (const p of ['.ynotebook/site-packages/sitecustomize.py', '.YNotebook/site-packages/sitecustomize.py', '.ynotebook']) {
      const put = await fetchAsAdmin(fileUrl(id, p), { method: 'PUT', body: POISON });
      expect(put.status, p).toBe(400);
      const body = (await put.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('RESERVED');
      expect(body.error.message).toMatch(/app's own folder/);
      expect((await fetchAsAdmin(fileUrl(id, p))).status).toBe(400);
      expect((await fetchAsAdmin(fileUrl(id, p), { method: 'DELETE' })).status).toBe(400);
    }
    // the kernel's own check, on the real path: a symlink the notebook's code made does not lead in
    expect(await runCode(c, id, "import os\nos.makedirs('.ynotebook/site-packages', exist_ok=True)\nos.symlink('.ynotebook', 'pk')\nprint('ok')")).toBe('ok\n');
    const viaLink = await fetchAsAdmin(fileUrl(id, 'pk/site-packages/sitecustomize.py'), { method: 'PUT', body: POISON });
    expect(viaLink.status).toBe(400);
    expect(((await viaLink.json()) as { error: { code: string } }).error.code).toBe('RESERVED');
    const listed = (await (await fetchAsAdmin(`${s.url}/api/notebooks/${id}/files`)).json()) as { files: { path: string }[] };
    expect(listed.files.filter((f) => f.path.includes('sitecustomize'))).toEqual([]);

    await restart(id);
    expect(await runCode(c, id, CHECK)).toBe('clean\n');
  }, TEST_MS);

  it('the owner lists what is in the pip prefix and removes it; editors may not; the next start imports none of it', async () => {
    const created = await fetchAsAdmin(`${s.url}/api/notebooks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'packages' }) });
    const { id, token: ownerToken } = (await created.json()) as { id: string; token: string };
    const link = await fetchAsAdmin(`${s.url}/api/notebooks/${id}/links`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'editor' }) });
    const editorToken = ((await link.json()) as { token: string }).token;
    const c = client(id);
    await c.synced;
    // what `pip install` of a tiny package leaves (dist-info with METADATA and RECORD), and a
    // sitecustomize.py that kernel code wrote there itself (no network here for a real install)
    const plant = [
      'import os',
      "t = os.environ.get('YNOTEBOOK_PIP_TARGET') or os.path.join(os.getcwd(), '.ynotebook', 'site-packages')",
      "os.makedirs(os.path.join(t, 'tinypkg'), exist_ok=True)",
      "open(os.path.join(t, 'tinypkg', '__init__.py'), 'w').write('VALUE = 42\\n')",
      "os.makedirs(os.path.join(t, 'tinypkg-1.2.3.dist-info'), exist_ok=True)",
      "open(os.path.join(t, 'tinypkg-1.2.3.dist-info', 'METADATA'), 'w').write('Metadata-Version: 2.1\\nName: tinypkg\\nVersion: 1.2.3\\n\\nA tiny package.\\n')",
      "open(os.path.join(t, 'tinypkg-1.2.3.dist-info', 'RECORD'), 'w').write('tinypkg/__init__.py,,\\ntinypkg-1.2.3.dist-info/METADATA,,\\n')",
      `open(os.path.join(t, 'sitecustomize.py'), 'w').write(${JSON.stringify(POISON)})`,
      "print('planted')",
    ].join('\n');
    expect(await runCode(c, id, plant)).toBe('planted\n');
    // the vector is real: whatever sits in the prefix runs at the next start
    await restart(id);
    expect(await runCode(c, id, `${CHECK}\nimport tinypkg\nprint(tinypkg.VALUE)`)).toBe('yes\n42\n');

    const asEditor = (method: string) => fetch(`${s.url}/api/notebooks/${id}/packages`, { method, headers: { authorization: `Bearer ${editorToken}` } });
    expect((await asEditor('GET')).status).toBe(403);
    expect((await asEditor('DELETE')).status).toBe(403);

    // the owner's own token, not only the admin's
    const listing = await fetch(`${s.url}/api/notebooks/${id}/packages`, { headers: { authorization: `Bearer ${ownerToken}` } });
    expect(listing.status).toBe(200);
    expect(await listing.json()).toEqual({ path: '.ynotebook/site-packages', packages: [{ name: 'tinypkg', version: '1.2.3' }], otherFiles: ['sitecustomize.py'] });

    const removed = await fetchAsAdmin(`${s.url}/api/notebooks/${id}/packages`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    expect(await removed.json()).toEqual({ removed: 1 });
    expect(await (await fetchAsAdmin(`${s.url}/api/notebooks/${id}/packages`)).json()).toEqual({ path: '.ynotebook/site-packages', packages: [], otherFiles: [] });

    await restart(id);
    expect(await runCode(c, id, `${CHECK}\ntry:\n    import tinypkg\n    print('imported')\nexcept ImportError:\n    print('no tinypkg')`)).toBe('clean\nno tinypkg\n');
  }, TEST_MS);
});
