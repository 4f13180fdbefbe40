// The HTTP side of access control and cross-site protection (docs/decisions/0011-access-control.md,
// 0026-admin-sessions.md):
// - Host allow-list on every request and upgrade (stops DNS rebinding); a Host that is not a plain
//   `name[:port]` is refused the same way;
// - Origin check on state-changing requests and every WebSocket upgrade (stops cross-site requests
//   and WebSocket hijacking): only the app's own origin and ALLOWED_ORIGINS pass;
// - credentials: tokens as `Authorization: Bearer` on the API and `?token=` on the WebSocket; a page
//   opened with `?token=` signs the browser in: its HttpOnly, SameSite=Strict cookie holds a
//   session id, never the token, and serves the page's own requests and socket;
// - the route policy (server/access/policy.ts): 401 without a credential, 403 with the wrong one;
// - rate limits (429): per credential on what costs, per client address on wrong credentials;
// - security headers on pages.
import type { IncomingMessage } from 'node:http';
import type { CookieOptions, NextFunction, Request, Response } from 'express';
import { SESSION_ABSOLUTE_TIMEOUT_MS, type AccessService, type Credential, type Principal } from '../access/access';
import { ruleFor, type Role } from '../access/policy';
import { LIMITED_NOUN, type RateLimiter } from '../access/rate-limit';

export const ADMIN_COOKIE = 'ynb_admin';
const NOTEBOOK_COOKIE_PREFIX = 'ynb_nb_';
/** One cookie per notebook, so links to several notebooks live side by side in one browser. */
export const notebookCookie = (notebookId: string) => `${NOTEBOOK_COOKIE_PREFIX}${notebookId}`;

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];
/**
 * What a Host header may look like: a name or an address, and a port. Anything else (userinfo as
 * in `evil.com@localhost`, a path, spaces) names no host of ours, and would break the URLs built
 * from it further on.
 */
const HOST_HEADER = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::\d{1,5})?$/;

export interface SecurityOptions {
  /** the interface the server is bound to (HOST) */
  bindHost: string;
  publicUrl?: string;
  /** ALLOWED_HOSTS: extra host names (or `*` for any: only behind a proxy that checks Host itself) */
  allowedHosts: string[];
  /** ALLOWED_ORIGINS: extra origins allowed to make state-changing requests and open WebSockets */
  allowedOrigins: string[];
}

export class RequestGuard {
  private hosts: Set<string>;
  private anyHost: boolean;
  private origins: Set<string>;

  constructor(private opts: SecurityOptions) {
    this.anyHost = opts.allowedHosts.includes('*');
    const hosts = [...LOOPBACK_HOSTS, ...opts.allowedHosts.map((h) => h.toLowerCase())];
    const bind = opts.bindHost.toLowerCase();
    if (!['0.0.0.0', '::', '[::]'].includes(bind)) hosts.push(bind.includes(':') && !bind.startsWith('[') ? `[${bind}]` : bind);
    if (opts.publicUrl) hosts.push(new URL(opts.publicUrl).hostname.toLowerCase());
    this.hosts = new Set(hosts);
    this.origins = new Set(opts.allowedOrigins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
    if (opts.publicUrl) this.origins.add(new URL(opts.publicUrl).origin.toLowerCase());
  }

  /** True when the request's Host names this app (not some other name that resolves to us). */
  isHostAllowed(req: IncomingMessage): boolean {
    if (this.anyHost) return HOST_HEADER.test(req.headers.host ?? '');
    const host = req.headers.host;
    if (!host || !HOST_HEADER.test(host)) return false;
    let hostname: string;
    try {
      hostname = new URL(`http://${host}`).hostname.toLowerCase();
    } catch {
      return false;
    }
    return this.hosts.has(hostname);
  }

  /** True when the request carries no Origin (not a browser's cross-site call) or our own. */
  isOriginAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    const o = origin.toLowerCase();
    if (this.origins.has(o)) return true;
    if (o === 'null') return false;
    let url: URL;
    try {
      url = new URL(o);
    } catch {
      return false;
    }
    // the app's own origin: the page was served by this very host and port
    return url.host === (req.headers.host ?? '').toLowerCase() && this.isHostAllowed(req);
  }
}

