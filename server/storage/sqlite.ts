// SQLite storage (better-sqlite3, WAL). A write returns only after SQLite has committed it, so an
// update acknowledged to any client survives a kill -9 of the server.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StorageError, type FoundSession, type GrantRecord, type NotebookRecord, type SessionRecord, type Storage, type StoredUpdates } from './types';

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
-- browsers' sign-ins (0026); IF NOT EXISTS: a database of an older version gains it at open
CREATE TABLE IF NOT EXISTS sessions (
  id_hash TEXT PRIMARY KEY,
  grant_id TEXT REFERENCES grants(id) ON DELETE CASCADE,
  admin_tag TEXT,
  created_at INTEGER NOT NULL,
  used_at INTEGER NOT NULL,
  CHECK ((grant_id IS NULL) <> (admin_tag IS NULL))
);
CREATE INDEX IF NOT EXISTS sessions_by_grant ON sessions(grant_id);
`;

interface SessionRow {
  id_hash: string;
  grant_id: string | null;
  admin_tag: string | null;
  created_at: number;
  used_at: number;
  g_notebook_id: string | null;
  g_role: GrantRecord['role'] | null;
  g_token_hash: string | null;
  g_created_at: number | null;
}

const toSession = (r: SessionRow): FoundSession => ({
  idHash: r.id_hash,
  grantId: r.grant_id,
  adminTag: r.admin_tag,
  createdAt: r.created_at,
  usedAt: r.used_at,
  grant: r.grant_id && r.g_role ? { id: r.grant_id, notebookId: r.g_notebook_id!, role: r.g_role, tokenHash: r.g_token_hash!, createdAt: r.g_created_at! } : null,
});

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
      insertSession: this.db.prepare('INSERT INTO sessions (id_hash, grant_id, admin_tag, created_at, used_at) VALUES (?, ?, ?, ?, ?)'),
      findSession: this.db.prepare<[string], SessionRow>(
        `SELECT s.*, g.notebook_id AS g_notebook_id, g.role AS g_role, g.token_hash AS g_token_hash, g.created_at AS g_created_at
         FROM sessions s LEFT JOIN grants g ON g.id = s.grant_id WHERE s.id_hash = ?`,
      ),
      touchSession: this.db.prepare('UPDATE sessions SET used_at = ? WHERE id_hash = ? AND used_at < ?'),
      deleteSession: this.db.prepare<[string], { id_hash: string }>('DELETE FROM sessions WHERE id_hash = ? RETURNING id_hash'),
      deleteAdminSessions: this.db.prepare<[], { id_hash: string }>('DELETE FROM sessions WHERE grant_id IS NULL RETURNING id_hash'),
      grantSessions: this.db.prepare<[string], { id_hash: string }>('SELECT id_hash FROM sessions WHERE grant_id = ?'),
      trimSessions: this.db.prepare<[string | null, number], { id_hash: string }>(
        `DELETE FROM sessions WHERE id_hash IN
           (SELECT id_hash FROM sessions WHERE grant_id IS ? ORDER BY created_at DESC, id_hash LIMIT -1 OFFSET ?)
         RETURNING id_hash`,
      ),
      deleteExpiredSessions: this.db.prepare<[number, number], { id_hash: string }>('DELETE FROM sessions WHERE created_at < ? OR used_at < ? RETURNING id_hash'),
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

  async createSession(x: SessionRecord): Promise<void> {
    try {
      this.stmt.insertSession.run(x.idHash, x.grantId, x.adminTag, x.createdAt, x.usedAt);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new StorageError('NOT_FOUND', `grant ${x.grantId} not found`, { cause: err });
      throw new StorageError('IO', `could not store a session: ${(err as Error).message}`, { cause: err });
    }
  }

  async findSession(idHash: string): Promise<FoundSession | null> {
    const row = this.stmt.findSession.get(idHash);
    return row ? toSession(row) : null;
  }

  async touchSession(idHash: string, usedAt: number): Promise<void> {
    this.stmt.touchSession.run(usedAt, idHash, usedAt);
  }

  async deleteSessions(idHashes: readonly string[]): Promise<string[]> {
    return this.db.transaction(() => idHashes.flatMap((h) => this.stmt.deleteSession.all(h).map((r) => r.id_hash)))();
  }

  async deleteAdminSessions(): Promise<string[]> {
    return this.stmt.deleteAdminSessions.all().map((r) => r.id_hash);
  }

  async listGrantSessions(grantId: string): Promise<string[]> {
    return this.stmt.grantSessions.all(grantId).map((r) => r.id_hash);
  }

  async trimSessions(grantId: string | null, keep: number): Promise<string[]> {
    return this.stmt.trimSessions.all(grantId, keep).map((r) => r.id_hash);
  }

  async deleteExpiredSessions(createdBefore: number, usedBefore: number): Promise<string[]> {
    return this.stmt.deleteExpiredSessions.all(createdBefore, usedBefore).map((r) => r.id_hash);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
