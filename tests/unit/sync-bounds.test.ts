// DocRoom's bounds and layout refusals, driven through handleMessage with in-memory connections.
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { cellsOf, cellToJSON, cloneCell, createCellMap, notebookToJSON } from '../../common/notebook/model';
import { DocRoom, type SyncConnection } from '../../server/sync/room';
import { CloseCode } from '../../server/sync/close-codes';
import { DEFAULT_SYNC_LIMITS, pendingBytes, RateLimiter, type SyncLimits } from '../../server/sync/limits';
import { openSqliteStorage } from '../../server/storage/sqlite';
import type { Storage } from '../../server/storage/types';
import { tempDir } from '../support/server';

interface FakeConn extends SyncConnection {
  received: Uint8Array[];
  closed: { code: number; reason: string } | null;
}

function fakeConn(): FakeConn {
  const c: FakeConn = {
    received: [],
    closed: null,
    send: (m) => c.received.push(m),
    close: (code, reason) => (c.closed = { code, reason }),
  };
  return c;
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function room(limits: Partial<SyncLimits> = {}): Promise<{ room: DocRoom; storage: Storage; logs: string[] }> {
  const storage = openSqliteStorage(tempDir());
  await storage.createNotebook({ id: 'nb1', title: 't' });
  const logs: string[] = [];
  const r = new DocRoom('nb1', storage, (level, msg) => logs.push(`${level}: ${msg}`), { title: 't', limits });
  await r.ready;
  cleanups.push(() => storage.close(), () => r.destroy());
  return { room: r, storage, logs };
}

function updateMessage(update: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 0);
  encoding.writeVarUint(enc, 2);
  encoding.writeVarUint8Array(enc, update);
  return encoding.toUint8Array(enc);
}

function step1Message(doc: Y.Doc): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 0);
  encoding.writeVarUint(enc, 0);
  encoding.writeVarUint8Array(enc, Y.encodeStateVector(doc));
  return encoding.toUint8Array(enc);
}

/** A client that is in sync with the room. */
function syncedClient(r: DocRoom): Y.Doc {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(r.doc));
  return doc;
}

/** Updates that all depend on one the server never gets (each `bytes` long). */
function updatesWithMissingDependency(count: number, bytes: number): Uint8Array[] {
  const doc = new Y.Doc();
  const text = doc.getText('orphan');
  text.insert(0, 'never sent');
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const sv = Y.encodeStateVector(doc);
    text.insert(text.length, 'x'.repeat(bytes));
    out.push(Y.encodeStateAsUpdate(doc, sv));
  }
  return out;
}

describe('updates with missing dependencies', () => {
  it('are bounded per connection: past the bound the connection closes, the pending data is dropped, nothing is stored', async () => {
    const { room: r, storage } = await room();
    const before = await storage.loadUpdates('nb1');
    const bad = fakeConn();
    await r.connect(bad);
    for (const u of updatesWithMissingDependency(20, 300 * 1024)) r.handleMessage(bad, updateMessage(u));
    expect(bad.closed?.code).toBe(CloseCode.PENDING_LIMIT);
    expect(pendingBytes(r.doc)).toBe(0);
    await r.flushed();
    const after = await storage.loadUpdates('nb1');
    expect(after.updates.length).toBe(before.updates.length);
    // a newcomer's sync step 2 is the small notebook, not megabytes of orphans
    const fresh = fakeConn();
    await r.connect(fresh);
    r.handleMessage(fresh, step1Message(new Y.Doc()));
    await r.flushed();
    const reply = fresh.received.at(-1)!;
    expect(reply.byteLength).toBeLessThan(2000);
    const dec = decoding.createDecoder(reply);
    decoding.readVarUint(dec);
    decoding.readVarUint(dec);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, decoding.readVarUint8Array(dec));
    expect(notebookToJSON(doc).cells).toHaveLength(1);
    expect(doc.store.pendingStructs).toBeNull();
  });

  it('are bounded per document across connections', async () => {
    const { room: r } = await room({ maxPendingBytesPerConnection: 1024 * 1024, maxPendingBytesPerDoc: 1536 * 1024 });
    const conns = [fakeConn(), fakeConn(), fakeConn()];
    for (const c of conns) {
      await r.connect(c);
      for (const u of updatesWithMissingDependency(2, 300 * 1024)) r.handleMessage(c, updateMessage(u));
    }
    expect(conns.every((c) => c.closed?.code === CloseCode.PENDING_LIMIT)).toBe(true);
    expect(pendingBytes(r.doc)).toBe(0);
  });

  it('a gap that fills (updates out of order) is kept and integrated, the connection stays', async () => {
    const { room: r } = await room();
    const conn = fakeConn();
    await r.connect(conn);
    const doc = syncedClient(r);
    const text = cellsOf(doc).get(0).get('source') as Y.Text;
    const sv0 = Y.encodeStateVector(doc);
    text.insert(0, 'a');
    const sv1 = Y.encodeStateVector(doc);
    text.insert(1, 'b');
    r.handleMessage(conn, updateMessage(Y.encodeStateAsUpdate(doc, sv1)));
    expect(pendingBytes(r.doc)).toBeGreaterThan(0);
    r.handleMessage(conn, updateMessage(Y.encodeStateAsUpdate(doc, sv0)));
    expect(pendingBytes(r.doc)).toBe(0);
    expect(conn.closed).toBeNull();
    expect(cellToJSON(cellsOf(r.doc).get(0)).source).toBe('ab');
  });
});