function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const name = part.slice(0, i).trim();
    let value = part.slice(i + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      continue;
    }
    if (name && !out.has(name)) out.set(name, value);
  }
  return out;
}

/** A credential and, for a session, the cookie it came in (cleared when the session has ended). */
export type PresentedCredential = Credential & { cookie?: string };

/**
 * The credentials a request carries: tokens first (Bearer, then `?token=` where asked), then the
 * session cookies (the notebook's, then the admin's). A cookie is only ever read as a session id.
 */
export function credentialsOf(req: IncomingMessage, notebookId: string | null, opts: { query?: boolean } = {}): PresentedCredential[] {
  const found: PresentedCredential[] = [];
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) found.push({ kind: 'token', value: m[1] });
  }
  if (opts.query) {
    const t = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    if (t) found.push({ kind: 'token', value: t });
  }
  const cookies = parseCookies(req.headers.cookie);
  if (notebookId) {
    const name = notebookCookie(notebookId);
    const c = cookies.get(name);
    if (c) found.push({ kind: 'session', value: c, cookie: name });
  }
  const admin = cookies.get(ADMIN_COOKIE);
  if (admin) found.push({ kind: 'session', value: admin, cookie: ADMIN_COOKIE });
  return found;
}

/** Every session cookie a request carries (signing out ends them all). */
export function sessionCookiesOf(req: IncomingMessage): { name: string; value: string }[] {
  return [...parseCookies(req.headers.cookie)].filter(([name]) => name === ADMIN_COOKIE || name.startsWith(NOTEBOOK_COOKIE_PREFIX)).map(([name, value]) => ({ name, value }));
}

export function sessionCookieOptions(isSecure: boolean): CookieOptions {
  return { httpOnly: true, sameSite: 'strict', secure: isSecure, path: '/', maxAge: SESSION_ABSOLUTE_TIMEOUT_MS };
}

export function clearSessionCookie(res: Response, name: string, isSecure: boolean): void {
  const { maxAge: _unused, ...opts } = sessionCookieOptions(isSecure);
  res.clearCookie(name, opts);
}

/** The address wrong credentials are counted against (the peer: a proxy's, behind one). */
export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

export type Authenticated = { ok: true; principal: Principal | null; rejected: PresentedCredential[] } | { ok: false; retryAfterMs: number; perMinute: number };

/**
 * Resolves a request's credentials, counting a request whose credentials all fail against its
 * address. Over that budget, tokens from the address are not even looked at until it refills (a
 * guess gets 429, right or wrong); session cookies still are: a 256-bit session id is not guessed
 * anyway, and people already signed in behind the same address (a proxy, loopback) keep working.
 */
export async function authenticate(req: IncomingMessage, access: AccessService, limiter: RateLimiter, credentials: PresentedCredential[]): Promise<Authenticated> {
  const address = clientAddress(req);
  let usable = credentials;
  if (credentials.some((c) => c.kind === 'token')) {
    const room = limiter.peek(address, 'failedAuth');
    if (!room.ok) {
      usable = credentials.filter((c) => c.kind === 'session');
      if (!usable.length) return room;
    }
  }
  const { principal, rejected } = await access.authenticate(usable);
  if (!principal && credentials.length) {
    const r = limiter.take(address, 'failedAuth');
    if (!r.ok && usable.length < credentials.length) return r;
  }
  return { ok: true, principal, rejected: rejected as PresentedCredential[] };
}

function tooManyWrong(r: { retryAfterMs: number; perMinute: number }): string {
  return `too many requests with a wrong token from this address: at most ${r.perMinute} a minute; try again in ${Math.ceil(r.retryAfterMs / 1000)} s`;
}

