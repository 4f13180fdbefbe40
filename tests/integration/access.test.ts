// Who may do what, checked from outside against the real server: tokens and roles on every kind
// of route and on the WebSocket, revoked links, cross-site requests, foreign Host names, rate limits.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { cellsOf, cellSource, findCell, insertCell, notebookToJSON } from '../../common/notebook/model';
import { readEnv } from '../../server/http/env';
import { startServer, type RunningServer } from '../../server/http/server';
import Database from 'better-sqlite3';
import { ADMIN_TOKEN_FILE, SESSION_ABSOLUTE_TIMEOUT_MS, SESSION_IDLE_TIMEOUT_MS } from '../../server/access/access';
import { adminSessionTag, hashToken } from '../../server/access/tokens';
import { SQLITE_FILE } from '../../server/storage/sqlite';
import { CloseCode } from '../../server/sync/close-codes';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../support/auth';
import { tempDir } from '../support/server';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { scaled } from '../support/timing';

let server: RunningServer;
let wsUrl: string;
let dataDir: string;
const clients: YClient[] = [];

beforeAll(async () => {
  dataDir = tempDir();
  const env = readEnv({ PORT: '0', DATA_DIR: dataDir, NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  server = await startServer({ env, withUi: false, log: () => undefined, rateLimits: { runsPerMinute: 5, completionsPerMinute: 5, linksPerMinute: 3 } });
  wsUrl = server.url.replace(/^http/, 'ws') + '/sync';
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await server?.close();
});

const as = (token: string | null, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string> | undefined) },
});
const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function newNotebook(): Promise<{ id: string; owner: string }> {
  const res = await fetchAsAdmin(`${server.url}/api/notebooks`, json({ title: 'shared' }));
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: string; token: string };
  expect(body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  return { id: body.id, owner: body.token };
}

async function link(id: string, owner: string, role: 'editor' | 'viewer') {
  const res = await fetch(`${server.url}/api/notebooks/${id}/links`, as(owner, json({ role })));
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; role: string; token: string; url: string };
}

function client(id: string, token: string): YClient {
  const c = connectClient(wsUrl, id, { token });
  clients.push(c);
  return c;
}

