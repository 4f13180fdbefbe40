// Who is asking: the instance admin (ADMIN_TOKEN), or the holder of a grant (a notebook's owner
// token, or an editor or viewer link). A grant opens only its own notebook. A browser holds neither
// token: opening a page with `?token=` signs it in, and its cookie holds a session id that stands
// for that principal until it is signed out, revoked or expires (docs/decisions/0026-admin-sessions.md).
// Revoking a link or ending a session tells the listeners (the sync server closes the connections
// opened with it).
import fs from 'node:fs';
import path from 'node:path';
import type { FoundSession, GrantRecord, GrantRole, Storage } from '../storage/types';
import { hasRole, type Role } from './policy';
import { adminSessionTag, hashToken, MAX_TOKEN_CHARS, newGrantId, newToken, sameHex, sameSecret } from './tokens';

/** File in DATA_DIR holding the generated admin token when ADMIN_TOKEN is unset (mode 0600). */
export const ADMIN_TOKEN_FILE = 'admin-token';
/** Key of the generated admin token in a storage that shares settings (PostgreSQL). */
export const ADMIN_TOKEN_SETTING = 'admin_token';

/** A browser's sign-in lasts at most this long, used or not (then the sign-in URL or link again). */
export const SESSION_ABSOLUTE_TIMEOUT_MS = 30 * 24 * 3600_000;
/** A sign-in unused for this long ends. */
export const SESSION_IDLE_TIMEOUT_MS = 7 * 24 * 3600_000;
/** A session's last use is written at most this often (not a database write per request). */
export const SESSION_TOUCH_MS = 5 * 60_000;
/**
 * Sessions kept per link (and for the admin): signing in once more ends the oldest, so a script
 * signing in with a link in a loop cannot grow the table without bound. A class of people sharing
 * one link stays far below it.
 */
export const MAX_SESSIONS_PER_PRINCIPAL = 1000;
/** How often expired sessions are deleted (and their open sockets closed). */
export const SESSION_SWEEP_MS = 10 * 60_000;

/**
 * What a request presents: a token (`Authorization: Bearer`, `?token=` on the WebSocket and on the
 * sign-in URL), or a session id (only ever from a page's cookie: a session id is no token, and a
 * token in a cookie is no session).
 */
export interface Credential {
  kind: 'token' | 'session';
  value: string;
}

/** `sessionHash`: the principal came from a browser's session (its id's sha256). */
export type Principal =
  | { kind: 'admin'; sessionHash?: string }
  | { kind: 'grant'; grantId: string; notebookId: string; role: GrantRole; sessionHash?: string };

/**
 * The key under which the sync server files a connection, so it can be closed when what opened it
 * ends: the session (signed out, revoked, expired), or the link it was opened with. null: the
 * admin token itself, which ends only when ADMIN_TOKEN changes (a restart).
 */
export function revocationKey(p: Principal): string | null {
  if (p.sessionHash) return sessionKey(p.sessionHash);
  return p.kind === 'grant' ? p.grantId : null;
}

const sessionKey = (idHash: string) => `session:${idHash}`;

/** What a link looks like from outside: never its token (shown once, when made). */
export interface LinkInfo {
  id: string;
  role: GrantRole;
  createdAt: number;
}

/**
 * The admin token: ADMIN_TOKEN when set, else the one kept in DATA_DIR, made at first start. Like
 * JUPYTER_TOKEN, whoever holds it can do everything.
 */
export function loadAdminToken(dataDir: string, fromEnv: string | undefined): { token: string; isGenerated: boolean; file?: string } {
  if (fromEnv) return { token: fromEnv, isGenerated: false };
  const file = path.join(dataDir, ADMIN_TOKEN_FILE);
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    const t = fs.readFileSync(file, 'utf8').trim();
    if (t) return { token: t, isGenerated: false, file };
  } catch {
    // first start
  }
  const token = newToken();
  // wx: never overwrite a token another process just wrote
  try {
    fs.writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch {
    return { token: fs.readFileSync(file, 'utf8').trim(), isGenerated: false, file };
  }
  return { token, isGenerated: true, file };
}

/**
 * The admin token of this instance: ADMIN_TOKEN when set; else, when the storage is shared by
 * several instances (PostgreSQL), the one kept in it, so every instance accepts the same token;
 * else the one kept in DATA_DIR.
 */
export async function resolveAdminToken(
  storage: Pick<Storage, 'ensureSetting'>,
  dataDir: string,
  fromEnv: string | undefined,
): Promise<{ token: string; isGenerated: boolean; file?: string; isInStorage?: boolean }> {
  if (fromEnv || !storage.ensureSetting) return loadAdminToken(dataDir, fromEnv);
  const { value, isCreated } = await storage.ensureSetting(ADMIN_TOKEN_SETTING, newToken);
  return { token: value, isGenerated: isCreated, isInStorage: true };
}

export class AccessService {
  private revokeListeners = new Set<(key: string) => void>();

  constructor(
    private storage: Storage,
    private adminToken: string,
  ) {}

  /** The first credential that opens something (admin or a grant), or null. */
  async resolve(credentials: readonly Credential[]): Promise<Principal | null> {
    return (await this.authenticate(credentials)).principal;
  }

  /**
   * The first credential that opens something, and the ones tried before it that open nothing (a
   * page clears cookies of ended sessions; a request whose credentials all fail counts as a wrong
   * guess).
   */
  async authenticate(credentials: readonly Credential[]): Promise<{ principal: Principal | null; rejected: Credential[] }> {
    const rejected: Credential[] = [];
    for (const c of credentials) {
      const p = !c.value || c.value.length > MAX_TOKEN_CHARS ? null : c.kind === 'token' ? await this.resolveToken(c.value) : await this.resolveSession(c.value);
      if (p) return { principal: p, rejected };
      rejected.push(c);
    }
    return { principal: null, rejected };
  }

