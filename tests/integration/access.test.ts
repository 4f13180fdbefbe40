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
import { ADMIN_TOKEN_FILE } from '../../server/access/access';
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
  server = await startServer({ env, withUi: false, log: () => undefined, rateLimits: { runsPerMinute: 5 } });
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

  it('a page opened with ?token= keeps it in an HttpOnly SameSite=Strict cookie and reloads without it', async () => {
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
