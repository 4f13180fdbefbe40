// SQLite storage (better-sqlite3, WAL). A write returns only after SQLite has committed it, so an
// update acknowledged to any client survives a kill -9 of the server.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StorageError, type GrantRecord, type NotebookRecord, type Storage, type StoredUpdates } from './types';

export const SQLITE_FILE = 'notebooks.sqlite';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS notebooks (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
  notebook_id TEXT PRIMARY KEY REFERENCES notebooks(id) ON DELETE CASCADE,
  state BLOB NOT NULL,
  up_to_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS updates (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  notebook_id TEXT NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
  data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS updates_by_notebook ON updates(notebook_id, seq);
CREATE TABLE IF NOT EXISTS grants (
  id TEXT PRIMARY KEY,
  notebook_id TEXT NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS grants_by_notebook ON grants(notebook_id, created_at);
`;

interface GrantRow {
  id: string;
  notebook_id: string;
  role: GrantRecord['role'];
  token_hash: string;
  created_at: number;
}

const toGrant = (r: GrantRow): GrantRecord => ({ id: r.id, notebookId: r.notebook_id, role: r.role, tokenHash: r.token_hash, createdAt: r.created_at });

interface Row {
  id: string;
  title: string;
  created_at: number;
  updated_at: number;
}

const toRecord = (r: Row): NotebookRecord => ({
  id: r.id,
  title: r.title,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export function openSqliteStorage(dataDir: string): SqliteStorage {
  fs.mkdirSync(dataDir, { recursive: true });
  return new SqliteStorage(path.join(dataDir, SQLITE_FILE));
}

export class SqliteStorage implements Storage {
  private db: Database.Database;
  private stmt;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit is in the OS before we return, so a killed process loses
    // nothing; only a power cut could lose the last transactions (docs/decisions/0002-sync-storage.md).
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.stmt = {
      insertNotebook: this.db.prepare(
        'INSERT INTO notebooks (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)',
      ),
      getNotebook: this.db.prepare<[string], Row>('SELECT * FROM notebooks WHERE id = ?'),
      listNotebooks: this.db.prepare<[], Row>('SELECT * FROM notebooks ORDER BY updated_at DESC'),
      touch: this.db.prepare('UPDATE notebooks SET updated_at = ? WHERE id = ?'),
      touchTitle: this.db.prepare('UPDATE notebooks SET updated_at = ?, title = ? WHERE id = ?'),
      deleteNotebook: this.db.prepare('DELETE FROM notebooks WHERE id = ?'),
      snapshot: this.db.prepare<[string], { state: Buffer; up_to_seq: number }>(
        'SELECT state, up_to_seq FROM snapshots WHERE notebook_id = ?',
      ),
      updates: this.db.prepare<[string], { seq: number; data: Buffer }>(
        'SELECT seq, data FROM updates WHERE notebook_id = ? ORDER BY seq',
      ),
      append: this.db.prepare('INSERT INTO updates (notebook_id, data) VALUES (?, ?)'),
      upsertSnapshot: this.db.prepare(
        `INSERT INTO snapshots (notebook_id, state, up_to_seq) VALUES (?, ?, ?)
         ON CONFLICT(notebook_id) DO UPDATE SET state = excluded.state, up_to_seq = excluded.up_to_seq`,
      ),
      deleteUpTo: this.db.prepare('DELETE FROM updates WHERE notebook_id = ? AND seq <= ?'),
      insertGrant: this.db.prepare('INSERT INTO grants (id, notebook_id, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)'),
      findGrant: this.db.prepare<[string], GrantRow>('SELECT * FROM grants WHERE token_hash = ?'),
      listGrants: this.db.prepare<[string], GrantRow>('SELECT * FROM grants WHERE notebook_id = ? ORDER BY created_at, id'),
      deleteGrant: this.db.prepare('DELETE FROM grants WHERE notebook_id = ? AND id = ?'),
      count: this.db.prepare<[string], { n: number }>(
        'SELECT COUNT(*) AS n FROM updates WHERE notebook_id = ?',
      ),
    };
  }

  async createNotebook(rec: { id: string; title: string }, initialState?: Uint8Array, ownerGrant?: GrantRecord): Promise<NotebookRecord> {
    const now = Date.now();
    try {
      this.db.transaction(() => {
        this.stmt.insertNotebook.run(rec.id, rec.title, now, now);
        if (ownerGrant) this.insertGrant(ownerGrant);
        if (initialState) this.stmt.append.run(rec.id, Buffer.from(initialState.buffer, initialState.byteOffset, initialState.byteLength));
      })();
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new StorageError('DUPLICATE', `notebook ${rec.id} already exists`, { cause: err });
      }
      throw new StorageError('IO', `could not create notebook: ${(err as Error).message}`, { cause: err });
    }
    return { id: rec.id, title: rec.title, createdAt: now, updatedAt: now };
  }

  async getNotebook(id: string): Promise<NotebookRecord | null> {
    const row = this.stmt.getNotebook.get(id);
    return row ? toRecord(row) : null;
  }

  async listNotebooks(): Promise<NotebookRecord[]> {
    return this.stmt.listNotebooks.all().map(toRecord);
  }

  async touchNotebook(id: string, patch: { title?: string; updatedAt: number }): Promise<void> {
    if (patch.title !== undefined) this.stmt.touchTitle.run(patch.updatedAt, patch.title, id);
    else this.stmt.touch.run(patch.updatedAt, id);
  }

  async deleteNotebook(id: string): Promise<void> {
    this.stmt.deleteNotebook.run(id);
  }

  async loadUpdates(id: string): Promise<StoredUpdates> {
    return this.db.transaction(() => {
      const snap = this.stmt.snapshot.get(id);
      const rows = this.stmt.updates.all(id);
      return {
        snapshot: snap ? new Uint8Array(snap.state) : null,
        updates: rows.map((r) => new Uint8Array(r.data)),
        lastSeq: rows.length ? rows[rows.length - 1].seq : (snap?.up_to_seq ?? 0),
      };
    })();
  }

  async appendUpdate(id: string, update: Uint8Array): Promise<number> {
    try {
      const info = this.stmt.append.run(id, Buffer.from(update.buffer, update.byteOffset, update.byteLength));
      return Number(info.lastInsertRowid);
    } catch (err) {
      throw new StorageError('IO', `could not store an update of ${id}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async compact(id: string, snapshot: Uint8Array, upToSeq: number): Promise<void> {
    this.db.transaction(() => {
      this.stmt.upsertSnapshot.run(id, Buffer.from(snapshot), upToSeq);
      this.stmt.deleteUpTo.run(id, upToSeq);
    })();
  }

  async countUpdates(id: string): Promise<number> {
    return this.stmt.count.get(id)?.n ?? 0;
  }

  private insertGrant(g: GrantRecord): void {
    this.stmt.insertGrant.run(g.id, g.notebookId, g.role, g.tokenHash, g.createdAt);
  }

  async createGrant(grant: GrantRecord): Promise<void> {
    try {
      this.insertGrant(grant);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new StorageError('NOT_FOUND', `notebook ${grant.notebookId} not found`, { cause: err });
      throw new StorageError('IO', `could not store a grant: ${(err as Error).message}`, { cause: err });
    }
  }

  async findGrant(tokenHash: string): Promise<GrantRecord | null> {
    const row = this.stmt.findGrant.get(tokenHash);
    return row ? toGrant(row) : null;
  }

  async listGrants(notebookId: string): Promise<GrantRecord[]> {
    return this.stmt.listGrants.all(notebookId).map(toGrant);
  }

  async deleteGrant(notebookId: string, grantId: string): Promise<boolean> {
    return this.stmt.deleteGrant.run(notebookId, grantId).changes > 0;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