describe('document size', () => {
  it('past the bound, updates that add content are refused with a clear reason; deletions pass', async () => {
    const { room: r } = await room({ maxDocBytes: 64 * 1024 });
    const conn = fakeConn();
    await r.connect(conn);
    const doc = syncedClient(r);
    const text = cellsOf(doc).get(0).get('source') as Y.Text;
    let sv = Y.encodeStateVector(doc);
    text.insert(0, 'y'.repeat(40 * 1024));
    r.handleMessage(conn, updateMessage(Y.encodeStateAsUpdate(doc, sv)));
    expect(conn.closed).toBeNull();
    sv = Y.encodeStateVector(doc);
    text.insert(0, 'z'.repeat(40 * 1024));
    r.handleMessage(conn, updateMessage(Y.encodeStateAsUpdate(doc, sv)));
    expect(conn.closed?.code).toBe(CloseCode.DOC_TOO_LARGE);
    expect(conn.closed?.reason).toMatch(/size limit/);
    expect(cellToJSON(cellsOf(r.doc).get(0)).source).toHaveLength(40 * 1024);
    // another person deletes to make room
    const other = fakeConn();
    await r.connect(other);
    const doc2 = syncedClient(r);
    const sv2 = Y.encodeStateVector(doc2);
    (cellsOf(doc2).get(0).get('source') as Y.Text).delete(0, 30 * 1024);
    r.handleMessage(other, updateMessage(Y.encodeStateAsUpdate(doc2, sv2)));
    expect(other.closed).toBeNull();
    expect(cellToJSON(cellsOf(r.doc).get(0)).source).toHaveLength(10 * 1024);
  });
});

