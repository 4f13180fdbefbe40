// Who may do what, in one table: every HTTP route of the API maps to the least role that may use
// it. A route this table does not know needs the admin (deny by default). The WebSocket's rule is
// the same: a viewer syncs and shows presence, only editors change the document. HEAD is a GET
// without its body, so it needs what the GET needs.
export type Role = 'viewer' | 'editor' | 'owner' | 'admin';

const RANK: Record<Role, number> = { viewer: 1, editor: 2, owner: 3, admin: 4 };

export function hasRole(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

/** `anyone`: no credential needed (signing out: it ends whatever the request's cookies hold). */
export type Need = Role | 'anyone';
/** What the rate limiter counts per credential (server/access/rate-limit.ts). */
export type Limited = 'run' | 'generate' | 'complete' | 'link';

export interface RouteRule {
  /** the notebook the route is about, when it is about one */
  notebookId: string | null;
  need: Need;
  /** counted by the rate limiter */
  limited?: Limited;
}

const NB = '/notebooks/([^/]+)';
const RULES: { method: string; path: RegExp; need: Need; limited?: Limited }[] = [
  { method: 'POST', path: /^\/session\/sign-out\/?$/, need: 'anyone' },
  { method: 'DELETE', path: /^\/admin\/sessions\/?$/, need: 'admin' },
  { method: 'GET', path: /^\/notebooks\/?$/, need: 'admin' },
  { method: 'POST', path: /^\/notebooks\/?$/, need: 'admin' },
  { method: 'POST', path: /^\/notebooks\/import\/?$/, need: 'admin' },
  { method: 'GET', path: new RegExp(`^${NB}/?$`), need: 'viewer' },
  { method: 'DELETE', path: new RegExp(`^${NB}/?$`), need: 'admin' },
  // rename: whoever may edit the notebook, as in Jupyter; an editor can change the title in the
  // document anyway (docs/decisions/0015-home-page-actions.md)
  { method: 'PATCH', path: new RegExp(`^${NB}/?$`), need: 'editor' },
  // duplicate: a new notebook with a new owner, so the admin's, like create and import
  { method: 'POST', path: new RegExp(`^${NB}/duplicate$`), need: 'admin' },
  { method: 'GET', path: new RegExp(`^${NB}/export\\.ipynb$`), need: 'viewer' },
  { method: 'GET', path: new RegExp(`^${NB}/files(/.*)?$`), need: 'viewer' },
  { method: 'PUT', path: new RegExp(`^${NB}/files/.*$`), need: 'editor' },
  { method: 'DELETE', path: new RegExp(`^${NB}/files/.*$`), need: 'editor' },
  // what `pip install` left in the notebook's prefix runs at every kernel start: its owner's to see and remove (0025)
  { method: 'GET', path: new RegExp(`^${NB}/packages$`), need: 'owner' },
  { method: 'DELETE', path: new RegExp(`^${NB}/packages$`), need: 'owner' },
  { method: 'POST', path: new RegExp(`^${NB}/cells/[^/]+/run$`), need: 'editor', limited: 'run' },
  { method: 'POST', path: new RegExp(`^${NB}/run$`), need: 'editor', limited: 'run' },
  { method: 'POST', path: new RegExp(`^${NB}/cells/[^/]+/generate$`), need: 'editor', limited: 'generate' },
  { method: 'POST', path: new RegExp(`^${NB}/cells/[^/]+/stop$`), need: 'editor' },
  { method: 'POST', path: new RegExp(`^${NB}/(interrupt|restart)$`), need: 'editor' },
  // completion and help read the kernel's state; editor only: a request reaches the kernel (and
  // `inspect` with detail 1 shows source), and only editors can run code there anyway
  { method: 'POST', path: new RegExp(`^${NB}/(complete|inspect)$`), need: 'editor', limited: 'complete' },
  { method: 'GET', path: new RegExp(`^${NB}/links/?$`), need: 'owner' },
  { method: 'POST', path: new RegExp(`^${NB}/links/?$`), need: 'owner', limited: 'link' },
  { method: 'DELETE', path: new RegExp(`^${NB}/links/[^/]+$`), need: 'owner' },
];

/** The rule for an API request (`path` relative to /api, still percent-encoded). */
export function ruleFor(method: string, path: string): RouteRule {
  const asMethod = method === 'HEAD' ? 'GET' : method;
  for (const r of RULES) {
    if (r.method !== asMethod) continue;
    const m = r.path.exec(path);
    if (!m) continue;
    const notebookId = m[1] === undefined ? null : decodeSegment(m[1]);
    return { notebookId, need: r.need, ...(r.limited ? { limited: r.limited } : {}) };
  }
  // also a notebook route we do not know (a typo, a wrong method): say 404/405 to its members
  const nb = new RegExp(`^${NB}(/.*)?$`).exec(path);
  if (nb && nb[1] !== 'import') return { notebookId: decodeSegment(nb[1]), need: 'viewer' };
  return { notebookId: null, need: 'admin' };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
