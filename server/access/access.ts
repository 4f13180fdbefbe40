// Who is asking: the instance admin (ADMIN_TOKEN), or the holder of a grant (a notebook's owner
// token, or an editor or viewer link). A grant opens only its own notebook. Revoking a link tells
// the listeners (the sync server closes the connections opened with it).
import fs from 'node:fs';
import path from 'node:path';
import type { GrantRecord, GrantRole, Storage } from '../storage/types';
import { hasRole, type Role } from './policy';
import { hashToken, MAX_TOKEN_CHARS, newGrantId, newToken, sameSecret } from './tokens';

/** File in DATA_DIR holding the generated admin token when ADMIN_TOKEN is unset (mode 0600). */
export const ADMIN_TOKEN_FILE = 'admin-token';
/** Key of the generated admin token in a storage that shares settings (PostgreSQL). */
export const ADMIN_TOKEN_SETTING = 'admin_token';

export type Principal = { kind: 'admin' } | { kind: 'grant'; grantId: string; notebookId: string; role: GrantRole };

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
  private revokeListeners = new Set<(grantId: string) => void>();

  constructor(
    private storage: Storage,
    private adminToken: string,
  ) {}

  /** The first credential that opens something (admin or a grant), or null. */
  async resolve(credentials: readonly string[]): Promise<Principal | null> {
    for (const c of credentials) {
      if (!c || c.length > MAX_TOKEN_CHARS) continue;
      if (sameSecret(c, this.adminToken)) return { kind: 'admin' };
      const g = await this.storage.findGrant(hashToken(c));
      if (g) return { kind: 'grant', grantId: g.id, notebookId: g.notebookId, role: g.role };
    }
    return null;
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
    const isDeleted = await this.storage.deleteGrant(notebookId, linkId);
    if (isDeleted) for (const cb of [...this.revokeListeners]) cb(linkId);
    return isDeleted;
  }

  onRevoke(cb: (grantId: string) => void): () => void {
    this.revokeListeners.add(cb);
    return () => this.revokeListeners.delete(cb);
  }
}
