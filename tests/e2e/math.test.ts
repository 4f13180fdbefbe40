// Math as a Jupyter user writes it: $…$ and $$…$$ in markdown cells, and IPython's Math/Latex/
// Markdown displays from the real kernel, typeset by KaTeX under the page's CSP (fonts and styles
// from the app's own origin), the same for another person with a viewer link.
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertCell } from '../../common/notebook/model';
import { TEST_ADMIN_TOKEN } from '../support/auth';
import { connectClient, type YClient } from '../support/yclient';
import { baseURL, cellById, createLink, createNotebook, editCell, expectNoErrors, launchBrowser, openAs, openLink, openNotebook, wsURL, type Person } from './support';
import { KERNEL_MS } from '../support/timing';

/** The first kernel of a notebook takes a few seconds to start. */

const MARKDOWN = [
  '# Sums',
  '',
  'Euler: $e^{i\\pi} + 1 = 0$, and $a_1 + b_1 = c_1$ with _real_ emphasis; it costs \\$5, and `$HOME` is code.',
  '',
  '$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$',
  '',
  'Broken: $x^^2$ stays readable.',
].join('\n');

const CODE = [
  'from IPython.display import Math, Latex, Markdown, display',
  "display(Math(r'\\frac{a}{b}'))",
  "display(Latex(r'Area: $\\pi r^2$'))",
  "display(Markdown(r'Mean: $\\bar{x}_n$ of *n*'))",
].join('\n');

let browser: Browser;
let ada: Person;
let grace: Person;
let writer: YClient;
let notebookId: string;
let markdownId: string;
let codeId: string;
let hostileId: string;

/** Math that tries to become markup, links or script; all of it must stay text or plain math. */
const HOSTILE = [
  'Tag: $<img src=x onerror="window.pwned=1">$; link: $\\href{javascript:window.pwned=2}{click}$; id: $\\htmlId{evil}{x}$.',
  '',
  'In an attribute: <span title="$y$" data-testid="titled">tip</span>; in a link target: [go]($q$); in code: `@@0@@`.',
  '',
  '<div data-testid="in-html">$\\text{</annotation><img src=x onerror=window.pwned=3>}$</div>',
  '',
  '<svg width="40" height="20"><text x="0" y="15">$z$</text></svg>',
].join('\n');

/** The TeX that KaTeX's MathML keeps for each formula under `scope` (what a screen reader and a copy get). */
function texOf(scope: Locator): Promise<string[]> {
  return scope.locator('annotation[encoding="application/x-tex"]').allTextContents();
}

async function expectMarkdownMath(page: Page) {
  const body = cellById(page, markdownId).locator('.markdown-body');
  await expect.poll(() => texOf(body)).toEqual(['e^{i\\pi} + 1 = 0', 'a_1 + b_1 = c_1', '\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}']);
  expect(await body.locator('.katex-display').count()).toBe(1);
  // the underscores of a_1 + b_1 stayed math: the only emphasis is the one written as such
  expect(await body.locator('em').allTextContents()).toEqual(['real']);
  const text = (await body.textContent()) ?? '';
  expect(text).toContain('it costs $5, and $HOME is code.');
  expect(await body.locator('code').allTextContents()).toEqual(['$HOME']);
  // bad TeX: its source, in KaTeX's error colour, and the rest of the cell still renders
  const bad = body.locator('.katex-error');
  expect(await bad.textContent()).toBe('x^^2');
  expect(await bad.getAttribute('title')).toMatch(/ParseError/);
  expect(await bad.evaluate((el) => getComputedStyle(el).color)).toBe('rgb(204, 0, 0)');
  expect(text).toContain('stays readable.');
}

async function expectOutputMath(page: Page) {
  const outputs = cellById(page, codeId).locator('[data-testid=output]');
  await expect.poll(() => outputs.count(), { timeout: KERNEL_MS }).toBe(3);
  const [math, latex, markdown] = [outputs.nth(0), outputs.nth(1), outputs.nth(2)];
  expect(await math.getAttribute('data-mime')).toBe('text/latex');
  await expect.poll(() => texOf(math)).toEqual(['\\displaystyle \\frac{a}{b}']);
  // a fraction as drawn: a above b
  const glyph = (letter: string) => math.locator('.katex-html .mord.mathnormal').getByText(letter, { exact: true }).boundingBox();
  const [num, den] = [await glyph('a'), await glyph('b')];
  expect(num!.y + num!.height).toBeLessThanOrEqual(den!.y + 1);
  expect(await latex.getAttribute('data-mime')).toBe('text/latex');
  expect(await texOf(latex)).toEqual(['\\pi r^2']);
  expect(await latex.textContent()).toMatch(/^Area: /);
  expect(await markdown.getAttribute('data-mime')).toBe('text/markdown');
  expect(await texOf(markdown)).toEqual(['\\bar{x}_n']);
  expect(await markdown.locator('em').allTextContents()).toEqual(['n']);
}

