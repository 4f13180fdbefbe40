// What a notebook shows cannot act on the page: markdown is sanitized, HTML and SVG outputs run
// sandboxed, away from the page's cookies, storage and DOM.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellsOf, createCellMap } from '../../common/notebook/model';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { postWhenCellArrives } from '../support/server';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../support/auth';
import { KERNEL_MS, scaled, UI_MS } from '../support/timing';
import { baseURL, cellById, createLink, createNotebook, createNotebookWithToken, launchBrowser, openAs, openNotebook, signInAsAdmin, startAppServer, wsURL, type Person } from './support';

let browser: Browser;
let writer: YClient;
let ada: Person;
let notebookId: string;
const ids: Record<string, string> = {};

const EVIL_MARKDOWN = '# Hello\n<img src="x" onerror="window.__pwned = \'img\'">\n<script>window.__pwned = \'script\'</script>\n[link](javascript:window.__pwned=\'link\')';
const EVIL_HTML =
  'from IPython.display import HTML, SVG, display\n' +
  'display(HTML("<p id=probe>html output</p><script>try { parent.document.title = \'pwned\'; parent.__pwned = \'html\'; } catch (e) { document.getElementById(\'probe\').textContent = \'blocked: \' + e.name; } try { document.cookie = \'a=b\'; localStorage.setItem(\'x\', \'y\'); } catch (e) {}</script>"))\n' +
  'display(SVG(\'<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" onload="top.__pwned=\\\'svg\\\'"><script>top.__pwned="svg-script"</script><rect width="20" height="20" fill="red"/></svg>\'))';

// what a hostile output tries first: the session cookie, the page around it, the API with the user's access
const PROBE_HTML = String.raw`from IPython.display import HTML, display
display(HTML(r"""<pre id=probe>waiting</pre><script>
var out = [];
function show() { document.getElementById('probe').textContent = out.join('\n'); }
try { out.push('cookie:' + JSON.stringify(document.cookie)); } catch (e) { out.push('cookie:blocked ' + e.name); }
try { out.push('parent:' + parent.document.cookie + parent.document.title); } catch (e) { out.push('parent:blocked ' + e.name); }
try { out.push('top:' + top.location.href); } catch (e) { out.push('top:blocked ' + e.name); }
show();
fetch('/api/notebooks', { credentials: 'include' }).then(
  function (r) { return r.text().then(function (t) { out.push('fetch:' + r.status + ' ' + t.slice(0, 120)); show(); }); },
  function (e) { out.push('fetch:blocked ' + e.name); show(); });
</script>"""))`;

beforeAll(async () => {
  browser = await launchBrowser();
  notebookId = await createNotebook('Hostile outputs');
  writer = connectClient(wsURL(), notebookId);
  await writer.synced;
  const cells = cellsOf(writer.doc);
  await waitFor(() => cells.length === 1);
  const md = createCellMap({ cell_type: 'markdown', source: EVIL_MARKDOWN });
  const code = createCellMap({ cell_type: 'code', source: EVIL_HTML });
  const probe = createCellMap({ cell_type: 'code', source: PROBE_HTML });
  cells.push([md, code, probe]);
  // a map's fields are readable once it is part of the document
  ids.md = md.get('id') as string;
  ids.code = code.get('id') as string;
  ids.probe = probe.get('id') as string;
  // run it through the API, as any collaborator could
  const { body: ran } = await postWhenCellArrives(`${baseURL()}/api/notebooks/${notebookId}/cells/${ids.code}/run`);
  expect(ran, JSON.stringify(ran)).toMatchObject({ status: 'ok' });
  const { body: probed } = await postWhenCellArrives(`${baseURL()}/api/notebooks/${notebookId}/cells/${ids.probe}/run`);
  expect(probed, JSON.stringify(probed)).toMatchObject({ status: 'ok' });
  ada = await openAs(browser, 'Ada Lovelace');
  await openNotebook(ada, notebookId);
}, KERNEL_MS * 2);

afterAll(async () => {
  writer?.destroy();
  await browser?.close();
});

