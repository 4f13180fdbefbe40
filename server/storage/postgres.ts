// PostgreSQL storage (node-postgres, one Pool), chosen by DATABASE_URL so several server instances
// can share notebooks (docs/decisions/0019-postgres-storage.md). Same contract as sqlite.ts: a write
// resolves only after its COMMIT, and every session runs with synchronous_commit=on, so an update
// acknowledged to a client survives a kill -9 of the server (and a crash of PostgreSQL itself).
import pg from 'pg';
import { StorageError, type FoundSession, type GrantRecord, type NotebookRecord, type SessionRecord, type Storage, type StoredUpdates } from './types';

/**
 * The schema, as numbered steps applied in order at boot and recorded in `schema_migrations`.
 * Never edit a step that has shipped: add the next one.
 */
export const MIGRATIONS: ReadonlyArray<{ id: number; name: string; sql: string }> = [
  {
    id: 1,
    name: 'notebooks, update log, snapshots, grants',
    sql: `
CREATE TABLE notebooks (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE snapshots (
  notebook_id TEXT PRIMARY KEY REFERENCES notebooks(id) ON DELETE CASCADE,
  state BYTEA NOT NULL,
  up_to_seq BIGINT NOT NULL
);
CREATE TABLE updates (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  notebook_id TEXT NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
  data BYTEA NOT NULL
);
CREATE INDEX updates_by_notebook ON updates(notebook_id, seq);
CREATE TABLE grants (
  id TEXT PRIMARY KEY,
  notebook_id TEXT NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);
CREATE INDEX grants_by_notebook ON grants(notebook_id, created_at);
`,
  },
  {
    id: 2,
    name: 'settings shared by every instance (the admin token)',
    sql: `CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  },
  {
    id: 3,
    name: "browsers' sign-ins (sessions instead of tokens in cookies)",
    sql: `
CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  grant_id TEXT REFERENCES grants(id) ON DELETE CASCADE,
  admin_tag TEXT,
  created_at BIGINT NOT NULL,
  used_at BIGINT NOT NULL,
  CHECK ((grant_id IS NULL) <> (admin_tag IS NULL))
);
CREATE INDEX sessions_by_grant ON sessions(grant_id);
`,
  },
];

/** Key of pg_advisory_xact_lock taken while migrating: instances booting together take turns. */
export const MIGRATION_LOCK_KEY = 0x796e62; // "ynb"
/** How long boot waits for an unreachable PostgreSQL (e.g. started by the same compose file). */
export const CONNECT_RETRY_MS = 30_000;
const CONNECT_RETRY_EVERY_MS = 1_000;
const POOL_MAX = 10;

/** The URL without its password (for messages and logs): `postgres://user@host:port/db`. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    const host = u.host || new URLSearchParams(u.search).get('host') || 'localhost';
    const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
    return `${u.protocol}//${user}${host}${u.pathname}`;
  } catch {
    return 'DATABASE_URL (unparsable)';
  }
}

/** Error codes of PostgreSQL that no retry fixes (bad password, unknown role or database). */
const PERMANENT_CONNECT_CODES = new Set(['28P01', '28000', '3D000', '42501']);

function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string') {
    if (/^E[A-Z]+$/.test(e.code)) return true; // ECONNREFUSED, ENOTFOUND, ETIMEDOUT, ECONNRESET…
    if (e.code.startsWith('08') || e.code === '57P01' || e.code === '57P02' || e.code === '57P03') return true;
  }
  return /Connection terminated|connection timeout|timeout expired|Client has encountered a connection error/i.test(e?.message ?? '');
}

interface NotebookRow {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
}

interface GrantRow {
  id: string;
  notebook_id: string;
  role: GrantRecord['role'];
  token_hash: string;
  created_at: string;
}

