import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { openSqliteStorage, SQLITE_FILE } from '../../server/storage/sqlite';
import { StorageError } from '../../server/storage/types';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ynb-st-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function textUpdate(doc: Y.Doc, s: string): Uint8Array {
  let update: Uint8Array | null = null;
  doc.once('update', (u: Uint8Array) => (update = u));
  doc.getText('t').insert(doc.getText('t').length, s);
  return update!;
}

describe('sqlite storage', () => {
  it('creates, lists (newest first) and finds notebooks; duplicates are refused', async () => {
    const st = openSqliteStorage(tmp());
    await st.createNotebook({ id: 'aaa', title: 'First' });
    await new Promise((r) => setTimeout(r, 5));
    await st.createNotebook({ id: 'bbb', title: 'Second' });
    expect((await st.listNotebooks()).map((n) => n.title)).toEqual(['Second', 'First']);
    await st.touchNotebook('aaa', { title: 'First, renamed', updatedAt: Date.now() + 1000 });
    expect((await st.listNotebooks()).map((n) => n.title)).toEqual(['First, renamed', 'Second']);
    expect(await st.getNotebook('zzz')).toBeNull();
    await expect(st.createNotebook({ id: 'aaa', title: 'again' })).rejects.toBeInstanceOf(StorageError);
    await st.close();
  });

  it('updates survive reopening, in order, and compaction keeps the same document', async () => {
    const dir = tmp();
    const st = openSqliteStorage(dir);
    await st.createNotebook({ id: 'n1', title: 't' });
    const src = new Y.Doc();
    for (const s of ['hello', ' ', 'world']) await st.appendUpdate('n1', textUpdate(src, s));
    await st.close();

    const st2 = openSqliteStorage(dir);
    const loaded = await st2.loadUpdates('n1');
    expect(loaded.snapshot).toBeNull();
    expect(loaded.updates).toHaveLength(3);
    const doc = new Y.Doc();
    for (const u of loaded.updates) Y.applyUpdate(doc, u);
    expect(doc.getText('t').toString()).toBe('hello world');

    await st2.compact('n1', Y.encodeStateAsUpdate(doc), loaded.lastSeq);
    await st2.appendUpdate('n1', textUpdate(src, '!'));
    const after = await st2.loadUpdates('n1');
    expect(after.snapshot).not.toBeNull();
    expect(after.updates).toHaveLength(1);
    const doc2 = new Y.Doc();
    Y.applyUpdate(doc2, after.snapshot!);
    for (const u of after.updates) Y.applyUpdate(doc2, u);
    expect(doc2.getText('t').toString()).toBe('hello world!');
    expect(await st2.countUpdates('n1')).toBe(1);
    await st2.close();
    expect(fs.existsSync(path.join(dir, SQLITE_FILE))).toBe(true);
  });

  it('creates a notebook with its initial document in one step, or not at all', async () => {
    const st = openSqliteStorage(tmp());
    const src = new Y.Doc();
    src.getText('t').insert(0, 'imported content');
    const state = Y.encodeStateAsUpdate(src);
    await st.createNotebook({ id: 'imp', title: 'Imported' }, state);
    const loaded = await st.loadUpdates('imp');
    const doc = new Y.Doc();
    for (const u of loaded.updates) Y.applyUpdate(doc, u);
    expect(doc.getText('t').toString()).toBe('imported content');
    expect((await st.listNotebooks()).map((n) => n.title)).toEqual(['Imported']);

    // a failed create (the id is taken) stores no document either
    await expect(st.createNotebook({ id: 'imp', title: 'again' }, Y.encodeStateAsUpdate(new Y.Doc()))).rejects.toMatchObject({ code: 'DUPLICATE' });
    expect(await st.countUpdates('imp')).toBe(1);
    expect(await st.listNotebooks()).toHaveLength(1);
    await st.close();
  });

  it('deleting a notebook removes its updates', async () => {
    const st = openSqliteStorage(tmp());
    await st.createNotebook({ id: 'n1', title: 't' });
    await st.appendUpdate('n1', textUpdate(new Y.Doc(), 'x'));
    await st.deleteNotebook('n1');
    expect(await st.countUpdates('n1')).toBe(0);
    expect(await st.getNotebook('n1')).toBeNull();
    await st.close();
  });
});
