import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import WebSocket from 'ws';
import * as encoding from 'lib0/encoding';
import { cellsOf, cellSource, createCellMap, getTitle, notebookToJSON, setTitle } from '../../common/notebook/model';
import { CloseCode, MAX_MESSAGE_BYTES } from '../../server/sync/close-codes';
import { createNotebook, startTestServer, tempDir, type TestServer } from '../support/server';
import { openSqliteStorage } from '../../server/storage/sqlite';
import type { Storage } from '../../server/storage/types';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../support/auth';
import { scaled } from '../support/timing';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(opts: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const s = await startTestServer(opts);
  cleanups.push(() => s.close());
  return s;
}

function client(s: { wsUrl: string }, id: string): YClient {
  const c = connectClient(s.wsUrl, id);
  cleanups.push(() => c.destroy());
  return c;
}

const json = (c: YClient) => JSON.stringify(notebookToJSON(c.doc));

/** A seeded PRNG so a failing run can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

function randomEdit(doc: Y.Doc, rand: () => number, tag: string) {
  const cells = cellsOf(doc);
  const r = rand();
  if (cells.length === 0 || r < 0.15) {
    cells.insert(Math.floor(rand() * (cells.length + 1)), [createCellMap({ source: tag })]);
  } else if (r < 0.22 && cells.length > 1) {
    cells.delete(Math.floor(rand() * cells.length), 1);
  } else {
    const text = cellSource(cells.get(Math.floor(rand() * cells.length)));
    if (rand() < 0.7 || text.length === 0) text.insert(Math.floor(rand() * (text.length + 1)), tag);
    else {
      const at = Math.floor(rand() * text.length);
      text.delete(at, Math.min(text.length - at, 1 + Math.floor(rand() * 4)));
    }
  }
}

describe('sync server', () => {
  it('a new notebook arrives with its title and one empty code cell', async () => {
    const s = await server();
    const id = await createNotebook(s.url, 'Sales analysis');
    const c = client(s, id);
    await c.synced;
    const nb = notebookToJSON(c.doc);
    expect(nb.title).toBe('Sales analysis');
    expect(nb.nbformat).toBe(4);
    expect(nb.cells).toHaveLength(1);
    expect(nb.cells[0]).toMatchObject({ cell_type: 'code', source: '', outputs: [], execution_count: null });
  });

  it('two clients typing at once converge, and the title syncs', async () => {
    const s = await server();
    const id = await createNotebook(s.url);
    const a = client(s, id);
    const b = client(s, id);
    await Promise.all([a.synced, b.synced]);
    const ta = cellSource(cellsOf(a.doc).get(0));
    const tb = cellSource(cellsOf(b.doc).get(0));
    for (let i = 0; i < 50; i++) {
      ta.insert(ta.length, 'a');
      tb.insert(0, 'b');
    }
    setTitle(a.doc, 'Shared title');
    await waitFor(() => json(a) === json(b) && ta.length === 100, { what: 'convergence' });
    expect(ta.toString()).toBe(tb.toString());
    expect(ta.toString().split('a').length - 1).toBe(50);
    expect(getTitle(b.doc)).toBe('Shared title');
    // the notebook list reflects the synced title
    await s.rooms.loaded(id)!.flushed();
    const list = (await (await fetchAsAdmin(`${s.url}/api/notebooks`)).json()) as { notebooks: { id: string; title: string }[] };
    expect(list.notebooks.find((n) => n.id === id)?.title).toBe('Shared title');
  });

  it('ten clients with random edits and random disconnects converge to the same notebook', async () => {
    const s = await server();
    const id = await createNotebook(s.url);
    const clients = Array.from({ length: 10 }, () => client(s, id));
    await Promise.all(clients.map((c) => c.synced));
    const rand = rng(42);
    for (let round = 0; round < 40; round++) {
      clients.forEach((c, i) => {
        randomEdit(c.doc, rand, `[${i}.${round}]`);
        if (rand() < 0.05 && c.provider.wsconnected) c.provider.disconnect();
        else if (!c.provider.shouldConnect && rand() < 0.5) c.provider.connect();
      });
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const c of clients) if (!c.provider.shouldConnect) c.provider.connect();
    const viewer = client(s, id);
    await viewer.synced;
    await waitFor(() => clients.every((c) => json(c) === json(clients[0])) && json(viewer) === json(clients[0]), {
      what: 'ten clients to converge',
      timeoutMs: scaled(20_000),
    });
    const result = notebookToJSON(clients[0].doc);
    expect(result.cells.length).toBeGreaterThan(1);
    // the server's own copy is the same notebook
    const room = s.rooms.loaded(id)!;
    expect(JSON.stringify(notebookToJSON(room.doc))).toBe(json(clients[0]));
  });

  it('after a restart a client is told "synced" only once the stored document is there', async () => {
    const dataDir = tempDir();
    const s1 = await startTestServer({ dataDir });
    const id = await createNotebook(s1.url);
    const a = connectClient(s1.wsUrl, id);
    await a.synced;
    cellSource(cellsOf(a.doc).get(0)).insert(0, 'print("kept")');
    await waitFor(() => s1.rooms.loaded(id) && cellSource(cellsOf(s1.rooms.loaded(id)!.doc).get(0)).length > 0);
    await s1.rooms.loaded(id)!.flushed();
    a.destroy();
    await s1.close();

    const s2 = await server({ dataDir });
    const b = client(s2, id);
    let sourceAtSync: string | null = null;
    b.provider.on('sync', (synced: boolean) => {
      if (synced && sourceAtSync === null) sourceAtSync = notebookToJSON(b.doc).cells[0]?.source ?? '';
    });
    await b.synced;
    expect(sourceAtSync).toBe('print("kept")');
    expect(notebookToJSON(b.doc).cells).toHaveLength(1);
  });

  it('an unknown notebook is refused with a named close code', async () => {
    const s = await server();
    const ws = new WebSocket(`${s.wsUrl}/nosuchnotebk?token=${TEST_ADMIN_TOKEN}`);
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(CloseCode.NOT_FOUND);
  });

  it('garbage and oversized frames close only that connection; the document is intact and others keep working', async () => {
    const s = await server();
    const id = await createNotebook(s.url);
    const a = client(s, id);
    await a.synced;
    cellSource(cellsOf(a.doc).get(0)).insert(0, 'x = 1');
    await waitFor(() => s.rooms.loaded(id) && notebookToJSON(s.rooms.loaded(id)!.doc).cells[0].source === 'x = 1');
    const before = JSON.stringify(notebookToJSON(s.rooms.loaded(id)!.doc));

    const sendRaw = (payload: Uint8Array | string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${s.wsUrl}/${id}?token=${TEST_ADMIN_TOKEN}`);
        ws.on('open', () => ws.send(payload));
        ws.on('close', (code) => resolve(code));
        ws.on('error', () => undefined);
      });

    // a sync update whose payload is random bytes
    const enc = encoding.createEncoder();
    encoding.writeVarUint(enc, 0);
    encoding.writeVarUint(enc, 2);
    encoding.writeVarUint8Array(enc, new Uint8Array([1, 200, 3, 7, 250, 99, 0, 12, 44]));
    const results = [
      await sendRaw(new Uint8Array([255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1])),
      await sendRaw(encoding.toUint8Array(enc)),
      await sendRaw(new Uint8Array([7, 1, 2])),
      await sendRaw('{"not": "binary"}'),
      await sendRaw(new Uint8Array(MAX_MESSAGE_BYTES + 1024)),
    ];
    expect(results.slice(0, 4)).toEqual([CloseCode.BAD_MESSAGE, CloseCode.BAD_MESSAGE, CloseCode.BAD_MESSAGE, CloseCode.BAD_MESSAGE]);
    expect(results[4]).toBe(CloseCode.MESSAGE_TOO_BIG);

    expect(JSON.stringify(notebookToJSON(s.rooms.loaded(id)!.doc))).toBe(before);
    // the good client was never disconnected and still syncs with a newcomer
    const b = client(s, id);
    await b.synced;
    cellSource(cellsOf(a.doc).get(0)).insert(5, '0');
    await waitFor(() => notebookToJSON(b.doc).cells[0].source === 'x = 10', { what: 'edit after garbage' });
    expect(a.provider.wsconnected).toBe(true);
  });

  it('unloads a document after its last client leaves and loads it again on return', async () => {
    const s = await server({ unloadAfterMs: 50 });
    const id = await createNotebook(s.url);
    const a = connectClient(s.wsUrl, id);
    await a.synced;
    cellSource(cellsOf(a.doc).get(0)).insert(0, 'still here');
    await waitFor(() => notebookToJSON(s.rooms.loaded(id)!.doc).cells[0].source === 'still here');
    a.destroy();
    await waitFor(() => !s.rooms.loaded(id), { what: 'unload' });
    const b = client(s, id);
    await b.synced;
    expect(notebookToJSON(b.doc).cells[0].source).toBe('still here');
  });
});

describe('storage failures', () => {
  it('a failing store keeps edits in memory, says so loudly, and stores them once storage is back', async () => {
    const dataDir = tempDir();
    const real = openSqliteStorage(dataDir);
    let failing = false;
    const flaky: Storage = Object.assign(Object.create(real) as Storage, {
      appendUpdate: (id: string, u: Uint8Array) => (failing ? Promise.reject(new Error('disk full')) : real.appendUpdate(id, u)),
    });
    const s = await server({ dataDir, storage: flaky });
    const id = await createNotebook(s.url);
    const a = client(s, id);
    const b = client(s, id);
    await Promise.all([a.synced, b.synced]);
    failing = true;
    cellSource(cellsOf(a.doc).get(0)).insert(0, 'precious');
    await waitFor(() => s.logs.some((l) => l.includes('STORAGE FAILED')), { what: 'a loud log line' });
    await new Promise((r) => setTimeout(r, 200));
    // not stored, so not broadcast: b has not seen it, and the server still holds it
    expect(notebookToJSON(b.doc).cells[0].source).toBe('');
    expect(notebookToJSON(s.rooms.loaded(id)!.doc).cells[0].source).toBe('precious');
    expect(s.rooms.loaded(id)!.hasUnsaved).toBe(true);
    failing = false;
    await waitFor(() => notebookToJSON(b.doc).cells[0].source === 'precious', { what: 'the retried store and broadcast', timeoutMs: scaled(10_000) });
    const stored = await real.loadUpdates(id);
    const check = new Y.Doc();
    for (const u of stored.updates) Y.applyUpdate(check, u);
    expect(notebookToJSON(check).cells[0].source).toBe('precious');
  });
});

describe('crash safety', () => {
  let proc: ChildProcess | null = null;
  afterEach(() => {
    proc?.kill('SIGKILL');
  });

  function spawnServer(dataDir: string, port = 0): Promise<{ url: string; proc: ChildProcess }> {
    const p = spawn(process.execPath, ['--import', 'tsx', path.resolve('tests/support/sync-server-process.ts')], {
      env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    proc = p;
    return new Promise((resolve, reject) => {
      let out = '';
      p.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve({ url: m[1], proc: p });
      });
      p.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
    });
  }

  it('kill -9 mid-edit loses nothing a client received, and duplicates nothing', async () => {
    const dataDir = tempDir();
    const first = await spawnServer(dataDir);
    const port = Number(new URL(first.url).port);
    const wsUrl = first.url.replace(/^http/, 'ws') + '/sync';
    const id = await createNotebook(first.url);
    const writers = [0, 1, 2].map(() => client({ wsUrl }, id));
    const observer = client({ wsUrl }, id);
    await Promise.all([...writers, observer].map((c) => c.synced));

    let n = 0;
    const typing = setInterval(() => {
      writers.forEach((w, i) => {
        const text = cellSource(cellsOf(w.doc).get(0));
        text.insert(text.length, `<${i}:${n}>`);
      });
      n++;
    }, 5);
    await waitFor(() => cellSource(cellsOf(observer.doc).get(0)).length > 300, { what: 'edits to flow' });
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    // everything the observer had received before the crash
    const received = cellSource(cellsOf(observer.doc).get(0)).toString();
    const receivedSv = Y.decodeStateVector(Y.encodeStateVector(observer.doc));
    clearInterval(typing);

    // a fresh process on the same data and port: the old clients reconnect by themselves
    await spawnServer(dataDir, port);
    const fresh = client({ wsUrl }, id);
    await fresh.synced;
    const freshSv = Y.decodeStateVector(Y.encodeStateVector(fresh.doc));
    for (const [clientId, clock] of receivedSv) {
      expect(freshSv.get(clientId) ?? 0, `updates of client ${clientId}`).toBeGreaterThanOrEqual(clock);
    }
    const tokens = received.match(/<\d:\d+>/g)!;
    const restored = cellSource(cellsOf(fresh.doc).get(0)).toString();
    for (const t of tokens) expect(restored).toContain(t);

    await waitFor(() => [...writers, observer].every((c) => json(c) === json(fresh)), {
      what: 'clients to resync after the restart',
      timeoutMs: scaled(20_000),
    });
    const final = cellSource(cellsOf(fresh.doc).get(0)).toString();
    const all = final.match(/<\d:\d+>/g)!;
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(3 * n);
  });
});
