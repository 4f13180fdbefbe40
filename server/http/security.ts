// The HTTP side of access control and cross-site protection (docs/decisions/0011-access-control.md):
// - Host allow-list on every request and upgrade (stops DNS rebinding);
// - Origin check on state-changing requests and every WebSocket upgrade (stops cross-site requests
//   and WebSocket hijacking): only the app's own origin and ALLOWED_ORIGINS pass;
// - credentials: `Authorization: Bearer` on the API, `?token=` on a page (kept in an HttpOnly,
//   SameSite=Strict cookie) and on the WebSocket; the cookie also serves the page's own requests;
// - the route policy (server/access/policy.ts): 401 without a credential, 403 with the wrong one;
// - rate limits on runs and generations (429);
// - security headers on pages.
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { AccessService, Principal } from '../access/access';
import { ruleFor, type Role } from '../access/policy';
import type { RateLimiter } from '../access/rate-limit';

export const ADMIN_COOKIE = 'ynb_admin';
/** One cookie per notebook, so links to several notebooks live side by side in one browser. */
export const notebookCookie = (notebookId: string) => `ynb_nb_${notebookId}`;
/** How long a page's token cookie lasts. */
export const TOKEN_COOKIE_MAX_AGE_S = 30 * 24 * 3600;

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

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
    if (this.anyHost) return true;
    const host = req.headers.host;
    if (!host) return false;
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

/** The credentials a request carries: Bearer first, then the cookies (the notebook's, then the admin's). */
export function credentialsOf(req: IncomingMessage, notebookId: string | null, opts: { query?: boolean } = {}): string[] {
  const found: string[] = [];
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) found.push(m[1]);
  }
  if (opts.query) {
    const t = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    if (t) found.push(t);
  }
  const cookies = parseCookies(req.headers.cookie);
  if (notebookId) {
    const c = cookies.get(notebookCookie(notebookId));
    if (c) found.push(c);
  }
  const admin = cookies.get(ADMIN_COOKIE);
  if (admin) found.push(admin);
  return found;
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
export function apiGuard(guard: RequestGuard, access: AccessService, limiter: RateLimiter) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      if (!SAFE_METHODS.has(req.method) && !guard.isOriginAllowed(req)) {
        return deny(res, 403, 'CROSS_ORIGIN', `requests from ${req.headers.origin} are not allowed (set ALLOWED_ORIGINS to allow another origin)`);
      }
      const rule = ruleFor(req.method, req.path);
      const principal = await access.resolve(credentialsOf(req, rule.notebookId));
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
          return deny(res, 429, 'RATE_LIMITED', `too many ${rule.limited === 'run' ? 'runs' : 'generations'}: at most ${r.perMinute} a minute per token; try again in ${Math.ceil(r.retryAfterMs / 1000)} s`);
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

// a page, and the data requests Remix's client makes for it (single fetch: `/_root.data`, `/n/<id>.data`)
const PAGE_PATH = /^\/(?:_root\.data|n\/([A-Za-z0-9_-]{1,64})(?:\.data|\/)?)?$/;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Pages: `?token=` becomes a cookie and the page reloads without it (a meta refresh, not a 302:
 * after a cross-site click a redirect would not carry a SameSite=Strict cookie yet). Then the
 * principal and its role on the page's notebook go to the Remix loaders.
 */
export function pageGuard(guard: RequestGuard, access: AccessService, opts: { isSecure: boolean }) {
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
        const p = await access.resolve([token]);
        const clean = new URL(req.originalUrl, 'http://x');
        clean.searchParams.delete('token');
        const target = clean.pathname + clean.search;
        if (!p) {
          res.status(401).type('html').send(`<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>Link not valid</title><p>This link's token is not valid (it may have been revoked). Ask the notebook's owner for a new link.</p><p><a href="${escapeHtml(target)}">Continue</a></p>`);
          return;
        }
        const name = p.kind === 'admin' ? ADMIN_COOKIE : notebookCookie(p.notebookId);
        res.cookie(name, token, { httpOnly: true, sameSite: 'strict', secure: opts.isSecure, path: '/', maxAge: TOKEN_COOKIE_MAX_AGE_S * 1000 });
        res.setHeader('Cache-Control', 'no-store');
        res.status(200).type('html').send(`<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${escapeHtml(target)}"><link rel="icon" href="data:,"><title>Signing in…</title><p>Signing in… <a href="${escapeHtml(target)}">continue</a></p>`);
        return;
      }
      const principal = await access.resolve(credentialsOf(req, notebookId));
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