describe('hostile notebook content', () => {
  it('markdown renders without running its scripts or event handlers', async () => {
    const md = cellById(ada.page, ids.md);
    await expect.poll(() => md.locator('h1').textContent()).toBe('Hello');
    expect(await md.locator('script').count()).toBe(0);
    expect(await md.locator('[onerror]').count()).toBe(0);
    expect(await md.locator('a[href^="javascript:"]').count()).toBe(0);
  });

  it('HTML and SVG outputs cannot reach the page, its cookies or its storage', async () => {
    const frame = cellById(ada.page, ids.code).locator('[data-testid=output-html]');
    await frame.waitFor({ timeout: KERNEL_MS });
    expect(await frame.getAttribute('sandbox')).not.toContain('allow-same-origin');
    const inner = ada.page.frameLocator(`[data-cell-id="${ids.code}"] [data-testid=output-html]`);
    await expect.poll(() => inner.locator('#probe').textContent(), { timeout: scaled(10_000) }).toMatch(/^blocked: /);
    await ada.page.waitForTimeout(500);
    expect(await ada.page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
    expect(await ada.page.title()).not.toBe('pwned');
    const secrets = await ada.page.evaluate(() => ({ cookie: document.cookie, stored: localStorage.getItem('x') }));
    expect(secrets.stored).toBeNull();
    expect(secrets.cookie).not.toContain('a=b');
  });

  it('a script in an HTML output cannot read the session cookie, the page, or call the API as the user', async () => {
    const inner = ada.page.frameLocator(`[data-cell-id="${ids.probe}"] [data-testid=output-html]`);
    await expect.poll(() => inner.locator('#probe').textContent(), { timeout: KERNEL_MS }).toContain('fetch:');
    const lines = ((await inner.locator('#probe').textContent()) ?? '').split('\n');
    const line = (key: string) => lines.find((l) => l.startsWith(`${key}:`)) ?? '';
    // an opaque origin: no cookie jar, no reach into the page around it
    expect(line('cookie')).toBe('cookie:blocked SecurityError');
    expect(line('parent')).toBe('parent:blocked SecurityError');
    expect(line('top')).toBe('top:blocked SecurityError');
    // its request carries no credential of the user's, and its answer is not readable
    expect(line('fetch')).not.toMatch(/^fetch:200/);
    expect(lines.join('\n')).not.toContain(TEST_ADMIN_TOKEN);
    // the page's own scripts cannot read the token either: the cookie is HttpOnly
    expect(await ada.page.evaluate(() => document.cookie)).not.toContain(TEST_ADMIN_TOKEN);
  });
});

/** A plain HTTP listener on another loopback port: what a kernel or a neighbour on this host could open. */
async function startListener(): Promise<{ url: string; cookies: string[]; close(): Promise<void> }> {
  const cookies: string[] = [];
  const srv = http.createServer((req, res) => {
    if (req.url === '/favicon.ico') return void res.writeHead(404).end();
    cookies.push(req.headers.cookie ?? '');
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Quarterly report</title><p>Loading the report…</p>');
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    cookies,
    close: () => new Promise<void>((resolve) => srv.close(() => resolve())),
  };
}

function cookieValue(header: string, name: string): string | null {
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}

const withCookie = (cookie: string): RequestInit => ({ headers: { cookie } });

describe("the admin's browser credential", () => {
  it('a link to a listener on another loopback port hands it a session id, never the admin token; replayed, it dies with sign-out and with revocation, and it is no Bearer token at all', async () => {
    const listener = await startListener();
    const victim = await openAs(browser, 'Ada Admin');
    try {
      // an editor's markdown cell lures the admin to the listener
      const id = await createNotebook('Quarterly numbers');
      const lure = connectClient(wsURL(), id);
      await lure.synced;
      const cells = cellsOf(lure.doc);
      await waitFor(() => cells.length === 1);
      const md = createCellMap({ cell_type: 'markdown', source: `See [the quarterly report](${listener.url}/report) first.` });
      cells.push([md]);
      const mdId = md.get('id') as string;
      await openNotebook(victim, id);
      const link = cellById(victim.page, mdId).locator(`a[href^="${listener.url}"]`);
      await link.waitFor({ timeout: UI_MS });

      const steal = async (): Promise<string> => {
        const before = listener.cookies.length;
        await link.click();
        await expect.poll(() => listener.cookies.length, { timeout: UI_MS }).toBeGreaterThan(before);
        return listener.cookies[listener.cookies.length - 1];
      };
      // the browser does send its cookie to another port of the same host (cookies ignore ports)
      const header = await steal();
      const stolen = cookieValue(header, 'ynb_admin');
      expect(stolen, header).not.toBeNull();
      expect(stolen).not.toBe(TEST_ADMIN_TOKEN);
      expect(header).not.toContain(TEST_ADMIN_TOKEN);
      expect(header).not.toContain(encodeURIComponent(TEST_ADMIN_TOKEN));

      // it is no token: not as a Bearer token on the API, not as a sign-in link, not on the socket
      expect((await fetch(`${baseURL()}/api/notebooks`, { headers: { authorization: `Bearer ${stolen}` } })).status).toBe(401);
      expect((await fetch(`${baseURL()}/?token=${encodeURIComponent(stolen!)}`)).status).toBe(401);
      // replayed as the cookie it is, it works only while the admin stays signed in
      expect((await fetch(`${baseURL()}/api/notebooks`, withCookie(`ynb_admin=${stolen}`))).status).toBe(200);

      // the admin signs out (what a sign-out button sends): the stolen cookie opens nothing
      await victim.page.goBack();
      expect(await victim.page.evaluate(async () => (await fetch('/api/session/sign-out', { method: 'POST' })).status)).toBe(204);
      expect((await fetch(`${baseURL()}/api/notebooks`, withCookie(`ynb_admin=${stolen}`))).status).toBe(401);

      // signed in again, lured again; this time the admin ends every admin session from a script
      await signInAsAdmin(victim);
      await openNotebook(victim, id);
      await link.waitFor({ timeout: UI_MS });
      const again = cookieValue(await steal(), 'ynb_admin');
      expect(again).not.toBeNull();
      expect(again).not.toBe(stolen);
      expect(again).not.toBe(TEST_ADMIN_TOKEN);
      await victim.page.goBack();
      await victim.page.locator('[data-testid=connection-status][data-state=connected]').waitFor({ timeout: UI_MS });
      expect((await fetch(`${baseURL()}/api/notebooks`, withCookie(`ynb_admin=${again}`))).status).toBe(200);
      const revoked = await fetchAsAdmin(`${baseURL()}/api/admin/sessions`, { method: 'DELETE' });
      expect(revoked.status).toBe(200);
      expect(((await revoked.json()) as { ended: number }).ended).toBeGreaterThanOrEqual(1);
      expect((await fetch(`${baseURL()}/api/notebooks`, withCookie(`ynb_admin=${again}`))).status).toBe(401);
      // the admin's own open page is cut off at once, and says why
      await expect.poll(() => victim.page.getByTestId('access-lost').getAttribute('data-code'), { timeout: UI_MS }).toBe('4410');
      lure.destroy();
    } finally {
      await victim.context.close();
      await listener.close();
    }
  });

  it('a Host with userinfo gets 421 on a page, and a malformed percent-encoding 400 (not 500)', async () => {
    const port = new URL(baseURL()).port;
    const get = (path: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
    expect(await get('/', `evil.com@localhost:${port}`)).toBe(421);
    expect(await get('/n/abc', `evil.com@127.0.0.1:${port}`)).toBe(421);
    expect(await get('/n/%E0%A4%A', `127.0.0.1:${port}`)).toBe(400);
    expect(await get('/%E0%A4%A', `127.0.0.1:${port}`)).toBe(400);
  });
});

describe('what a server with a model tells whom', () => {
  it("never prints an ADMIN_TOKEN it was given, and shows the model endpoint's host to editors but not to viewers", async () => {
    const MODEL_HOST = 'models.internal.example:8000';
    const server = await startAppServer({ extraEnv: { OPENAI_BASE_URL: `http://${MODEL_HOST}/v1`, OPENAI_API_KEY: 'sk-never-shown', OPENAI_MODEL: 'house-model', KERNEL_SPARE_POOL: '0' } });
    try {
      const logs = server.logs.join('');
      expect(logs).not.toContain(TEST_ADMIN_TOKEN);
      expect(logs).toContain('the admin token comes from the environment');

      const { id, token } = await createNotebookWithToken('Model info', server.url);
      const viewerLink = await createLink(id, 'viewer', token, server.url);
      const editorLink = await createLink(id, 'editor', token, server.url);
      // what each page holds (rendered, and the loader data it hydrates from), as its browser gets it
      const pageAs = async (url: string) => {
        const signIn = await fetch(url, { redirect: 'manual' });
        expect(signIn.status).toBe(200);
        const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0];
        const page = await fetch(`${server.url}/n/${id}`, withCookie(cookie));
        expect(page.status).toBe(200);
        return page.text();
      };
      const viewerPage = await pageAs(viewerLink.url);
      const editorPage = await pageAs(editorLink.url);
      expect(editorPage).toContain(MODEL_HOST);
      expect(viewerPage).not.toContain(MODEL_HOST);
      expect(viewerPage).not.toContain('models.internal.example');
      // the viewer still learns that AI is there (and which model)
      expect(viewerPage).toContain('house-model');
      for (const page of [viewerPage, editorPage]) expect(page).not.toContain('sk-never-shown');
    } finally {
      await server.close();
    }
  });
});