/** Opens a raw WebSocket and answers how it ended: a close code, or the HTTP status that refused it. */
function wsOutcome(url: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`));
    ws.on('close', (code) => resolve(`close ${code}`));
    ws.on('error', () => undefined);
  });
}

function rawGet(pathAndQuery: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const u = new URL(server.url);
  return new Promise((resolve, reject) => {
    http
      .get({ host: u.hostname, port: u.port, path: pathAndQuery, headers }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

describe('access control', () => {
  it('refuses anonymous clients on the API (401) and on the WebSocket (named close code)', async () => {
    const { id } = await newNotebook();
    for (const [method, p] of [
      ['GET', '/api/notebooks'],
      ['POST', '/api/notebooks'],
      ['GET', `/api/notebooks/${id}`],
      ['POST', `/api/notebooks/${id}/cells/abc/run`],
      ['GET', `/api/notebooks/${id}/files`],
      ['GET', `/api/notebooks/${id}/export.ipynb`],
      ['POST', '/api/notebooks/import'],
    ] as const) {
      const r = await fetch(`${server.url}${p}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
      expect({ p, method, status: r.status }).toEqual({ p, method, status: 401 });
      expect(((await r.json()) as any).error.code).toBe('UNAUTHORIZED');
    }
    expect(await wsOutcome(`${wsUrl}/${id}`)).toBe(`close ${CloseCode.UNAUTHORIZED}`);
    expect(await wsOutcome(`${wsUrl}/${id}?token=not-a-real-token`)).toBe(`close ${CloseCode.UNAUTHORIZED}`);
  });

  it('only the admin lists, creates and imports; an owner token does none of that', async () => {
    const { owner } = await newNotebook();
    expect((await fetch(`${server.url}/api/notebooks`, as(owner))).status).toBe(403);
    expect((await fetch(`${server.url}/api/notebooks`, as(owner, json({})))).status).toBe(403);
    expect((await fetchAsAdmin(`${server.url}/api/notebooks`)).status).toBe(200);
  });

  it("a viewer sees everything live but its edits never reach others or storage, and it may not run, generate, upload or share", async () => {
    const { id, owner } = await newNotebook();
    const viewerLink = await link(id, owner, 'viewer');
    expect(viewerLink.url).toBe(`${server.url}/n/${id}?token=${encodeURIComponent(viewerLink.token)}`);
    const editor = client(id, owner);
    const viewer = client(id, viewerLink.token);
    await Promise.all([editor.synced, viewer.synced]);

    // the viewer sees the owner's edits live
    const cellId = insertCell(editor.doc, 0, { source: 'x = 41 + 1\nx' });
    await waitFor(() => findCell(viewer.doc, cellId), { what: 'the edit to reach the viewer' });

    // the viewer's own edit stays in its browser only
    cellSource(findCell(viewer.doc, cellId)!).insert(0, '# defaced\n');
    insertCell(viewer.doc, 0, { source: 'import os; os.system("rm -rf /")' });
    // a marker the editor writes after the viewer's edits: once it arrives, the viewer's would have too
    cellSource(findCell(editor.doc, cellId)!).insert(0, '# ok\n');
    await waitFor(() => cellSource(findCell(viewer.doc, cellId)!).toString().includes('# ok'), { what: 'the marker' });
    await new Promise((r) => setTimeout(r, 200));
    expect(cellsOf(editor.doc).length).toBe(2); // the first empty cell and the one above
    expect(cellSource(findCell(editor.doc, cellId)!).toString()).toBe('# ok\nx = 41 + 1\nx');
    const room = server.rooms.loaded(id)!;
    await room.flushed();
    expect(JSON.stringify(notebookToJSON(room.doc))).not.toContain('defaced');
    const stored = await server.storage.loadUpdates(id);
    const all = Buffer.concat([...(stored.snapshot ? [stored.snapshot] : []), ...stored.updates].map((u) => Buffer.from(u))).toString('latin1');
    expect(all).not.toContain('defaced');
    expect(all).not.toContain('rm -rf');

    // reading is allowed
    expect((await fetch(`${server.url}/api/notebooks/${id}`, as(viewerLink.token))).status).toBe(200);
    expect((await fetch(`${server.url}/api/notebooks/${id}/export.ipynb`, as(viewerLink.token))).status).toBe(200);
    // acting is not
    const forbidden = [
      fetch(`${server.url}/api/notebooks/${id}/cells/${cellId}/run`, as(viewerLink.token, json({}))),
      fetch(`${server.url}/api/notebooks/${id}/run`, as(viewerLink.token, json({ cells: [{ cellId }] }))),
      fetch(`${server.url}/api/notebooks/${id}/cells/${cellId}/generate`, as(viewerLink.token, json({ prompt: 'hi' }))),
      fetch(`${server.url}/api/notebooks/${id}/interrupt`, as(viewerLink.token, json({}))),
      fetch(`${server.url}/api/notebooks/${id}/restart`, as(viewerLink.token, json({}))),
      fetch(`${server.url}/api/notebooks/${id}/files/evil.txt`, as(viewerLink.token, { method: 'PUT', body: 'x' })),
      fetch(`${server.url}/api/notebooks/${id}/files/evil.txt`, as(viewerLink.token, { method: 'DELETE' })),
      fetch(`${server.url}/api/notebooks/${id}/links`, as(viewerLink.token, json({ role: 'editor' }))),
      fetch(`${server.url}/api/notebooks/${id}/links`, as(viewerLink.token)),
    ];
    for (const r of await Promise.all(forbidden)) {
      expect(r.status).toBe(403);
      expect(((await r.json()) as any).error.code).toBe('FORBIDDEN');
    }
  });

  it('an editor edits and runs, but does not manage links', async () => {
    const { id, owner } = await newNotebook();
    const editorLink = await link(id, owner, 'editor');
    const ed = client(id, editorLink.token);
    const watcher = client(id, owner);
    await Promise.all([ed.synced, watcher.synced]);
    const cellId = insertCell(ed.doc, 0, { source: '6 * 7' });
    await waitFor(() => findCell(watcher.doc, cellId), { what: "the editor's cell to reach the owner" });
    const run = await fetch(`${server.url}/api/notebooks/${id}/cells/${cellId}/run`, as(editorLink.token, json({})));
    expect(run.status).toBe(200);
    expect(((await run.json()) as any).status).toBe('ok');
    await waitFor(() => JSON.stringify(notebookToJSON(watcher.doc)).includes('"42"'), { what: 'the output' });
    expect((await fetch(`${server.url}/api/notebooks/${id}/links`, as(editorLink.token, json({ role: 'viewer' })))).status).toBe(403);
  });

  it("a notebook's token does nothing on another notebook", async () => {
    const a = await newNotebook();
    const b = await newNotebook();
    const r = await fetch(`${server.url}/api/notebooks/${b.id}`, as(a.owner));
    expect(r.status).toBe(403);
    expect(((await r.json()) as any).error.message).toMatch(/does not open this notebook/);
    expect((await fetch(`${server.url}/api/notebooks/${b.id}/files`, as(a.owner))).status).toBe(403);
    expect(await wsOutcome(`${wsUrl}/${b.id}?token=${encodeURIComponent(a.owner)}`)).toBe(`close ${CloseCode.FORBIDDEN}`);
  });

  it("a revoked link's open WebSocket closes within a second and its requests fail", async () => {
    const { id, owner } = await newNotebook();
    const l = await link(id, owner, 'editor');
    const list = (await (await fetch(`${server.url}/api/notebooks/${id}/links`, as(owner))).json()) as any;
    expect(list.links).toEqual([{ id: l.id, role: 'editor', createdAt: expect.any(Number) }]);
    expect(JSON.stringify(list)).not.toContain(l.token);

    const ws = new WebSocket(`${wsUrl}/${id}?token=${encodeURIComponent(l.token)}`);
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<{ code: number; at: number }>((resolve) => ws.once('close', (code) => resolve({ code, at: Date.now() })));
    const t0 = Date.now();
    expect((await fetch(`${server.url}/api/notebooks/${id}/links/${l.id}`, as(owner, { method: 'DELETE' }))).status).toBe(204);
    const { code, at } = await closed;
    expect(code).toBe(CloseCode.REVOKED);
    expect(at - t0).toBeLessThan(scaled(1000));
    expect((await fetch(`${server.url}/api/notebooks/${id}`, as(l.token))).status).toBe(401);
    expect(await wsOutcome(`${wsUrl}/${id}?token=${encodeURIComponent(l.token)}`)).toBe(`close ${CloseCode.UNAUTHORIZED}`);
    expect((await fetch(`${server.url}/api/notebooks/${id}/links/${l.id}`, as(owner, { method: 'DELETE' }))).status).toBe(404);
  });

  it('refuses a foreign Origin (HTTP and WebSocket) and a foreign Host', async () => {
    const { id } = await newNotebook();
    const cellId = 'abc';
    // a "simple" cross-site POST a page on another site could send without a preflight
    const csrf = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/cells/${cellId}/run`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'http://evil.example' },
      body: '{}',
    });
    expect(csrf.status).toBe(403);
    expect(((await csrf.json()) as any).error.code).toBe('CROSS_ORIGIN');
    const nullOrigin = await fetchAsAdmin(`${server.url}/api/notebooks`, { method: 'POST', headers: { origin: 'null', 'content-type': 'application/json' }, body: '{}' });
    expect(nullOrigin.status).toBe(403);
    // our own origin passes
    const own = await fetchAsAdmin(`${server.url}/api/notebooks`, { method: 'POST', headers: { origin: server.url, 'content-type': 'application/json' }, body: '{}' });
    expect(own.status).toBe(201);

    expect(await wsOutcome(`${wsUrl}/${id}?token=${TEST_ADMIN_TOKEN}`, { origin: 'http://evil.example' })).toBe('http 403');
    // DNS rebinding: a name that resolves to us is still not our name
    const rebound = await rawGet(`/api/notebooks`, { host: `evil.example:${new URL(server.url).port}`, authorization: `Bearer ${TEST_ADMIN_TOKEN}` });
    expect(rebound.status).toBe(421);
    const page = await rawGet(`/n/${id}`, { host: 'evil.example' });
    expect(page.status).toBe(421);
    expect(await wsOutcome(`${wsUrl}/${id}?token=${TEST_ADMIN_TOKEN}`, { host: 'evil.example' })).toBe('http 403');
  });

  it('rate-limits runs per token with a clear 429', async () => {
    const { id, owner } = await newNotebook();
    const c = client(id, owner);
    await c.synced;
    const cellId = insertCell(c.doc, 0, { source: '1' });
    await waitFor(() => server.rooms.loaded(id) && findCell(server.rooms.loaded(id)!.doc, cellId));
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await fetch(`${server.url}/api/notebooks/${id}/cells/${cellId}/run`, as(owner, json({ wait: false })))).status);
    expect(statuses.slice(0, 5)).toEqual([202, 202, 202, 202, 202]);
    expect(statuses[5]).toBe(429);
    const limited = await fetch(`${server.url}/api/notebooks/${id}/cells/${cellId}/run`, as(owner, json({ wait: false })));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as any).error.message).toMatch(/at most 5 a minute/);
    // another token is not slowed down by it
    expect((await fetchAsAdmin(`${server.url}/api/notebooks/${id}/cells/${cellId}/run`, json({ wait: false }))).status).toBe(202);
  });

  it('a page opened with ?token= signs in (an HttpOnly SameSite=Strict session cookie) and reloads without it', async () => {
    const { id, owner } = await newNotebook();
    const r = await rawGet(`/n/${id}?token=${encodeURIComponent(owner)}`, { host: new URL(server.url).host });
    expect(r.status).toBe(200);
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toContain(`ynb_nb_${id}=`);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(r.body).toContain(`url=/n/${id}"`);
    expect(r.body).not.toContain(owner);
    // the cookie then opens the API for that notebook (the page's own requests)
    const viaCookie = await fetch(`${server.url}/api/notebooks/${id}`, { headers: { cookie: cookie.split(';')[0] } });
    expect(viaCookie.status).toBe(200);
    const bad = await rawGet(`/n/${id}?token=nope`, { host: new URL(server.url).host });
    expect(bad.status).toBe(401);
    expect(bad.headers['set-cookie']).toBeUndefined();
  });
});