/** KaTeX's fonts came from this app (the CSP allows nothing else) and are in use. */
async function expectKatexFonts(page: Page) {
  await expect
    .poll(() =>
      page.evaluate(async () => {
        await document.fonts.ready;
        return [...document.fonts].filter((f) => f.family.replace(/"/g, '') === 'KaTeX_Main' && f.status === 'loaded').length;
      }),
    )
    .toBeGreaterThan(0);
  const fontUrls = await page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .map((e) => e.name)
      .filter((u) => /KaTeX_/.test(u)),
  );
  expect(fontUrls.length).toBeGreaterThan(0);
  for (const url of fontUrls) expect(new URL(url).origin).toBe(new URL(baseURL()).origin);
}

beforeAll(async () => {
  browser = await launchBrowser();
  ada = await openAs(browser, 'Ada Lovelace');
  grace = await openAs(browser, 'Grace Hopper', { asAdmin: false });
  notebookId = await createNotebook('Math');
  writer = connectClient(wsURL(), notebookId);
  await writer.synced;
  markdownId = insertCell(writer.doc, 0, { cell_type: 'markdown', source: MARKDOWN });
  codeId = insertCell(writer.doc, 1, { cell_type: 'code', source: CODE });
  hostileId = insertCell(writer.doc, 2, { cell_type: 'markdown', source: HOSTILE });
});

afterAll(async () => {
  writer?.destroy();
  await browser?.close();
});

describe('math', () => {
  it('typesets inline and display math in a markdown cell; math is not emphasis; bad TeX shows its source', async () => {
    await openNotebook(ada, notebookId);
    await expectMarkdownMath(ada.page);
    await expectKatexFonts(ada.page);
    await ada.page.screenshot({ path: '/tmp/e2e-math-markdown.png' });
  });

  it('shows display(Math(…)), Latex(…) and Markdown(…) from the real kernel typeset', async () => {
    await editCell(ada.page, codeId);
    await ada.page.keyboard.press('Shift+Enter');
    await expectOutputMath(ada.page);
    await cellById(ada.page, codeId).screenshot({ path: '/tmp/e2e-math-outputs.png' });
  });

  it('shows another person (a viewer link) the same, and the export keeps the TeX', async () => {
    const link = await createLink(notebookId, 'viewer');
    await openLink(grace, link.url);
    await expectMarkdownMath(grace.page);
    await expectOutputMath(grace.page);
    await expectKatexFonts(grace.page);

    const res = await fetch(`${baseURL()}/api/notebooks/${notebookId}/export.ipynb`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    const nb = (await res.json()) as { cells: { id: string; source: string | string[]; outputs?: { data?: Record<string, unknown> }[] }[] };
    const join = (v: unknown) => (Array.isArray(v) ? v.join('') : String(v));
    expect(join(nb.cells.find((c) => c.id === markdownId)?.source)).toBe(MARKDOWN);
    const outputs = nb.cells.find((c) => c.id === codeId)?.outputs ?? [];
    expect(outputs.map((o) => join(o.data?.['text/latex'] ?? o.data?.['text/markdown']))).toEqual([
      '$\\displaystyle \\frac{a}{b}$',
      'Area: $\\pi r^2$',
      'Mean: $\\bar{x}_n$ of *n*',
    ]);
  });

  it('never turns math into markup: no script runs, no attribute or tag of the writer\'s choosing', async () => {
    const page = ada.page;
    const body = cellById(page, hostileId).locator('.markdown-body');
    await expect.poll(() => body.locator('.katex, .katex-error').count()).toBeGreaterThanOrEqual(4);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await body.locator('img, script, iframe, a[href^="javascript"]').count()).toBe(0);
    const handlers = await body.evaluate((el) => [...el.querySelectorAll('*')].flatMap((n) => [...n.attributes].map((a) => a.name)).filter((name) => name.startsWith('on')));
    expect(handlers).toEqual([]);
    // \\href and \\htmlId need KaTeX's trust, which is off: no link, no id
    expect(await body.locator('#evil').count()).toBe(0);
    // math in an attribute or a link target stays its source, as text
    expect(await body.getByTestId('titled').getAttribute('title')).toBe('$y$');
    expect(await body.locator('a', { hasText: 'go' }).count()).toBe(1);
    expect(await body.locator('code').textContent()).toBe('@@0@@');
    // the TeX that looked like a closing tag is the formula's text
    expect(await texOf(body.getByTestId('in-html'))).toEqual(['\\text{</annotation><img src=x onerror=window.pwned=3>}']);
    // inside SVG nothing is typeset
    expect(await body.locator('svg text').textContent()).toBe('$z$');
  });

  it('shows a formula as its source until KaTeX (a chunk of its own) arrives, then typesets it', async () => {
    const late = await openAs(browser, 'Late Reader');
    try {
      let release = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      await late.page.route(/\/assets\/katex-[\w-]+\.js$/, async (route) => {
        await held;
        await route.continue();
      });
      await openNotebook(late, notebookId);
      const body = cellById(late.page, markdownId).locator('.markdown-body');
      await expect.poll(() => body.locator('.math-pending').first().textContent()).toBe('$e^{i\\pi} + 1 = 0$');
      expect(await body.locator('.katex').count()).toBe(0);
      release();
      await expect.poll(() => texOf(body)).toEqual(['e^{i\\pi} + 1 = 0', 'a_1 + b_1 = c_1', '\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}']);
      await expect.poll(() => texOf(cellById(late.page, codeId).locator('[data-testid=output]').first())).toEqual(['\\displaystyle \\frac{a}{b}']);
      expect(await body.locator('.math-pending').count()).toBe(0);
      await expectNoErrors(late);
    } finally {
      await late.context.close();
    }
  });

  it('logged no errors (no CSP violation for KaTeX fonts or styles)', async () => {
    await expectNoErrors(ada, grace);
  });
});