interface SessionRow {
  id_hash: string;
  grant_id: string | null;
  admin_tag: string | null;
  created_at: string;
  used_at: string;
  g_notebook_id: string | null;
  g_role: GrantRecord['role'] | null;
  g_token_hash: string | null;
  g_created_at: string | null;
}

// BIGINT arrives as a string (it may not fit a double); ours are milliseconds and sequence numbers
const toRecord = (r: NotebookRow): NotebookRecord => ({ id: r.id, title: r.title, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) });
const toGrant = (r: GrantRow): GrantRecord => ({ id: r.id, notebookId: r.notebook_id, role: r.role, tokenHash: r.token_hash, createdAt: Number(r.created_at) });
const toSession = (r: SessionRow): FoundSession => ({
  idHash: r.id_hash,
  grantId: r.grant_id,
  adminTag: r.admin_tag,
  createdAt: Number(r.created_at),
  usedAt: Number(r.used_at),
  grant: r.grant_id && r.g_role ? { id: r.grant_id, notebookId: r.g_notebook_id!, role: r.g_role, tokenHash: r.g_token_hash!, createdAt: Number(r.g_created_at) } : null,
});
const bytes = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

export interface PostgresStorageOptions {
  /** how long to keep trying an unreachable server at boot (default CONNECT_RETRY_MS; 0: once) */
  connectRetryMs?: number;
  log?: (level: 'info' | 'warn' | 'error', msg: string) => void;
  poolMax?: number;
}

/**
 * Connects (retrying an unreachable server for a while, saying so), runs the migrations, and
 * returns the storage. Throws StorageError('IO') naming the server, never its password.
 */
export async function openPostgresStorage(url: string, opts: PostgresStorageOptions = {}): Promise<PostgresStorage> {
  const storage = new PostgresStorage(url, opts);
  try {
    await storage.connectAndMigrate(opts.connectRetryMs ?? CONNECT_RETRY_MS);
  } catch (err) {
    await storage.close();
    throw err;
  }
  return storage;
}

export class PostgresStorage implements Storage {
  private pool: pg.Pool;
  private readonly where: string;
  private readonly password: string;
  private isClosed = false;
  private log: NonNullable<PostgresStorageOptions['log']>;

  constructor(url: string, opts: PostgresStorageOptions = {}) {
    this.where = describeDatabaseUrl(url);
    this.password = (() => {
      try {
        return decodeURIComponent(new URL(url).password);
      } catch {
        return '';
      }
    })();
    this.log = opts.log ?? (() => undefined);
    this.pool = new pg.Pool({
      connectionString: url,
      max: opts.poolMax ?? POOL_MAX,
      application_name: 'ynotebook',
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      // "acknowledged means durable" must not depend on the server's postgresql.conf (an
      // `options` in DATABASE_URL still wins; behind PgBouncer allow it: ignore_startup_parameters)
      options: '-c synchronous_commit=on',
    });
    // an idle client losing its connection (PostgreSQL restarted) must not take the process down;
    // the next query gets a fresh connection, and a failed append is retried by its room
    this.pool.on('error', (err) => this.log('warn', `PostgreSQL at ${this.where}: idle connection lost: ${this.scrub(err.message)}`));
  }

  /** Message of an error without the password (pg never prints it; an address might). */
  private scrub(msg: string): string {
    return this.password ? msg.split(this.password).join('***') : msg;
  }

  private toError(err: unknown, what: string): StorageError {
    if (err instanceof StorageError) return err;
    const e = err as { code?: string; message?: string };
    const msg = this.scrub(e?.message ?? String(err));
    if (e?.code === '23505') return new StorageError('DUPLICATE', `${what}: already exists (${msg})`, { cause: err });
    if (e?.code === '23503') return new StorageError('NOT_FOUND', `${what}: the notebook does not exist (${msg})`, { cause: err });
    if (isConnectionError(err)) return new StorageError('IO', `${what}: PostgreSQL at ${this.where} is unreachable: ${msg}`, { cause: err });
    return new StorageError('IO', `${what}: PostgreSQL at ${this.where}: ${msg}`, { cause: err });
  }