describe('deleting a notebook', () => {
  it('only the admin deletes; its connections close, its record, document, links and files are gone', async () => {
    const { id, owner } = await newNotebook();
    const viewerLink = await link(id, owner, 'viewer');
    expect((await fetchAsAdmin(`${server.url}/api/notebooks/${id}/files/data.csv`, { method: 'PUT', body: 'a,b\n1,2\n' })).status).toBe(201);
    const ws = new WebSocket(`${wsUrl}/${id}?token=${encodeURIComponent(owner)}`);
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

    expect((await fetch(`${server.url}/api/notebooks/${id}`, as(owner, { method: 'DELETE' }))).status).toBe(403);
    expect((await fetchAsAdmin(`${server.url}/api/notebooks/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await closed).toBe(CloseCode.NOT_FOUND);
    expect((await fetchAsAdmin(`${server.url}/api/notebooks/${id}`)).status).toBe(404);
    const list = (await (await fetchAsAdmin(`${server.url}/api/notebooks`)).json()) as { notebooks: { id: string }[] };
    expect(list.notebooks.map((n) => n.id)).not.toContain(id);
    expect((await fetch(`${server.url}/api/notebooks/${id}`, as(owner))).status).toBe(401);
    expect((await fetch(`${server.url}/api/notebooks/${id}`, as(viewerLink.token))).status).toBe(401);
    expect(await server.storage.loadUpdates(id)).toMatchObject({ snapshot: null, updates: [] });
    expect(fs.existsSync(path.join(dataDir, 'kernels', id))).toBe(false);
    expect((await fetchAsAdmin(`${server.url}/api/notebooks/${id}`, { method: 'DELETE' })).status).toBe(404);
  });
});

describe('the admin token', () => {
  it('is made at first start when ADMIN_TOKEN is unset, kept in DATA_DIR with mode 0600, and the same after a restart', async () => {
    const dataDir = tempDir();
    const env = readEnv({ PORT: '0', DATA_DIR: dataDir, NODE_ENV: 'test' });
    const first = await startServer({ env, withUi: false, log: () => undefined });
    const token = first.adminToken;
    expect(first.isAdminTokenNew).toBe(true);
    await first.close();
    const file = path.join(dataDir, ADMIN_TOKEN_FILE);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const second = await startServer({ env, withUi: false, log: () => undefined });
    try {
      expect(second.adminToken).toBe(token);
      expect(second.isAdminTokenNew).toBe(false);
      expect((await fetch(`${second.url}/api/notebooks`, as(token))).status).toBe(200);
      expect((await fetch(`${second.url}/api/notebooks`, as(TEST_ADMIN_TOKEN))).status).toBe(401);
    } finally {
      await second.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** Opens a page with `?token=` as a browser does; answers the session cookie it set (name and value) and the raw answer. */
async function signIn(token: string, page = '/'): Promise<{ name: string; value: string; cookie: string; setCookie: string; body: string; status: number }> {
  const sep = page.includes('?') ? '&' : '?';
  const r = await rawGet(`${page}${sep}token=${encodeURIComponent(token)}`, { host: new URL(server.url).host });
  const setCookie = String(r.headers['set-cookie'] ?? '');
  const [pair] = setCookie.split(';');
  const i = pair.indexOf('=');
  return { name: pair.slice(0, i), value: decodeURIComponent(pair.slice(i + 1)), cookie: pair, setCookie, body: r.body, status: r.status };
}

const withCookie = (cookie: string, init: RequestInit = {}): RequestInit => ({ ...init, headers: { cookie, ...(init.headers as Record<string, string> | undefined) } });

/** A WebSocket a page opens: its credential is the cookie. Resolves once open; `closed` answers the close code. */
async function pageSocket(id: string, cookie: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(`${wsUrl}/${id}`, { headers: { cookie, origin: server.url } });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    void closed.then((code) => reject(new Error(`closed before open: ${code}`)));
  });
  return { ws, closed };
}

describe("a browser's sign-in is a session, never the token", () => {
  it('the sign-in URL sets a session id (not the admin token) in an HttpOnly SameSite=Strict cookie, stored only hashed', async () => {
    const s = await signIn(TEST_ADMIN_TOKEN);
    expect(s.status).toBe(200);
    expect(s.name).toBe('ynb_admin');
    expect(s.value).not.toBe(TEST_ADMIN_TOKEN);
    expect(s.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.setCookie).toMatch(/HttpOnly/i);
    expect(s.setCookie).toMatch(/SameSite=Strict/i);
    expect(s.setCookie).toMatch(/Max-Age=2592000/);
    expect(s.setCookie).not.toMatch(/Secure/i); // plain http here; PUBLIC_URL=https:// adds it
    expect(s.body).not.toContain(TEST_ADMIN_TOKEN);
    expect(s.body).toContain('url=/"');
    // the page's own requests use it
    expect((await fetch(`${server.url}/api/notebooks`, withCookie(s.cookie))).status).toBe(200);
    // it is stored as its sha256, never as itself
    const row = await server.storage.findSession(hashToken(s.value));
    expect(row).toMatchObject({ grantId: null, adminTag: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const db = new Database(path.join(dataDir, SQLITE_FILE), { readonly: true });
    try {
      const dump = JSON.stringify(db.prepare('SELECT * FROM sessions').all());
      expect(dump).toContain(hashToken(s.value));
      expect(dump).not.toContain(s.value);
      expect(dump).not.toContain(TEST_ADMIN_TOKEN);
    } finally {
      db.close();
    }
  });

  it("signing in again replaces the browser's earlier session; behind https (PUBLIC_URL) the cookie is Secure", async () => {
    const first = await signIn(TEST_ADMIN_TOKEN);
    const r = await rawGet(`/?token=${encodeURIComponent(TEST_ADMIN_TOKEN)}`, { host: new URL(server.url).host, cookie: first.cookie });
    const next = String(r.headers['set-cookie']).split(';')[0];
    expect(next).toMatch(/^ynb_admin=/);
    expect(next).not.toBe(first.cookie);
    expect((await fetch(`${server.url}/api/notebooks`, withCookie(first.cookie))).status).toBe(401);
    expect((await fetch(`${server.url}/api/notebooks`, withCookie(next))).status).toBe(200);

    const env = readEnv({ PORT: '0', DATA_DIR: tempDir(), NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN, PUBLIC_URL: 'https://nb.example.org' });
    const behindTls = await startServer({ env, withUi: false, log: () => undefined });
    try {
      const setCookie = await new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: new URL(behindTls.url).port, path: `/?token=${TEST_ADMIN_TOKEN}`, headers: { host: 'nb.example.org' } }, (res) => {
          res.resume();
          resolve(String(res.headers['set-cookie']));
        }).on('error', reject);
      });
      expect(setCookie).toMatch(/^ynb_admin=[A-Za-z0-9_-]{43};/);
      expect(setCookie).toMatch(/; Secure/);
    } finally {
      await behindTls.close();
    }
  });

  it('a session id is no Bearer token, and a token in a cookie is no session (the cookie is cleared)', async () => {
    const s = await signIn(TEST_ADMIN_TOKEN);
    const bearer = await fetch(`${server.url}/api/notebooks`, as(s.value));
    expect(bearer.status).toBe(401);
    expect(await wsOutcome(`${wsUrl}/x?token=${encodeURIComponent(s.value)}`)).toBe(`close ${CloseCode.UNAUTHORIZED}`);
    // what older versions kept in the cookie: the token itself. It opens nothing now and is cleared
    const raw = await fetch(`${server.url}/api/notebooks`, withCookie(`ynb_admin=${TEST_ADMIN_TOKEN}`));
    expect(raw.status).toBe(401);
    expect(raw.headers.get('set-cookie')).toMatch(/^ynb_admin=;.*Expires=Thu, 01 Jan 1970/);
  });

  it('signing out ends the session at once: its open socket closes (4410), its cookie opens nothing, other sessions go on', async () => {
    const { id } = await newNotebook();
    const mine = await signIn(TEST_ADMIN_TOKEN);
    const other = await signIn(TEST_ADMIN_TOKEN);
    const { closed } = await pageSocket(id, mine.cookie);
    const { ws: otherWs } = await pageSocket(id, other.cookie);
    // from another site: refused like any state-changing request
    const csrf = await fetch(`${server.url}/api/session/sign-out`, withCookie(mine.cookie, { method: 'POST', headers: { origin: 'http://evil.example' } }));
    expect(csrf.status).toBe(403);
    expect((await fetch(`${server.url}/api/notebooks`, withCookie(mine.cookie))).status).toBe(200);

    const t0 = Date.now();
    const out = await fetch(`${server.url}/api/session/sign-out`, withCookie(mine.cookie, { method: 'POST', headers: { origin: server.url } }));
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^ynb_admin=;/);
    expect(await closed).toBe(CloseCode.REVOKED);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await fetch(`${server.url}/api/notebooks`, withCookie(mine.cookie))).status).toBe(401);
    expect(await wsOutcome(`${wsUrl}/${id}`, { cookie: mine.cookie })).toBe(`close ${CloseCode.UNAUTHORIZED}`);
    // the other browser is still signed in
    expect(otherWs.readyState).toBe(WebSocket.OPEN);
    expect((await fetch(`${server.url}/api/notebooks`, withCookie(other.cookie))).status).toBe(200);
    // signing out again, or without any cookie, says the same
    expect((await fetch(`${server.url}/api/session/sign-out`, withCookie(mine.cookie, { method: 'POST' }))).status).toBe(204);
    expect((await fetch(`${server.url}/api/session/sign-out`, { method: 'POST' })).status).toBe(204);
    otherWs.close();
  });

  it("DELETE /api/admin/sessions (admin only) ends every admin browser session and closes their sockets; the token and links' sessions go on", async () => {
    const { id, owner } = await newNotebook();
    const a = await signIn(TEST_ADMIN_TOKEN);
    const b = await signIn(TEST_ADMIN_TOKEN, `/n/${id}`);
    const ownerPage = await signIn(owner, `/n/${id}`);
    expect(ownerPage.name).toBe(`ynb_nb_${id}`);
    const sa = await pageSocket(id, a.cookie);
    const sb = await pageSocket(id, b.cookie);
    const so = await pageSocket(id, ownerPage.cookie);

    expect((await fetch(`${server.url}/api/admin/sessions`, as(owner, { method: 'DELETE' }))).status).toBe(403);
    // a notebook's cookie is not even read off its notebook
    expect((await fetch(`${server.url}/api/admin/sessions`, withCookie(ownerPage.cookie, { method: 'DELETE' }))).status).toBe(401);
    const t0 = Date.now();
    const r = await fetchAsAdmin(`${server.url}/api/admin/sessions`, { method: 'DELETE' });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { ended: number }).ended).toBeGreaterThanOrEqual(2);
    expect(await sa.closed).toBe(CloseCode.REVOKED);
    expect(await sb.closed).toBe(CloseCode.REVOKED);
    expect(Date.now() - t0).toBeLessThan(1000);
    for (const c of [a, b]) expect((await fetch(`${server.url}/api/notebooks`, withCookie(c.cookie))).status).toBe(401);
    // the admin token still works for scripts; the owner's browser is not the admin's
    expect((await fetchAsAdmin(`${server.url}/api/notebooks`)).status).toBe(200);
    expect(so.ws.readyState).toBe(WebSocket.OPEN);
    expect((await fetch(`${server.url}/api/notebooks/${id}`, withCookie(ownerPage.cookie))).status).toBe(200);
    so.ws.close();
  });

  it("a link opened in a page gets a session too: revoking the link closes that page's socket and ends its session", async () => {
    const { id, owner } = await newNotebook();
    const l = await link(id, owner, 'editor');
    const page = await signIn(l.token, `/n/${id}`);
    expect(page.name).toBe(`ynb_nb_${id}`);
    expect(page.value).not.toBe(l.token);
    expect(page.body).not.toContain(l.token);
    const second = await signIn(l.token, `/n/${id}`);
    const s1 = await pageSocket(id, page.cookie);
    const s2 = await pageSocket(id, second.cookie);
    // one person signing out leaves the others on the same link alone
    expect((await fetch(`${server.url}/api/session/sign-out`, withCookie(second.cookie, { method: 'POST' }))).status).toBe(204);
    expect(await s2.closed).toBe(CloseCode.REVOKED);
    expect(s1.ws.readyState).toBe(WebSocket.OPEN);

    expect((await fetch(`${server.url}/api/notebooks/${id}/links/${l.id}`, as(owner, { method: 'DELETE' }))).status).toBe(204);
    expect(await s1.closed).toBe(CloseCode.REVOKED);
    expect((await fetch(`${server.url}/api/notebooks/${id}`, withCookie(page.cookie))).status).toBe(401);
    expect(await server.storage.findSession(hashToken(page.value))).toBeNull();
  });

  it('sessions expire: unused past the idle timeout (swept, socket closed) and past the absolute timeout however used', async () => {
    const { id } = await newNotebook();
    const idle = await signIn(TEST_ADMIN_TOKEN);
    const s = await pageSocket(id, idle.cookie);
    const ended = await server.access.sweepSessions(Date.now() + SESSION_IDLE_TIMEOUT_MS + 1000);
    expect(ended).toBeGreaterThanOrEqual(1);
    expect(await s.closed).toBe(CloseCode.REVOKED);
    expect((await fetch(`${server.url}/api/notebooks`, withCookie(idle.cookie))).status).toBe(401);

    // used a minute ago, but made longer ago than the absolute timeout
    const oldId = 'an-old-session-id-made-long-ago-0123456789a';
    const now = Date.now();
    await server.storage.createSession({ idHash: hashToken(oldId), grantId: null, adminTag: adminSessionTag(TEST_ADMIN_TOKEN, oldId), createdAt: now - SESSION_ABSOLUTE_TIMEOUT_MS - 1000, usedAt: now - 60_000 });
    const fresh = 'a-fresh-session-id-made-just-now-0123456789';
    await server.storage.createSession({ idHash: hashToken(fresh), grantId: null, adminTag: adminSessionTag(TEST_ADMIN_TOKEN, fresh), createdAt: now, usedAt: now });
    expect((await fetch(`${server.url}/api/notebooks`, withCookie(`ynb_admin=${fresh}`))).status).toBe(200);
    expect((await fetch(`${server.url}/api/notebooks`, withCookie(`ynb_admin=${oldId}`))).status).toBe(401);
    expect(await server.storage.findSession(hashToken(oldId))).toBeNull();
  });
});

describe('the HTTP edges', () => {
  it('HEAD needs what GET needs: a viewer gets 403 on the owner-only links, the owner 200', async () => {
    const { id, owner } = await newNotebook();
    const v = await link(id, owner, 'viewer');
    const head = (p: string, token: string) => fetch(`${server.url}${p}`, as(token, { method: 'HEAD' }));
    expect((await head(`/api/notebooks/${id}/links`, v.token)).status).toBe(403);
    expect((await head(`/api/notebooks/${id}/links`, owner)).status).toBe(200);
    expect((await head('/api/notebooks', owner)).status).toBe(403);
    expect((await head('/api/notebooks', TEST_ADMIN_TOKEN)).status).toBe(200);
    expect((await head(`/api/notebooks/${id}`, v.token)).status).toBe(200);
    expect((await fetch(`${server.url}/api/notebooks/${id}/links`, { method: 'HEAD' })).status).toBe(401);
  });

  it('a Host with userinfo (evil.com@localhost) is not ours: 421, and 403 on the WebSocket', async () => {
    const host = `evil.com@localhost:${new URL(server.url).port}`;
    for (const p of ['/api/notebooks', '/', '/n/abc']) {
      const r = await rawGet(p, { host, authorization: `Bearer ${TEST_ADMIN_TOKEN}` });
      expect({ p, status: r.status }).toEqual({ p, status: 421 });
    }
    expect(await wsOutcome(`${wsUrl}/abc?token=${TEST_ADMIN_TOKEN}`, { host })).toBe('http 403');
  });

  it('a malformed percent-encoding in a path is a 400 naming it, not a server error', async () => {
    const { id } = await newNotebook();
    for (const p of [`/api/notebooks/%E0%A4%A/files/x`, `/api/notebooks/${id}/files/%E0%A4%A`, '/n/%E0%A4%A']) {
      const r = await rawGet(p, { host: new URL(server.url).host, authorization: `Bearer ${TEST_ADMIN_TOKEN}` });
      expect({ p, status: r.status }).toEqual({ p, status: 400 });
      expect(r.body).toContain('malformed percent-encoding');
    }
    const api = await rawGet('/api/notebooks/%E0%A4%A/files/x', { host: new URL(server.url).host });
    expect(JSON.parse(api.body)).toMatchObject({ error: { code: 'BAD_PATH' } });
  });

  it('rate-limits completion and help per token (one budget for both), and link creation', async () => {
    const { id, owner } = await newNotebook();
    const ed = await link(id, owner, 'editor');
    const ask = (token: string, what: 'complete' | 'inspect') => fetch(`${server.url}/api/notebooks/${id}/${what}`, as(token, json({ code: 'pri', cursor_pos: 3 })));
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await ask(ed.token, i % 2 ? 'inspect' : 'complete')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const limited = await ask(ed.token, 'complete');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as any).error).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringMatching(/completion and help requests: at most 5 a minute/) });
    expect((await ask(ed.token, 'inspect')).status).toBe(429);
    // another token is not slowed down
    expect((await ask(owner, 'complete')).status).toBe(200);

    // the editor link above was the first of the owner's 3 a minute
    for (let i = 0; i < 2; i++) expect((await fetch(`${server.url}/api/notebooks/${id}/links`, as(owner, json({ role: 'viewer' })))).status).toBe(201);
    const tooMany = await fetch(`${server.url}/api/notebooks/${id}/links`, as(owner, json({ role: 'viewer' })));
    expect(tooMany.status).toBe(429);
    expect(Number(tooMany.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await tooMany.json()) as any).error.message).toMatch(/new links: at most 3 a minute/);
  });
});

describe('wrong tokens', () => {
  it('are counted per client address: past the budget a token is not even looked at (429, right or wrong); signed-in browsers go on', async () => {
    const env = readEnv({ PORT: '0', DATA_DIR: tempDir(), NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    const s = await startServer({ env, withUi: false, log: () => undefined, rateLimits: { failedAuthPerMinute: 4 } });
    try {
      const host = new URL(s.url).host;
      const page = await new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: new URL(s.url).port, path: `/?token=${TEST_ADMIN_TOKEN}`, headers: { host } }, (res) => {
          res.resume();
          resolve(String(res.headers['set-cookie']).split(';')[0]);
        }).on('error', reject);
      });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await fetch(`${s.url}/api/notebooks`, as(`wrong-guess-number-${i}-0123456789`))).status);
      expect(statuses).toEqual([401, 401, 401, 401]);
      const guess = await fetch(`${s.url}/api/notebooks`, as('wrong-guess-number-5-0123456789'));
      expect(guess.status).toBe(429);
      expect(Number(guess.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await guess.json()) as any).error.message).toMatch(/wrong token from this address: at most 4 a minute/);
      // the right token gets the same answer: a guesser learns nothing faster
      expect((await fetchAsAdmin(`${s.url}/api/notebooks`)).status).toBe(429);
      expect(await wsOutcome(`${s.url.replace(/^http/, 'ws')}/sync/abc?token=${TEST_ADMIN_TOKEN}`)).toBe('http 429');
      const signInPage = await fetch(`${s.url}/?token=${TEST_ADMIN_TOKEN}`);
      expect(signInPage.status).toBe(429);
      // a browser signed in before goes on working
      expect((await fetch(`${s.url}/api/notebooks`, { headers: { cookie: page } })).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('end admin sessions made with an earlier ADMIN_TOKEN', async () => {
    const dir = tempDir();
    const first = await startServer({ env: readEnv({ PORT: '0', DATA_DIR: dir, NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN }), withUi: false, log: () => undefined });
    const cookie = await new Promise<string>((resolve, reject) => {
      http.get(`${first.url}/?token=${TEST_ADMIN_TOKEN}`, (res) => {
        res.resume();
        resolve(String(res.headers['set-cookie']).split(';')[0]);
      }).on('error', reject);
    });
    expect((await fetch(`${first.url}/api/notebooks`, { headers: { cookie } })).status).toBe(200);
    await first.close();
    const rotated = 'a-new-admin-token-after-a-leak-0123';
    const second = await startServer({ env: readEnv({ PORT: '0', DATA_DIR: dir, NODE_ENV: 'test', ADMIN_TOKEN: rotated }), withUi: false, log: () => undefined });
    try {
      expect((await fetch(`${second.url}/api/notebooks`, { headers: { cookie } })).status).toBe(401);
      expect((await fetch(`${second.url}/api/notebooks`, as(rotated))).status).toBe(200);
    } finally {
      await second.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
