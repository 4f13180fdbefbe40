// One storage interface for notebooks and their Yjs updates. SQLite implements it (the default);
// PostgreSQL does too (DATABASE_URL, several server instances: docs/decisions/0019-postgres-storage.md).

export interface NotebookRecord {
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
}

export type GrantRole = 'owner' | 'editor' | 'viewer';

/**
 * An access grant: a token that opens one notebook with one role. Only the token's sha256 is
 * stored; the token itself is shown once, when the grant is made.
 */
export interface GrantRecord {
  id: string;
  notebookId: string;
  role: GrantRole;
  tokenHash: string;
  createdAt: number;
}

/**
 * A browser's sign-in (docs/decisions/0026-admin-sessions.md): what a page's cookie holds instead
 * of a token. Only the session id's sha256 is stored; the id itself lives in the cookie only.
 */
export interface SessionRecord {
  idHash: string;
  /** the link (or owner grant) it was opened with; null: the instance admin's */
  grantId: string | null;
  /** admin sessions: adminSessionTag(admin token, id), so a new ADMIN_TOKEN ends them */
  adminTag: string | null;
  createdAt: number;
  /** last time it was used (updated at most every SESSION_TOUCH_MS) */
  usedAt: number;
}

/** A session and, for a link's session, its grant (which opens the notebook). */
export interface FoundSession extends SessionRecord {
  grant: GrantRecord | null;
}

export interface StoredUpdates {
  /** the compacted state (a Yjs update), or null when never compacted */
  snapshot: Uint8Array | null;
  /** updates appended after the snapshot, oldest first */
  updates: Uint8Array[];
  /** sequence number of the last update returned; pass it to compact() */
  lastSeq: number;
}

export interface Storage {
  /**
   * Creates the record, and with `initialState` (a Yjs update) its document too, in one step: the
   * notebook is listed with its content or not at all (an import never shows half-made).
   */
  createNotebook(rec: { id: string; title: string }, initialState?: Uint8Array, ownerGrant?: GrantRecord): Promise<NotebookRecord>;
  getNotebook(id: string): Promise<NotebookRecord | null>;
  listNotebooks(): Promise<NotebookRecord[]>;
  /** title and updatedAt are derived from the document; the document stays the source of truth */
  touchNotebook(id: string, patch: { title?: string; updatedAt: number }): Promise<void>;
  deleteNotebook(id: string): Promise<void>;
  loadUpdates(id: string): Promise<StoredUpdates>;
  /** resolves once the update is durable (acknowledged to nobody before that) */
  appendUpdate(id: string, update: Uint8Array): Promise<number>;
  /** replaces every update with seq <= upToSeq by one snapshot, atomically */
  compact(id: string, snapshot: Uint8Array, upToSeq: number): Promise<void>;
  /** how many updates are stored after the snapshot */
  countUpdates(id: string): Promise<number>;
  createGrant(grant: GrantRecord): Promise<void>;
  /** the grant whose token has this sha256, or null */
  findGrant(tokenHash: string): Promise<GrantRecord | null>;
  listGrants(notebookId: string): Promise<GrantRecord[]>;
  /** true when a grant of that notebook was deleted */
  deleteGrant(notebookId: string, grantId: string): Promise<boolean>;
  /** a grant's session goes with its grant, and with its notebook (cascade) */
  createSession(session: SessionRecord): Promise<void>;
  findSession(idHash: string): Promise<FoundSession | null>;
  touchSession(idHash: string, usedAt: number): Promise<void>;
  /** the id hashes of the sessions deleted */
  deleteSessions(idHashes: readonly string[]): Promise<string[]>;
  /** ends every admin session; answers their id hashes */
  deleteAdminSessions(): Promise<string[]>;
  /** the id hashes of a grant's sessions (to close their sockets before the grant goes) */
  listGrantSessions(grantId: string): Promise<string[]>;
  /** ends all but the `keep` newest sessions of this grant (null: of the admin); answers the id hashes ended */
  trimSessions(grantId: string | null, keep: number): Promise<string[]>;
  /** ends the sessions made before `createdBefore` or unused since `usedBefore`; answers their id hashes */
  deleteExpiredSessions(createdBefore: number, usedBefore: number): Promise<string[]>;
  /**
   * Optional: a value shared by every instance on this storage, made by `make` the first time
   * (whoever stores first wins). PostgreSQL implements it for the admin token; without it the
   * token is kept in DATA_DIR.
   */
  ensureSetting?(key: string, make: () => string): Promise<{ value: string; isCreated: boolean }>;
  close(): Promise<void>;
}

export class StorageError extends Error {
  constructor(
    readonly code: 'NOT_FOUND' | 'DUPLICATE' | 'IO',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}