  private async query<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (err) {
      throw this.toError(err, what);
    }
  }

  /** Runs `fn` in one transaction on one connection; any error rolls it back. */
  private async transaction<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.toError(err, what);
    }
    try {
      await client.query(begin);
      const result = await fn(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      // a broken connection is dropped from the pool instead of being reused
      await client.query('ROLLBACK').then(
        () => client.release(),
        (e: Error) => client.release(e),
      );
      throw this.toError(err, what);
    }
  }

  /** @internal used by openPostgresStorage */
  async connectAndMigrate(retryMs: number): Promise<void> {
    const deadline = Date.now() + retryMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.migrate();
        return;
      } catch (err) {
        const cause = (err as StorageError).cause ?? err;
        const code = (cause as { code?: string }).code ?? '';
        const isRetryable = isConnectionError(cause) && !PERMANENT_CONNECT_CODES.has(code);
        if (!isRetryable || Date.now() + CONNECT_RETRY_EVERY_MS > deadline || this.isClosed) {
          throw err instanceof StorageError ? err : this.toError(err, 'connecting');
        }
        if (attempt === 1) this.log('warn', `waiting for PostgreSQL at ${this.where} (${this.scrub((cause as Error).message)}); retrying for ${Math.round(retryMs / 1000)} s`);
        await new Promise((r) => setTimeout(r, CONNECT_RETRY_EVERY_MS));
      }
    }
  }

  /**
   * Applies the migrations this database lacks, all in one transaction, under an advisory lock:
   * instances booting together take turns, and the second finds nothing left to do.
   */
  async migrate(): Promise<number[]> {
    return this.transaction('migrating the schema', async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
      const done = new Set((await c.query<{ id: number }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id));
      const applied: number[] = [];
      for (const m of MIGRATIONS) {
        if (done.has(m.id)) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
        applied.push(m.id);
      }
      const newest = Math.max(0, ...done);
      if (newest > MIGRATIONS[MIGRATIONS.length - 1].id) {
        this.log('warn', `PostgreSQL at ${this.where} has schema migration ${newest}, newer than this server knows: an older server is running against a newer database`);
      }
      if (applied.length) this.log('info', `PostgreSQL at ${this.where}: applied schema migrations ${applied.join(', ')}`);
      return applied;
    });
  }

  async createNotebook(rec: { id: string; title: string }, initialState?: Uint8Array, ownerGrant?: GrantRecord): Promise<NotebookRecord> {
    const now = Date.now();
    try {
      await this.transaction('could not create notebook', async (c) => {
        await c.query('INSERT INTO notebooks (id, title, created_at, updated_at) VALUES ($1, $2, $3, $4)', [rec.id, rec.title, now, now]);
        if (ownerGrant) await c.query('INSERT INTO grants (id, notebook_id, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)', [ownerGrant.id, ownerGrant.notebookId, ownerGrant.role, ownerGrant.tokenHash, ownerGrant.createdAt]);
        if (initialState) await c.query('INSERT INTO updates (notebook_id, data) VALUES ($1, $2)', [rec.id, bytes(initialState)]);
      });
    } catch (err) {
      if ((err as StorageError).code === 'DUPLICATE') throw new StorageError('DUPLICATE', `notebook ${rec.id} already exists`, { cause: err });
      throw err;
    }
    return { id: rec.id, title: rec.title, createdAt: now, updatedAt: now };
  }

  async getNotebook(id: string): Promise<NotebookRecord | null> {
    const r = await this.query<NotebookRow>(`could not read notebook ${id}`, 'SELECT * FROM notebooks WHERE id = $1', [id]);
    return r.rows[0] ? toRecord(r.rows[0]) : null;
  }

  async listNotebooks(): Promise<NotebookRecord[]> {
    const r = await this.query<NotebookRow>('could not list notebooks', 'SELECT * FROM notebooks ORDER BY updated_at DESC, id');
    return r.rows.map(toRecord);
  }

  async touchNotebook(id: string, patch: { title?: string; updatedAt: number }): Promise<void> {
    if (patch.title !== undefined) await this.query(`could not touch ${id}`, 'UPDATE notebooks SET updated_at = $1, title = $2 WHERE id = $3', [patch.updatedAt, patch.title, id]);
    else await this.query(`could not touch ${id}`, 'UPDATE notebooks SET updated_at = $1 WHERE id = $2', [patch.updatedAt, id]);
  }

  async deleteNotebook(id: string): Promise<void> {
    await this.query(`could not delete notebook ${id}`, 'DELETE FROM notebooks WHERE id = $1', [id]);
  }

  async loadUpdates(id: string): Promise<StoredUpdates> {
    // one snapshot of the database for both reads: a compaction in between cannot tear them
    return this.transaction(
      `could not load notebook ${id}`,
      async (c) => {
        const snap = (await c.query<{ state: Buffer; up_to_seq: string }>('SELECT state, up_to_seq FROM snapshots WHERE notebook_id = $1', [id])).rows[0];
        const rows = (await c.query<{ seq: string; data: Buffer }>('SELECT seq, data FROM updates WHERE notebook_id = $1 ORDER BY seq', [id])).rows;
        return {
          snapshot: snap ? new Uint8Array(snap.state) : null,
          updates: rows.map((r) => new Uint8Array(r.data)),
          lastSeq: rows.length ? Number(rows[rows.length - 1].seq) : Number(snap?.up_to_seq ?? 0),
        };
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
  }

  async appendUpdate(id: string, update: Uint8Array): Promise<number> {
    // one statement, autocommitted: it resolves after COMMIT (synchronous_commit=on: WAL flushed)
    const r = await this.query<{ seq: string }>(`could not store an update of ${id}`, 'INSERT INTO updates (notebook_id, data) VALUES ($1, $2) RETURNING seq', [id, bytes(update)]);
    return Number(r.rows[0].seq);
  }

  async compact(id: string, snapshot: Uint8Array, upToSeq: number): Promise<void> {
    await this.transaction(`could not compact ${id}`, async (c) => {
      await c.query(
        `INSERT INTO snapshots (notebook_id, state, up_to_seq) VALUES ($1, $2, $3)
         ON CONFLICT (notebook_id) DO UPDATE SET state = excluded.state, up_to_seq = excluded.up_to_seq`,
        [id, bytes(snapshot), upToSeq],
      );
      await c.query('DELETE FROM updates WHERE notebook_id = $1 AND seq <= $2', [id, upToSeq]);
    });
  }

  async countUpdates(id: string): Promise<number> {
    const r = await this.query<{ n: number }>(`could not count updates of ${id}`, 'SELECT COUNT(*)::int AS n FROM updates WHERE notebook_id = $1', [id]);
    return r.rows[0]?.n ?? 0;
  }

  async createGrant(g: GrantRecord): Promise<void> {
    await this.query('could not store a grant', 'INSERT INTO grants (id, notebook_id, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)', [g.id, g.notebookId, g.role, g.tokenHash, g.createdAt]);
  }

  async findGrant(tokenHash: string): Promise<GrantRecord | null> {
    const r = await this.query<GrantRow>('could not look up a grant', 'SELECT * FROM grants WHERE token_hash = $1', [tokenHash]);
    return r.rows[0] ? toGrant(r.rows[0]) : null;
  }

  async listGrants(notebookId: string): Promise<GrantRecord[]> {
    const r = await this.query<GrantRow>(`could not list grants of ${notebookId}`, 'SELECT * FROM grants WHERE notebook_id = $1 ORDER BY created_at, id', [notebookId]);
    return r.rows.map(toGrant);
  }

  async deleteGrant(notebookId: string, grantId: string): Promise<boolean> {
    const r = await this.query(`could not delete a grant of ${notebookId}`, 'DELETE FROM grants WHERE notebook_id = $1 AND id = $2', [notebookId, grantId]);
    return (r.rowCount ?? 0) > 0;
  }

  async createSession(x: SessionRecord): Promise<void> {
    await this.query('could not store a session', 'INSERT INTO sessions (id_hash, grant_id, admin_tag, created_at, used_at) VALUES ($1, $2, $3, $4, $5)', [x.idHash, x.grantId, x.adminTag, x.createdAt, x.usedAt]);
  }

  async findSession(idHash: string): Promise<FoundSession | null> {
    const r = await this.query<SessionRow>(
      'could not look up a session',
      `SELECT s.*, g.notebook_id AS g_notebook_id, g.role AS g_role, g.token_hash AS g_token_hash, g.created_at AS g_created_at
       FROM sessions s LEFT JOIN grants g ON g.id = s.grant_id WHERE s.id_hash = $1`,
      [idHash],
    );
    return r.rows[0] ? toSession(r.rows[0]) : null;
  }

  async touchSession(idHash: string, usedAt: number): Promise<void> {
    await this.query('could not touch a session', 'UPDATE sessions SET used_at = $1 WHERE id_hash = $2 AND used_at < $1', [usedAt, idHash]);
  }

  async deleteSessions(idHashes: readonly string[]): Promise<string[]> {
    if (!idHashes.length) return [];
    const r = await this.query<{ id_hash: string }>('could not end sessions', 'DELETE FROM sessions WHERE id_hash = ANY($1::text[]) RETURNING id_hash', [[...idHashes]]);
    return r.rows.map((x) => x.id_hash);
  }

  async deleteAdminSessions(): Promise<string[]> {
    const r = await this.query<{ id_hash: string }>("could not end the admin's sessions", 'DELETE FROM sessions WHERE grant_id IS NULL RETURNING id_hash');
    return r.rows.map((x) => x.id_hash);
  }

  async listGrantSessions(grantId: string): Promise<string[]> {
    const r = await this.query<{ id_hash: string }>(`could not list the sessions of grant ${grantId}`, 'SELECT id_hash FROM sessions WHERE grant_id = $1', [grantId]);
    return r.rows.map((x) => x.id_hash);
  }

  async trimSessions(grantId: string | null, keep: number): Promise<string[]> {
    const r = await this.query<{ id_hash: string }>(
      'could not trim sessions',
      `DELETE FROM sessions WHERE id_hash IN
         (SELECT id_hash FROM sessions WHERE grant_id IS NOT DISTINCT FROM $1 ORDER BY created_at DESC, id_hash OFFSET $2)
       RETURNING id_hash`,
      [grantId, keep],
    );
    return r.rows.map((x) => x.id_hash);
  }

  async deleteExpiredSessions(createdBefore: number, usedBefore: number): Promise<string[]> {
    const r = await this.query<{ id_hash: string }>('could not end expired sessions', 'DELETE FROM sessions WHERE created_at < $1 OR used_at < $2 RETURNING id_hash', [createdBefore, usedBefore]);
    return r.rows.map((x) => x.id_hash);
  }

  async ensureSetting(key: string, make: () => string): Promise<{ value: string; isCreated: boolean }> {
    const candidate = make();
    // whoever inserts first wins; everyone else reads the winner's value
    const inserted = await this.query<{ value: string }>(`could not store setting ${key}`, 'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value', [key, candidate]);
    if (inserted.rows[0]) return { value: inserted.rows[0].value, isCreated: true };
    const r = await this.query<{ value: string }>(`could not read setting ${key}`, 'SELECT value FROM settings WHERE key = $1', [key]);
    return { value: r.rows[0].value, isCreated: false };
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await this.pool.end();
  }
}
