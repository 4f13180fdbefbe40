// One suite, both implementations of the Storage interface: SQLite on disk (the default) and
// PostgreSQL (DATABASE_URL; a throwaway cluster from tests/support/postgres.ts, a database per test).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { openSqliteStorage, SQLITE_FILE } from '../../server/storage/sqlite';
import { openPostgresStorage } from '../../server/storage/postgres';
import { StorageError, type GrantRecord, type Storage } from '../../server/storage/types';
import { usePostgres } from '../support/postgres';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ynb-st-'));
  dirs.push(d);
  return d;
};
const opened: Storage[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function textUpdate(doc: Y.Doc, s: string): Uint8Array {
  let update: Uint8Array | null = null;
  doc.once('update', (u: Uint8Array) => (update = u));
  doc.getText('t').insert(doc.getText('t').length, s);
  return update!;
}

const postgres = usePostgres();

/** A fresh, empty place to store into; `open` opens it (again: after close, a reopen). */
interface Place {
  open(): Promise<Storage>;
  /** checked after the last close: the data is where this backend keeps it */
  isOnDisk(): boolean;
}

const backends: Array<{ name: string; place: () => Promise<Place> }> = [
  {
    name: 'sqlite',
    place: async () => {
      const dir = tmp();
      return { open: async () => openSqliteStorage(dir), isOnDisk: () => fs.existsSync(path.join(dir, SQLITE_FILE)) };
    },
  },
  {
    name: 'postgres',
    place: async () => {
      const url = await postgres().createDatabase('st');
      return { open: () => openPostgresStorage(url, { connectRetryMs: 0 }), isOnDisk: () => true };
    },
  },
];

const grant = (id: string, notebookId: string, role: GrantRecord['role'], createdAt = Date.now()): GrantRecord => ({ id, notebookId, role, tokenHash: `hash-of-${id}`, createdAt });

describe.each(backends)('$name storage', ({ place }) => {
  async function fresh(): Promise<{ st: Storage; place: Place }> {
    const p = await place();
    const st = await p.open();
    opened.push(st);
    return { st, place: p };
  }

  it('creates, lists (newest first) and finds notebooks; duplicates are refused', async () => {
    const { st } = await fresh();
    await st.createNotebook({ id: 'aaa', title: 'First' });
    await new Promise((r) => setTimeout(r, 5));
    await st.createNotebook({ id: 'bbb', title: 'Second' });
    expect((await st.listNotebooks()).map((n) => n.title)).toEqual(['Second', 'First']);
    await st.touchNotebook('aaa', { title: 'First, renamed', updatedAt: Date.now() + 1000 });
    expect((await st.listNotebooks()).map((n) => n.title)).toEqual(['First, renamed', 'Second']);
    const rec = await st.getNotebook('aaa');
    expect(rec).toMatchObject({ id: 'aaa', title: 'First, renamed' });
    expect(typeof rec!.createdAt).toBe('number');
    expect(rec!.updatedAt).toBeGreaterThan(rec!.createdAt);
    expect(await st.getNotebook('zzz')).toBeNull();
    const dup = st.createNotebook({ id: 'aaa', title: 'again' });
    await expect(dup).rejects.toBeInstanceOf(StorageError);
    await expect(dup).rejects.toMatchObject({ code: 'DUPLICATE' });
  });

  it('updates survive reopening, in order, and compaction keeps the same document', async () => {
    const { st, place: p } = await fresh();
    await st.createNotebook({ id: 'n1', title: 't' });
    const src = new Y.Doc();
    const seqs: number[] = [];
    for (const s of ['hello', ' ', 'world']) seqs.push(await st.appendUpdate('n1', textUpdate(src, s)));
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(3);
    await st.close();

    const st2 = await p.open();
    opened.push(st2);
    const loaded = await st2.loadUpdates('n1');
    expect(loaded.snapshot).toBeNull();
    expect(loaded.updates).toHaveLength(3);
    expect(loaded.lastSeq).toBe(seqs[2]);
    const doc = new Y.Doc();
    for (const u of loaded.updates) Y.applyUpdate(doc, u);
    expect(doc.getText('t').toString()).toBe('hello world');

    await st2.compact('n1', Y.encodeStateAsUpdate(doc), loaded.lastSeq);
    expect(await st2.loadUpdates('n1')).toMatchObject({ updates: [], lastSeq: loaded.lastSeq });
    await st2.appendUpdate('n1', textUpdate(src, '!'));
    const after = await st2.loadUpdates('n1');
    expect(after.snapshot).not.toBeNull();
    expect(after.updates).toHaveLength(1);
    expect(after.lastSeq).toBeGreaterThan(loaded.lastSeq);
    const doc2 = new Y.Doc();
    Y.applyUpdate(doc2, after.snapshot!);
    for (const u of after.updates) Y.applyUpdate(doc2, u);
    expect(doc2.getText('t').toString()).toBe('hello world!');
    expect(await st2.countUpdates('n1')).toBe(1);
    await st2.close();
    expect(p.isOnDisk()).toBe(true);
  });

  it('stores updates byte for byte (zeros, high bytes, a large one)', async () => {
    const { st } = await fresh();
    await st.createNotebook({ id: 'bin', title: 't' });
    const odd = new Uint8Array([0, 255, 0, 1, 128, 0]);
    const large = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7919) % 256);
    // a view into a larger buffer: only its own bytes are stored
    const view = new Uint8Array(new Uint8Array([9, 9, 1, 2, 3, 9]).buffer, 2, 3);
    for (const u of [odd, large, view]) await st.appendUpdate('bin', u);
    const { updates } = await st.loadUpdates('bin');
    expect(updates.map((u) => u.byteLength)).toEqual([6, large.byteLength, 3]);
    expect([...updates[0]]).toEqual([...odd]);
    expect(Buffer.from(updates[1]).equals(Buffer.from(large))).toBe(true);
    expect([...updates[2]]).toEqual([1, 2, 3]);
  });

  it('creates a notebook with its initial document and owner grant in one step, or not at all', async () => {
    const { st } = await fresh();
    const src = new Y.Doc();
    src.getText('t').insert(0, 'imported content');
    const state = Y.encodeStateAsUpdate(src);
    await st.createNotebook({ id: 'imp', title: 'Imported' }, state, grant('g1', 'imp', 'owner'));
    const loaded = await st.loadUpdates('imp');
    const doc = new Y.Doc();
    for (const u of loaded.updates) Y.applyUpdate(doc, u);
    expect(doc.getText('t').toString()).toBe('imported content');
    expect((await st.listNotebooks()).map((n) => n.title)).toEqual(['Imported']);
    expect(await st.findGrant('hash-of-g1')).toMatchObject({ id: 'g1', notebookId: 'imp', role: 'owner' });

    // a failed create (the id is taken) stores no document either
    await expect(st.createNotebook({ id: 'imp', title: 'again' }, Y.encodeStateAsUpdate(new Y.Doc()))).rejects.toMatchObject({ code: 'DUPLICATE' });
    expect(await st.countUpdates('imp')).toBe(1);
    expect(await st.listNotebooks()).toHaveLength(1);
    // nor its grant: a grant whose token is taken undoes the whole create
    await expect(st.createNotebook({ id: 'other', title: 'x' }, state, grant('g1', 'other', 'owner'))).rejects.toBeInstanceOf(StorageError);
    expect(await st.getNotebook('other')).toBeNull();
    expect(await st.countUpdates('other')).toBe(0);
  });

  it('grants: found by token hash, listed per notebook, deleted once; a grant of no notebook is refused', async () => {
    const { st } = await fresh();
    await st.createNotebook({ id: 'n1', title: 't' }, undefined, grant('own', 'n1', 'owner', 1000));
    await st.createNotebook({ id: 'n2', title: 't' });
    await st.createGrant(grant('ed', 'n1', 'editor', 2000));
    await st.createGrant(grant('vw', 'n1', 'viewer', 3000));
    await st.createGrant(grant('x2', 'n2', 'viewer', 1500));
    expect(await st.findGrant('hash-of-vw')).toEqual({ id: 'vw', notebookId: 'n1', role: 'viewer', tokenHash: 'hash-of-vw', createdAt: 3000 });
    expect(await st.findGrant('hash-of-nothing')).toBeNull();
    expect((await st.listGrants('n1')).map((g) => g.id)).toEqual(['own', 'ed', 'vw']);
    expect(await st.deleteGrant('n2', 'ed')).toBe(false);
    expect(await st.deleteGrant('n1', 'ed')).toBe(true);
    expect(await st.deleteGrant('n1', 'ed')).toBe(false);
    expect((await st.listGrants('n1')).map((g) => g.id)).toEqual(['own', 'vw']);
    await expect(st.createGrant(grant('orphan', 'nope', 'editor'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it("sessions: found with their grant, touched, ended one by one, all the admin's at once, expired; a grant's go with it and with its notebook", async () => {
    const { st, place: p } = await fresh();
    await st.createNotebook({ id: 'n1', title: 't' }, undefined, grant('own', 'n1', 'owner', 1000));
    await st.createGrant(grant('ed', 'n1', 'editor', 2000));
    const admin = (idHash: string, createdAt = 5000, usedAt = createdAt) => ({ idHash, grantId: null, adminTag: `tag-${idHash}`, createdAt, usedAt });
    const ofGrant = (idHash: string, grantId: string, createdAt = 5000) => ({ idHash, grantId, adminTag: null, createdAt, usedAt: createdAt });
    await st.createSession(admin('a1'));
    await st.createSession(admin('a2', 100, 200));
    await st.createSession(ofGrant('e1', 'ed'));
    await st.createSession(ofGrant('e2', 'ed'));
    await st.createSession(ofGrant('o1', 'own'));
    await expect(st.createSession(ofGrant('x', 'no-such-grant'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(st.createSession(admin('a1'))).rejects.toBeInstanceOf(StorageError);

    expect(await st.findSession('a1')).toEqual({ ...admin('a1'), grant: null });
    expect(await st.findSession('e1')).toEqual({ ...ofGrant('e1', 'ed'), grant: grant('ed', 'n1', 'editor', 2000) });
    expect(await st.findSession('nothing')).toBeNull();
    await st.touchSession('a1', 9000);
    await st.touchSession('a1', 8000); // never backwards
    expect((await st.findSession('a1'))?.usedAt).toBe(9000);
    expect((await st.listGrantSessions('ed')).sort()).toEqual(['e1', 'e2']);

    // the newest `keep` of a principal stay (e1 and e2 were made at the same time: the order is still fixed)
    await st.createSession({ ...ofGrant('e3', 'ed'), createdAt: 6000, usedAt: 6000 });
    expect(await st.trimSessions('ed', 5)).toEqual([]);
    expect(await st.trimSessions('ed', 1)).toEqual(expect.arrayContaining(['e1', 'e2']));
    expect(await st.listGrantSessions('ed')).toEqual(['e3']);
    await st.createSession(ofGrant('e1', 'ed'));
    await st.createSession(ofGrant('e2', 'ed'));
    expect(await st.trimSessions(null, 2)).toEqual([]);
    expect(await st.findSession('o1')).not.toBeNull();
    await st.deleteSessions(['e3']);
    expect(await st.deleteSessions(['e2', 'nothing'])).toEqual(['e2']);
    expect(await st.deleteSessions([])).toEqual([]);
    // made before 150, or unused since 300: a2
    expect(await st.deleteExpiredSessions(150, 300)).toEqual(['a2']);
    expect(await st.deleteAdminSessions()).toEqual(['a1']);
    expect(await st.findSession('e1')).not.toBeNull();
    // they outlive a reopen
    await st.close();
    const again = await p.open();
    opened.push(again);
    expect(await again.findSession('e1')).not.toBeNull();
    // revoking the link ends its sessions; deleting the notebook ends the owner's
    await again.deleteGrant('n1', 'ed');
    expect(await again.findSession('e1')).toBeNull();
    await again.deleteNotebook('n1');
    expect(await again.findSession('o1')).toBeNull();
  });

  it('deleting a notebook removes its updates, snapshot and grants', async () => {
    const { st } = await fresh();
    await st.createNotebook({ id: 'n1', title: 't' }, undefined, grant('own', 'n1', 'owner'));
    const seq = await st.appendUpdate('n1', textUpdate(new Y.Doc(), 'x'));
    await st.compact('n1', new Uint8Array([0, 0]), seq);
    await st.appendUpdate('n1', textUpdate(new Y.Doc(), 'y'));
    await st.deleteNotebook('n1');
    expect(await st.countUpdates('n1')).toBe(0);
    expect(await st.getNotebook('n1')).toBeNull();
    expect(await st.loadUpdates('n1')).toEqual({ snapshot: null, updates: [], lastSeq: 0 });
    expect(await st.findGrant('hash-of-own')).toBeNull();
  });
});