function deny(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

declare module 'express-serve-static-core' {
  interface Locals {
    principal?: Principal;
    role?: Role | null;
  }
}

/** Refuses requests for another host name with 421 (they are not for this app). */
export function hostGuard(guard: RequestGuard) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (guard.isHostAllowed(req)) return next();
    res.status(421).type('text/plain').send(`This server does not answer to the host name "${req.headers.host ?? ''}". Set ALLOWED_HOSTS or PUBLIC_URL to serve it under that name.`);
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The API's door: Origin on state-changing requests, credentials, the route policy, rate limits. */
export function apiGuard(guard: RequestGuard, access: AccessService, limiter: RateLimiter, opts: { isSecure: boolean }) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      if (!SAFE_METHODS.has(req.method) && !guard.isOriginAllowed(req)) {
        return deny(res, 403, 'CROSS_ORIGIN', `requests from ${req.headers.origin} are not allowed (set ALLOWED_ORIGINS to allow another origin)`);
      }
      const rule = ruleFor(req.method, req.path);
      if (rule.need === 'anyone') return next();
      const auth = await authenticate(req, access, limiter, credentialsOf(req, rule.notebookId));
      if (!auth.ok) {
        res.setHeader('Retry-After', String(Math.ceil(auth.retryAfterMs / 1000)));
        return deny(res, 429, 'RATE_LIMITED', tooManyWrong(auth));
      }
      // a page whose session ended stops sending its cookie
      for (const c of auth.rejected) if (c.cookie) clearSessionCookie(res, c.cookie, opts.isSecure);
      const { principal } = auth;
      if (!principal) {
        return deny(res, 401, 'UNAUTHORIZED', 'a token is needed: send Authorization: Bearer <token> (the admin token, or a notebook link\'s token)');
      }
      const role = access.roleOn(principal, rule.notebookId);
      if (!access.can(principal, rule.notebookId, rule.need)) {
        const message =
          role === null
            ? rule.notebookId
              ? 'this token does not open this notebook'
              : 'only the instance admin may do this'
            : `this needs the ${rule.need} role; this token is ${role === 'viewer' ? 'a viewer' : `an ${role}`}'s`;
        return deny(res, 403, 'FORBIDDEN', message);
      }
      if (rule.limited) {
        const key = principal.kind === 'admin' ? 'admin' : principal.grantId;
        const r = limiter.take(key, rule.limited);
        if (!r.ok) {
          res.setHeader('Retry-After', String(Math.ceil(r.retryAfterMs / 1000)));
          return deny(res, 429, 'RATE_LIMITED', `too many ${LIMITED_NOUN[rule.limited]}: at most ${r.perMinute} a minute per token; try again in ${Math.ceil(r.retryAfterMs / 1000)} s`);
        }
      }
      res.locals.principal = principal;
      res.locals.role = role;
      next();
    } catch (err) {
      next(err);
    }
  };
}

/**
 * A path whose percent-encoding is malformed (`%E0%A4%A`) names nothing: 400 here, before a router
 * tries to decode it and fails as a server error.
 */
export function pathGuard() {
  return (req: Request, res: Response, next: NextFunction) => {
    try {
      decodeURIComponent(req.path);
    } catch {
      const message = 'the path has a malformed percent-encoding';
      if (req.path.startsWith('/api/')) return deny(res, 400, 'BAD_PATH', message);
      res.status(400).type('text/plain').send(`Bad request: ${message}.`);
      return;
    }
    next();
  };
}

// a page, and the data requests Remix's client makes for it (single fetch: `/_root.data`, `/n/<id>.data`)
const PAGE_PATH = /^\/(?:_root\.data|n\/([A-Za-z0-9_-]{1,64})(?:\.data|\/)?)?$/;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Pages: `?token=` signs the browser in (a session whose id goes into the cookie; the token goes
 * nowhere) and the page reloads without it (a meta refresh, not a 302: after a cross-site click a
 * redirect would not carry a SameSite=Strict cookie yet). Then the principal and its role on the
 * page's notebook go to the Remix loaders.
 */
