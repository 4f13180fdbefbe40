// A bounded fuzz of the sync endpoint: a real server on port 0, real WebSocket clients, fixed seeds.
// Hostile frames of every kind go to one notebook while two good clients edit it; afterwards the
// server is up, the good clients converge, and the notebook renders, runs and exports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import WebSocket from 'ws';
import * as encoding from 'lib0/encoding';
import { cellsOf, cellSource, cellToJSON, createCellMap, insertCell, notebookToJSON } from '../../common/notebook/model';
import { checkLayout } from '../../common/notebook/layout';
import { CloseCode } from '../../server/sync/close-codes';
import { pendingBytes } from '../../server/sync/limits';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../support/auth';
import { createNotebook, postWhenCellArrives, startTestServer, type TestServer } from '../support/server';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { scaled } from '../support/timing';

let s: TestServer;
const clients: YClient[] = [];
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await s?.close();
});

function rng(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

const frame = (type: number, sub: number | null, payload: Uint8Array) => {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, type);
  if (sub !== null) encoding.writeVarUint(enc, sub);
  encoding.writeVarUint8Array(enc, payload);
  return encoding.toUint8Array(enc);
};
const updateFrame = (u: Uint8Array) => frame(0, 2, u);

/** Opens a raw socket, sends the frames, and resolves with the close code (or 0 if still open after `waitMs`). */
function hostile(id: string, frames: Array<Uint8Array | string>, waitMs = 1500): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${s.wsUrl}/${id}?token=${TEST_ADMIN_TOKEN}`);
    const timer = setTimeout(() => {
      ws.terminate();
      resolve(0);
    }, waitMs);
    ws.on('open', () => {
      for (const f of frames) ws.send(f);
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    ws.on('error', () => undefined);
  });
}

/** A Yjs update from a client that synced `base` and then did `edit`. */
function updateAfter(base: Y.Doc, edit: (d: Y.Doc) => void): Uint8Array {
  const d = new Y.Doc();
  Y.applyUpdate(d, Y.encodeStateAsUpdate(base));
  const sv = Y.encodeStateVector(d);
  d.transact(() => edit(d));
  return Y.encodeStateAsUpdate(d, sv);
}

function orphanUpdates(count: number, bytes: number, seed: number): Uint8Array[] {
  const d = new Y.Doc();
  d.clientID = 1_000_000 + seed;
  const t = cellsOf(d);
  t.push([createCellMap({ source: 'the dependency nobody sends' })]);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const sv = Y.encodeStateVector(d);
    cellSource(t.get(0)).insert(0, 'x'.repeat(bytes));
    out.push(Y.encodeStateAsUpdate(d, sv));
  }
  return out;
}

describe('sync endpoint under hostile input', () => {
  it('stays up; good clients keep syncing; the notebook renders, runs and exports', async () => {
    const id = await createNotebook(s.url, 'Fuzzed');
    const a = connectClient(s.wsUrl, id);
    const b = connectClient(s.wsUrl, id);
    clients.push(a, b);
    await Promise.all([a.synced, b.synced]);
    const goodCell = insertCell(a.doc, 1, { source: '6 * 7' });
    await waitFor(() => cellsOf(b.doc).length === 2, { what: 'the good cell to reach b' });
    const room = s.rooms.loaded(id)!;
    const rand = rng(8);
    const codes: Record<string, number[]> = {};
    const record = (what: string, code: number) => (codes[what] ??= []).push(code);

    // layout breakers: valid Yjs updates, each refused
    const breakers: Array<[string, (d: Y.Doc) => void]> = [
      ['cell without id', (d) => { const c = createCellMap({ source: 'x' }); c.delete('id'); cellsOf(d).push([c]); }],
      ['source not text', (d) => cellsOf(d).get(0).set('source', 'plain')],
      ['cell not a map', (d) => cellsOf(d).push(['oops' as unknown as Y.Map<unknown>])],
      ['bad cell_type', (d) => cellsOf(d).get(0).set('cell_type', 'sql')],
      ['outputs not an array', (d) => cellsOf(d).get(0).set('outputs', 'none')],
      ['output not an object', (d) => (cellsOf(d).get(0).get('outputs') as Y.Array<unknown>).push([42])],
      ['id removed', (d) => cellsOf(d).get(1).delete('id')],
      ['renamed to a taken id', (d) => cellsOf(d).get(1).set('id', cellsOf(d).get(0).get('id') as string)],
    ];

    for (let round = 0; round < 3; round++) {
      const jobs: Array<Promise<unknown>> = [];
      // random frames and truncated sync messages
      for (let i = 0; i < 8; i++) {
        const bytes = new Uint8Array(1 + Math.floor(rand() * 64)).map(() => Math.floor(rand() * 256));
        jobs.push(hostile(id, [bytes], 800).then((c) => record('random', c)));
      }
      const good = updateAfter(room.doc, (d) => cellSource(cellsOf(d).get(0)).insert(0, '#'));
      const full = updateFrame(good);
      jobs.push(hostile(id, [full.slice(0, Math.max(3, Math.floor(full.length * rand())))], 800).then((c) => record('truncated', c)));
      // huge varints: a length prefix of 2^53 and an endless varint
      jobs.push(hostile(id, [new Uint8Array([0, 2, 255, 255, 255, 255, 255, 255, 255, 15, 1])], 800).then((c) => record('huge length', c)));
      jobs.push(hostile(id, [new Uint8Array(40).fill(255)], 800).then((c) => record('endless varint', c)));
      // awareness flood: hundreds of valid states, then one oversized
      const flood: Uint8Array[] = [];
      for (let i = 0; i < 200; i++) {
        const enc = encoding.createEncoder();
        encoding.writeVarUint(enc, 1);
        encoding.writeVarUint(enc, 900_000 + i);
        encoding.writeVarUint(enc, round + 1);
        encoding.writeVarString(enc, JSON.stringify({ user: { name: `flood${i}` } }));
        flood.push(frame(1, null, encoding.toUint8Array(enc)));
      }
      jobs.push(hostile(id, flood, 600).then((c) => record('awareness flood', c)));
      jobs.push(hostile(id, [frame(1, null, new Uint8Array(200 * 1024))], 800).then((c) => record('awareness too big', c)));
      for (const [what, edit] of breakers) jobs.push(hostile(id, [updateFrame(updateAfter(room.doc, edit))]).then((c) => record(what, c)));
      // missing dependencies: many and large
      jobs.push(hostile(id, orphanUpdates(12, 512 * 1024, round).map(updateFrame), 4000).then((c) => record('missing deps', c)));
      // meanwhile the good clients type
      for (let i = 0; i < 20; i++) {
        const t = cellSource(cellsOf(i % 2 ? a.doc : b.doc).get(0));
        t.insert(t.length, `${round}.${i};`);
        await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(jobs);
    }

    // every hostile connection was closed with the named code of its kind (random bytes may decode
    // as a harmless message now and then: those stayed open and changed nothing)
    for (const [what] of breakers) expect(codes[what], what).toEqual([CloseCode.INVALID_LAYOUT, CloseCode.INVALID_LAYOUT, CloseCode.INVALID_LAYOUT]);
    expect(codes['missing deps']).toEqual([CloseCode.PENDING_LIMIT, CloseCode.PENDING_LIMIT, CloseCode.PENDING_LIMIT]);
    expect(codes['truncated'].every((c) => c === CloseCode.BAD_MESSAGE)).toBe(true);
    expect(codes['huge length']).toEqual([CloseCode.BAD_MESSAGE, CloseCode.BAD_MESSAGE, CloseCode.BAD_MESSAGE]);
    expect(codes['awareness too big']).toEqual([CloseCode.BAD_MESSAGE, CloseCode.BAD_MESSAGE, CloseCode.BAD_MESSAGE]);
    expect(codes['random'].every((c) => c === CloseCode.BAD_MESSAGE || c === 0)).toBe(true);
    expect(pendingBytes(room.doc)).toBe(0);

    // the good clients were never dropped and converge with the server and with a newcomer
    expect(a.provider.wsconnected && b.provider.wsconnected).toBe(true);
    const json = (d: Y.Doc) => JSON.stringify(notebookToJSON(d));
    await waitFor(() => json(a.doc) === json(b.doc) && json(a.doc) === json(room.doc), { what: 'convergence' });
    const fresh = connectClient(s.wsUrl, id);
    clients.push(fresh);
    await fresh.synced;
    await waitFor(() => json(fresh.doc) === json(room.doc), { what: 'a newcomer to sync' });
    expect(cellSource(cellsOf(fresh.doc).get(0)).toString()).toContain('2.19;');

    // renders: the layout holds and every cell converts
    expect(checkLayout(room.doc)).toEqual([]);
    for (const cell of cellsOf(fresh.doc).toArray()) expect(() => cellToJSON(cell)).not.toThrow();
    // exports
    const exp = await fetchAsAdmin(`${s.url}/api/notebooks/${id}/export.ipynb`);
    expect(exp.status).toBe(200);
    const nb = JSON.parse(await exp.text());
    expect(nb.cells.map((c: { id: string }) => c.id)).toContain(goodCell);
    // runs
    const run = await postWhenCellArrives(`${s.url}/api/notebooks/${id}/cells/${goodCell}/run`, {}, scaled(60_000));
    expect(run.status).toBe(200);
    expect(run.body.status).toBe('ok');
    await waitFor(() => JSON.stringify(cellToJSON(cellsOf(b.doc).get(1)).outputs).includes('42'), { what: 'the output at b', timeoutMs: scaled(20_000) });
  }, 120_000);
});
