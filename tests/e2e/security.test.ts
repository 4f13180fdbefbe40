// What a notebook shows cannot act on the page: markdown is sanitized, HTML and SVG outputs run
// sandboxed, away from the page's cookies, storage and DOM.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellsOf, createCellMap } from '../../common/notebook/model';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { postWhenCellArrives } from '../support/server';
import { TEST_ADMIN_TOKEN } from '../support/auth';
import { baseURL, cellById, createNotebook, launchBrowser, openAs, openNotebook, wsURL, type Person } from './support';
import { KERNEL_MS, scaled } from '../support/timing';

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