export function pageGuard(guard: RequestGuard, access: AccessService, limiter: RateLimiter, opts: { isSecure: boolean }) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const m = PAGE_PATH.exec(req.path);
      if (!m || (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST')) return next();
      if (req.method === 'POST' && !guard.isOriginAllowed(req)) {
        res.status(403).type('text/plain').send('Cross-site form posts are not allowed.');
        return;
      }
      const notebookId = m[1] ?? null;
      const token = typeof req.query.token === 'string' ? req.query.token : null;
      if (token !== null && req.method !== 'POST') {
        const clean = new URL(req.originalUrl, 'http://x');
        clean.searchParams.delete('token');
        const target = clean.pathname + clean.search;
        res.setHeader('Cache-Control', 'no-store');
        const auth = await authenticate(req, access, limiter, [{ kind: 'token', value: token }]);
        if (!auth.ok) {
          res.setHeader('Retry-After', String(Math.ceil(auth.retryAfterMs / 1000)));
          res.status(429).type('html').send(`<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>Too many tries</title><p>Too many wrong links from this address: wait ${Math.ceil(auth.retryAfterMs / 1000)} s and open the link again.</p>`);
          return;
        }
        const p = auth.principal;
        if (!p) {
          res.status(401).type('html').send(`<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>Link not valid</title><p>This link's token is not valid (it may have been revoked). Ask the notebook's owner for a new link.</p><p><a href="${escapeHtml(target)}">Continue</a></p>`);
          return;
        }
        const name = p.kind === 'admin' ? ADMIN_COOKIE : notebookCookie(p.notebookId);
        // signing in again replaces this browser's earlier session of the same kind
        const earlier = sessionCookiesOf(req).find((c) => c.name === name);
        if (earlier) await access.endSessions([earlier.value]);
        res.cookie(name, await access.createSession(p), sessionCookieOptions(opts.isSecure));
        res.status(200).type('html').send(`<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${escapeHtml(target)}"><link rel="icon" href="data:,"><title>Signing in…</title><p>Signing in… <a href="${escapeHtml(target)}">continue</a></p>`);
        return;
      }
      const auth = await authenticate(req, access, limiter, credentialsOf(req, notebookId));
      // (only tokens are ever held back, and a page presents none here)
      const principal = auth.ok ? auth.principal : null;
      if (auth.ok) for (const c of auth.rejected) if (c.cookie) clearSessionCookie(res, c.cookie, opts.isSecure);
      res.locals.principal = principal ?? undefined;
      res.locals.role = principal ? access.roleOn(principal, notebookId) : null;
      // the home page's form creates notebooks: that is the admin's, and never cross-site
      if (req.method === 'POST' && res.locals.role !== 'admin') {
        res.status(403).type('text/plain').send('Only the instance admin may create notebooks.');
        return;
      }
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** Headers for every answer; the Content-Security-Policy for pages the app passes (tests load every page under it). */
export function securityHeaders() {
  return (req: Request, res: Response, next: NextFunction) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (!req.path.startsWith('/api/')) {
      const host = req.headers.host ?? 'localhost';
      res.setHeader(
        'Content-Security-Policy',
        [
          "default-src 'self'",
          // 'unsafe-inline': Remix's hydration data, and the sandboxed srcdoc frames of HTML outputs
          // inherit this policy (their own small script). No 'unsafe-eval'.
          "script-src 'self' 'unsafe-inline'",
          "style-src 'self' 'unsafe-inline'",
          "img-src 'self' data: blob:",
          "font-src 'self' data:",
          `connect-src 'self' ws://${host} wss://${host}`,
          "worker-src 'self' blob:",
          "frame-src 'self' blob: data:",
          "object-src 'none'",
          "base-uri 'self'",
          "form-action 'self'",
          "frame-ancestors 'none'",
        ].join('; '),
      );
      res.setHeader('X-Frame-Options', 'DENY');
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    }
    next();
  };
}
