// Several instances (REDIS_URL; docs/decisions/0020): a request that needs a notebook's kernel
// (runs, generations, interrupt, restart, completion, files, deleting the notebook) is handled by
// the instance holding the notebook's lease. Reaching another instance, it is streamed to the owner
// as it came (method, path, headers with the original Host, body); the owner checks credentials and
// roles again (grants are in shared storage). A forwarded request carries FORWARDED_HEADER and is
// never forwarded again. When the owner does not answer (it stopped), this instance waits for its
// lease to expire, then takes the notebook and handles the request itself.
import http from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { LeaseHolder, NotebookLeases } from '../notebook/lease';

export const FORWARDED_HEADER = 'x-ynotebook-forwarded';
/** How long connecting to the owner may take before it counts as unreachable. */
export const FORWARD_CONNECT_TIMEOUT_MS = 3_000;
/** Between two looks at the lease of an owner that does not answer. */
const UNREACHABLE_RETRY_MS = 250;

const NB = '/notebooks/([^/]+)';
/** `claims`: the route needs the kernel, so a free notebook is taken here; the others only look. */
const KERNEL_ROUTES: { methods: string[]; path: RegExp; claims: boolean }[] = [
  { methods: ['POST'], path: new RegExp(`^${NB}/cells/[^/]+/(run|generate)$`), claims: true },
  { methods: ['POST'], path: new RegExp(`^${NB}/(run|restart)$`), claims: true },
  { methods: ['GET', 'HEAD', 'PUT', 'DELETE'], path: new RegExp(`^${NB}/files(/.*)?$`), claims: true },
  { methods: ['GET', 'DELETE'], path: new RegExp(`^${NB}/packages$`), claims: true },
  { methods: ['POST'], path: new RegExp(`^${NB}/cells/[^/]+/stop$`), claims: false },
  { methods: ['POST'], path: new RegExp(`^${NB}/(interrupt|complete|inspect)$`), claims: false },
  { methods: ['DELETE'], path: new RegExp(`^${NB}/?$`), claims: false },
];

/** The notebook a request (path relative to /api) needs the kernel of, or null. */
export function kernelRouteOf(method: string, path: string): { notebookId: string; claims: boolean } | null {
  for (const r of KERNEL_ROUTES) {
    if (!r.methods.includes(method)) continue;
    const m = r.path.exec(path);
    if (!m) continue;
    try {
      return { notebookId: decodeURIComponent(m[1]), claims: r.claims };
    } catch {
      return null;
    }
  }
  return null;
}

// hop-by-hop headers (RFC 9110 7.6.1) stay on their own connection
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'proxy-authenticate']);

function copyHeaders(from: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(from)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

function fail(res: Response, status: number, code: string, message: string): void {
  if (!res.headersSent) res.status(status).json({ error: { code, message } });
  else res.destroy();
}

/**
 * Streams the request to the owner. 'unreachable': no connection could be made, and nothing of the
 * request was read yet (it can still be handled here).
 */
function forwardOnce(req: Request, res: Response, holder: LeaseHolder, instanceId: string): Promise<'done' | 'unreachable'> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(req.originalUrl, holder.url);
    } catch {
      resolve('unreachable');
      return;
    }
    const headers = copyHeaders(req.headers);
    headers[FORWARDED_HEADER] = instanceId;
    const prior = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = [prior, req.socket.remoteAddress].filter(Boolean).join(', ');
    // a fresh connection each time: a kept-alive socket to a dead owner would fail mid-request
    const upstream = http.request(target, { method: req.method, headers, agent: false });
    let isConnected = false;
    let isSettled = false;
    const settle = (v: 'done' | 'unreachable') => {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(connectTimer);
      resolve(v);
    };
    const connectTimer = setTimeout(() => {
      if (!isConnected) upstream.destroy(new Error('connect timeout'));
    }, FORWARD_CONNECT_TIMEOUT_MS);
    upstream.on('socket', (socket) => {
      const onConnect = () => {
        isConnected = true;
        clearTimeout(connectTimer);
        // the body is read only once the owner is there: until then the request can still be served here
        req.pipe(upstream);
      };
      if (socket.connecting) socket.once('connect', onConnect);
      else onConnect();
    });
    upstream.on('response', (answer) => {
      res.status(answer.statusCode ?? 502);
      for (const [k, v] of Object.entries(copyHeaders(answer.headers))) if (v !== undefined) res.setHeader(k, v);
      answer.pipe(res);
      answer.on('end', () => settle('done'));
      answer.on('error', () => {
        res.destroy();
        settle('done');
      });
    });
    upstream.on('error', (err) => {
      if (!isConnected) return settle('unreachable');
      fail(res, 502, 'OWNER_LOST', `the server instance running this notebook stopped answering during the request (${err.message}); try again`);
      settle('done');
    });
    // the client went away: so does the forwarded request (a run still finishes on the owner)
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
      settle('done');
    });
  });
}

export interface ForwardOptions {
  leases: NotebookLeases;
  /** how long an unreachable owner is waited for (its lease expiring), then 503 */
  leaseMs: number;
  log: (level: 'info' | 'warn' | 'error', msg: string) => void;
}

/** After apiGuard: anonymous or unauthorized requests are refused here, never forwarded. */
export function forwardToOwner(opts: ForwardOptions) {
  const { leases } = opts;
  return async (req: Request, res: Response, next: NextFunction) => {
    const route = kernelRouteOf(req.method, req.path);
    if (!route) return next();
    const isForwarded = req.headers[FORWARDED_HEADER] !== undefined;
    const deadline = Date.now() + opts.leaseMs + FORWARD_CONNECT_TIMEOUT_MS;
    try {
      for (;;) {
        if (leases.isHeld(route.notebookId)) return next();
        const holder = route.claims ? await leases.claim(route.notebookId) : await leases.holder(route.notebookId);
        // free (a route that only looks: nothing runs anywhere; it is handled here) or ours
        if (!holder || holder.instance === leases.instanceId) return next();
        if (isForwarded) {
          return fail(res, 503, 'NOT_OWNER', `this request was forwarded to a server instance that does not run notebook ${route.notebookId} (it moved meanwhile); try again`);
        }
        if ((await forwardOnce(req, res, holder, leases.instanceId)) === 'done') return;
        if (Date.now() > deadline) {
          return fail(res, 503, 'OWNER_UNREACHABLE', `the server instance running this notebook (${holder.url}) does not answer and still holds it; try again in a few seconds`);
        }
        // it stopped, or is cut off: its lease is not renewed and expires within LEASE_SECONDS
        await new Promise((r) => setTimeout(r, UNREACHABLE_RETRY_MS));
      }
    } catch (err) {
      opts.log('warn', `forwarding ${req.method} ${req.path}: ${(err as Error).message}`);
      fail(res, 503, 'LEASE_UNAVAILABLE', 'cannot tell which server instance runs this notebook (Redis unreachable); try again');
    }
  };
}