describe('layout', () => {
  it('an update that breaks the layout is not applied, stored or broadcast; the sender is closed', async () => {
    const { room: r, storage } = await room();
    const bad = fakeConn();
    const good = fakeConn();
    await r.connect(bad);
    await r.connect(good);
    await r.flushed();
    const stored = (await storage.loadUpdates('nb1')).updates.length;
    const seen = good.received.length;
    const before = JSON.stringify(notebookToJSON(r.doc));
    const doc = syncedClient(r);
    const sv = Y.encodeStateVector(doc);
    doc.transact(() => {
      const c = createCellMap({ source: 'no id' });
      c.delete('id');
      cellsOf(doc).push([c]);
    });
    r.handleMessage(bad, updateMessage(Y.encodeStateAsUpdate(doc, sv)));
    expect(bad.closed?.code).toBe(CloseCode.INVALID_LAYOUT);
    expect(bad.closed?.reason).toMatch(/no id/);
    await r.flushed();
    expect(JSON.stringify(notebookToJSON(r.doc))).toBe(before);
    expect((await storage.loadUpdates('nb1')).updates.length).toBe(stored);
    expect(good.received.length).toBe(seen);
    // the room keeps working for the good client, and its probe was rebuilt correctly
    const gdoc = syncedClient(r);
    const gsv = Y.encodeStateVector(gdoc);
    (cellsOf(gdoc).get(0).get('source') as Y.Text).insert(0, 'ok');
    r.handleMessage(good, updateMessage(Y.encodeStateAsUpdate(gdoc, gsv)));
    expect(good.closed).toBeNull();
    expect(cellToJSON(cellsOf(r.doc).get(0)).source).toBe('ok');
  });

  it('two people moving one cell at once: the second copy is removed, nobody is closed', async () => {
    const { room: r } = await room();
    const a = fakeConn();
    const b = fakeConn();
    await r.connect(a);
    await r.connect(b);
    const da = syncedClient(r);
    const db = syncedClient(r);
    for (const [conn, doc] of [[a, da], [b, db]] as const) {
      const sv = Y.encodeStateVector(doc);
      doc.transact(() => {
        const copy = cloneCell(cellsOf(doc).get(0), { keepId: true });
        cellsOf(doc).delete(0, 1);
        cellsOf(doc).insert(0, [copy]);
      });
      r.handleMessage(conn, updateMessage(Y.encodeStateAsUpdate(doc, sv)));
    }
    expect([a.closed, b.closed]).toEqual([null, null]);
    expect(notebookToJSON(r.doc).cells).toHaveLength(1);
  });
});

describe('per-connection bounds (decision 0024)', () => {
  /** A connection whose document answers leave only when the test says so (a client that does not read). */
  function stalledConn() {
    const c = fakeConn() as FakeConn & { answers: number; flush: Array<() => void> };
    c.answers = 0;
    c.flush = [];
    c.sendState = (m, onSent) => {
      c.received.push(m);
      c.answers++;
      c.flush.push(onSent);
    };
    return c;
  }

  it('answers one sync step 1 at a time: repeats wait for the answer to leave, and only the newest is answered', async () => {
    const { room: r } = await room();
    const c = stalledConn();
    await r.connect(c);
    for (let i = 0; i < 5; i++) r.handleMessage(c, step1Message(new Y.Doc()));
    await r.flushed();
    expect(c.answers).toBe(1);
    c.flush.shift()!();
    await r.flushed();
    expect(c.answers).toBe(2);
    c.flush.shift()!();
    await r.flushed();
    expect(c.answers).toBe(2);
    expect(c.closed).toBeNull();
  });

  it(`closes with SLOW_CONSUMER a connection that asks more than ${DEFAULT_SYNC_LIMITS.maxSyncStep1Waiting} times while an answer is unread`, async () => {
    const { room: r } = await room();
    const c = stalledConn();
    await r.connect(c);
    for (let i = 0; i <= DEFAULT_SYNC_LIMITS.maxSyncStep1Waiting + 1; i++) r.handleMessage(c, step1Message(new Y.Doc()));
    expect(c.closed?.code).toBe(CloseCode.SLOW_CONSUMER);
    await r.flushed();
    expect(c.answers).toBeLessThanOrEqual(1);
  });

  it('rate limiter: a burst fits, past it messages are refused until the buckets refill', () => {
    let now = 0;
    const rate = new RateLimiter({ messagesPerSecond: 10, messageBurst: 20, bytesPerSecond: 1000, byteBurst: 5000 }, () => now);
    for (let i = 0; i < 20; i++) expect(rate.take(10)).toBe(true);
    expect(rate.take(10)).toBe(false);
    now += 100;
    expect(rate.take(10)).toBe(true);
    expect(rate.take(10)).toBe(false);
    now += 10_000;
    // bytes: the burst, not more
    expect(rate.take(5001)).toBe(false);
    expect(rate.take(4800)).toBe(true);
    expect(rate.take(300)).toBe(false);
  });
});