  private async resolveToken(token: string): Promise<Principal | null> {
    if (sameSecret(token, this.adminToken)) return { kind: 'admin' };
    const g = await this.storage.findGrant(hashToken(token));
    return g ? { kind: 'grant', grantId: g.id, notebookId: g.notebookId, role: g.role } : null;
  }

  private async resolveSession(id: string, now = Date.now()): Promise<Principal | null> {
    const idHash = hashToken(id);
    const s = await this.storage.findSession(idHash);
    if (!s) return null;
    if (isExpired(s, now)) {
      await this.endSessionHashes([idHash]);
      return null;
    }
    let p: Principal | null = null;
    if (s.grantId === null) {
      // made with another admin token (ADMIN_TOKEN changed): not the admin's any more
      if (s.adminTag && sameHex(s.adminTag, adminSessionTag(this.adminToken, id))) p = { kind: 'admin', sessionHash: idHash };
    } else if (s.grant) {
      p = { kind: 'grant', grantId: s.grant.id, notebookId: s.grant.notebookId, role: s.grant.role, sessionHash: idHash };
    }
    if (!p) {
      await this.endSessionHashes([idHash]);
      return null;
    }
    if (now - s.usedAt >= SESSION_TOUCH_MS) await this.storage.touchSession(idHash, now);
    return p;
  }

  /** Signs a browser in as this principal: the new session's id, for its cookie (shown nowhere else). */
  async createSession(p: Principal, now = Date.now()): Promise<string> {
    const id = newToken();
    await this.storage.createSession({
      idHash: hashToken(id),
      grantId: p.kind === 'grant' ? p.grantId : null,
      adminTag: p.kind === 'admin' ? adminSessionTag(this.adminToken, id) : null,
      createdAt: now,
      usedAt: now,
    });
    this.notify(await this.storage.trimSessions(p.kind === 'grant' ? p.grantId : null, MAX_SESSIONS_PER_PRINCIPAL));
    return id;
  }

  /** Ends these sessions (a sign-out): their sockets close at once. Answers how many there were. */
  async endSessions(ids: readonly string[]): Promise<number> {
    return this.endSessionHashes(ids.filter((id) => id && id.length <= MAX_TOKEN_CHARS).map(hashToken));
  }

  /** Ends every admin browser session (the bearer admin token still works). */
  async endAdminSessions(): Promise<number> {
    return this.notify(await this.storage.deleteAdminSessions());
  }

  /** Deletes the expired sessions and closes their sockets. */
  async sweepSessions(now = Date.now()): Promise<number> {
    return this.notify(await this.storage.deleteExpiredSessions(now - SESSION_ABSOLUTE_TIMEOUT_MS, now - SESSION_IDLE_TIMEOUT_MS));
  }

  private async endSessionHashes(idHashes: readonly string[]): Promise<number> {
    if (!idHashes.length) return 0;
    return this.notify(await this.storage.deleteSessions(idHashes));
  }

  private notify(idHashes: readonly string[]): number {
    for (const h of idHashes) for (const cb of [...this.revokeListeners]) cb(sessionKey(h));
    return idHashes.length;
  }

  /** The principal's role on a notebook (null: it opens nothing there), or the admin's anywhere. */
  roleOn(p: Principal, notebookId: string | null): Role | null {
    if (p.kind === 'admin') return 'admin';
    if (notebookId === null || p.notebookId !== notebookId) return null;
    return p.role;
  }

  can(p: Principal, notebookId: string | null, need: Role): boolean {
    const role = this.roleOn(p, notebookId);
    return role !== null && hasRole(role, need);
  }

  /** A grant record and its token, to store with a new notebook (its owner) or as a link. */
  newGrant(notebookId: string, role: GrantRole): { grant: GrantRecord; token: string } {
    const token = newToken();
    return { grant: { id: newGrantId(), notebookId, role, tokenHash: hashToken(token), createdAt: Date.now() }, token };
  }

  async createLink(notebookId: string, role: 'editor' | 'viewer'): Promise<{ link: LinkInfo; token: string }> {
    const { grant, token } = this.newGrant(notebookId, role);
    await this.storage.createGrant(grant);
    return { link: { id: grant.id, role, createdAt: grant.createdAt }, token };
  }

  /** The notebook's links (the owner's own grant is not one: it cannot be revoked). */
  async listLinks(notebookId: string): Promise<LinkInfo[]> {
    return (await this.storage.listGrants(notebookId)).filter((g) => g.role !== 'owner').map((g) => ({ id: g.id, role: g.role, createdAt: g.createdAt }));
  }

  async revokeLink(notebookId: string, linkId: string): Promise<boolean> {
    const grants = await this.storage.listGrants(notebookId);
    const g = grants.find((x) => x.id === linkId);
    if (!g || g.role === 'owner') return false;
    // its browsers' sessions go with it (cascade); their sockets are filed under the sessions
    const sessions = await this.storage.listGrantSessions(linkId);
    const isDeleted = await this.storage.deleteGrant(notebookId, linkId);
    if (isDeleted) {
      for (const cb of [...this.revokeListeners]) cb(linkId);
      this.notify(sessions);
    }
    return isDeleted;
  }

  /** `cb(key)`: close what was opened under this revocationKey() */
  onRevoke(cb: (key: string) => void): () => void {
    this.revokeListeners.add(cb);
    return () => this.revokeListeners.delete(cb);
  }
}

function isExpired(s: FoundSession, now: number): boolean {
  return now - s.createdAt >= SESSION_ABSOLUTE_TIMEOUT_MS || now - s.usedAt >= SESSION_IDLE_TIMEOUT_MS;
}
