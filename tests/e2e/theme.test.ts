// Light and dark as a person sees them: the page follows the system's colour scheme, the header's
// theme menu overrides it (kept across reloads), Monaco and the outputs follow, and text stays
// readable (WCAG contrast) in both.
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellsOf, findCell, insertCell, outputToY } from '../../common/notebook/model';
import { connectClient, type YClient } from '../support/yclient';
import { baseURL, cellById, createNotebook, editCell, expectNoErrors, launchBrowser, openAs, openNotebook, signIn, wsURL, type Person } from './support';

let browser: Browser;
let ada: Person;
let writer: YClient;
let notebookId: string;
let codeId: string;
let markdownId: string;
/** the height of the code cell's source in the dark theme: the light one must match it */
let darkCodeHeight = 0;

/** Relative luminance of a CSS rgb()/rgba() colour (WCAG 2). */
function luminance(css: string): number {
  const [r, g, b] = (css.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** An element's text colour and the background it is drawn on (the first opaque one up the tree). */
async function colours(target: Locator): Promise<{ color: string; background: string }> {
  return target.first().evaluate((el) => {
    const color = getComputedStyle(el).color;
    for (let node: Element | null = el; node; node = node.parentElement) {
      const bg = getComputedStyle(node).backgroundColor;
      const alpha = bg.startsWith('rgba') ? Number(bg.split(',')[3].replace(')', '')) : 1;
      if (alpha > 0.5) return { color, background: bg };
    }
    return { color, background: 'rgb(255, 255, 255)' };
  });
}

async function pageBackground(page: Page): Promise<string> {
  return page.evaluate(() => getComputedStyle(document.body).backgroundColor);
}

async function chooseTheme(page: Page, choice: 'system' | 'light' | 'dark') {
  await page.getByTestId('theme-toggle-button').click();
  await page.getByTestId(`theme-${choice}`).click();
  await expect.poll(() => page.getByTestId('theme-toggle').getAttribute('data-choice')).toBe(choice);
}

/** Text that must be readable (WCAG AA for body text: 4.5:1) in either theme. */
const READABLE = [
  ['body text', '.markdown-body p'],
  ['the title', '[data-testid=title]'],
  ['a header button', '[data-testid=run-all]'],
  ['code', `.code-static`],
  ['an output', '[data-testid=output] .ynb-out-text'],
  ['a traceback', '[data-testid=output-error]'],
  // without a model the ask bar holds the page's one no-model notice
  ['the ask bar', '[data-testid=no-model-notice]'],
  ['a TeX command KaTeX does not know', '.markdown-body .katex [style*="204, 0, 0"]'],
] as const;

async function expectReadable(page: Page, extra: readonly (readonly [string, string])[] = []) {
  for (const [what, selector] of [...READABLE, ...extra]) {
    const { color, background } = await colours(page.locator(selector));
    expect(contrast(color, background), `${what} (${color} on ${background})`).toBeGreaterThan(4.5);
  }
}

beforeAll(async () => {
  browser = await launchBrowser();
  ada = await openAs(browser, 'Ada Lovelace');
  notebookId = await createNotebook('Themes');
  writer = connectClient(wsURL(), notebookId);
  await writer.synced;
  markdownId = insertCell(writer.doc, 0, { cell_type: 'markdown', source: '## Results\n\nThe mean is $\\bar{x} = 4.2$, as expected; $\\oops$ is not TeX.' });
  codeId = insertCell(writer.doc, 1, { cell_type: 'code', source: 'import pandas as pd\nprint("rows:", 3)\ndf.head()' });
  const outputs = findCell(writer.doc, codeId)!.get('outputs') as import('yjs').Array<unknown>;
  writer.doc.transact(() => {
    outputs.push([
      outputToY({ output_type: 'stream', name: 'stdout', text: 'rows: 3\n' }),
      outputToY({ output_type: 'display_data', data: { 'text/html': '<table class="dataframe"><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>', 'text/plain': 'a\n1' }, metadata: {} }),
      outputToY({
        output_type: 'error',
        ename: 'NameError',
        evalue: "name 'df' is not defined",
        traceback: ['\u001b[0;31mNameError\u001b[0m                                 Traceback (most recent call last)', "\u001b[0;31mNameError\u001b[0m: name 'df' is not defined"],
      }),
    ]);
  });
  expect(cellsOf(writer.doc).length).toBeGreaterThanOrEqual(2);
});

afterAll(async () => {
  writer?.destroy();
  await browser?.close();
});

describe('theme', () => {
  it('follows a dark system: dark page, dark Monaco, dark outputs, readable text', async () => {
    await ada.page.emulateMedia({ colorScheme: 'dark' });
    await openNotebook(ada, notebookId);
    const page = ada.page;
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    expect(luminance(await pageBackground(page))).toBeLessThan(0.05);
    expect(await page.getByTestId('theme-toggle').getAttribute('data-choice')).toBe('system');
    await cellById(page, markdownId).locator('.katex').first().waitFor();
    await cellById(page, codeId).locator('[data-testid=output-error]').waitFor();
    // the light theme's ANSI red (JupyterLab's) is too faint for this; the dark one is not
    await expectReadable(page, [['a traceback in colour', '[data-testid=output-error] .ansi-red-fg']]);
    darkCodeHeight = (await cellById(page, codeId).getByTestId('cell-source').boundingBox())!.height;
    expect(darkCodeHeight).toBeGreaterThanOrEqual(3 * 20);

    // the HTML output's frame draws light text on the dark cell
    await expect
      .poll(async () => {
        const frame = page.frames().find((f) => f.url() === 'about:srcdoc');
        return luminance((await frame?.evaluate(() => getComputedStyle(document.body).color).catch(() => null)) ?? 'rgb(0, 0, 0)');
      })
      .toBeGreaterThan(0.5);

    // Monaco: the live editor of the selected cell is vs-dark
    await editCell(page, codeId);
    const editor = cellById(page, codeId).locator('.monaco-editor');
    expect(await editor.getAttribute('class')).toContain('vs-dark');
    const editorBg = await cellById(page, codeId).locator('.monaco-editor-background').evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(luminance(editorBg)).toBeLessThan(0.05);
    const keyword = cellById(page, codeId).locator('.view-line span span').filter({ hasText: /^import$/ });
    await expect.poll(() => keyword.count()).toBe(1);
    const { color, background } = await colours(keyword);
    expect(contrast(color, background), `Monaco's "import" (${color} on ${background})`).toBeGreaterThan(4.5);
    await page.keyboard.press('Escape');
    await page.screenshot({ path: '/tmp/e2e-theme-dark.png' });
  });

  it('switches to light from the header menu, at once and after a reload', async () => {
    const page = ada.page;
    await chooseTheme(page, 'light');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
    expect(luminance(await pageBackground(page))).toBeGreaterThan(0.8);
    await editCell(page, codeId);
    await expect.poll(() => cellById(page, codeId).locator('.monaco-editor').getAttribute('class')).not.toContain('vs-dark');
    await page.keyboard.press('Escape');
    await expectReadable(page);
    await page.screenshot({ path: '/tmp/e2e-theme-light.png' });

    // the system is still dark; the choice stays light
    await page.reload();
    await page.locator('[data-testid=connection-status][data-state=connected]').waitFor();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
    expect(await page.getByTestId('theme-toggle').getAttribute('data-choice')).toBe('light');
    expect(luminance(await pageBackground(page))).toBeGreaterThan(0.8);
    await cellById(page, codeId).locator('[data-testid=output-error]').waitFor();
    await expectReadable(page);
    // a theme changes colours, never sizes
    expect((await cellById(page, codeId).getByTestId('cell-source').boundingBox())!.height).toBe(darkCodeHeight);
  });

  it('goes back to the system with "System", and is dark on the home page too', async () => {
    const page = ada.page;
    await chooseTheme(page, 'system');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    // "System" follows the device live, without a reload
    await page.emulateMedia({ colorScheme: 'light' });
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.goto(`${baseURL()}/`);
    await page.getByTestId('new-notebook').waitFor();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    expect(luminance(await pageBackground(page))).toBeLessThan(0.05);
    const { color, background } = await colours(page.locator('.home-tagline'));
    expect(contrast(color, background)).toBeGreaterThan(4.5);
    // the home page's menu sets the same choice the notebook reads
    await chooseTheme(page, 'light');
    expect(luminance(await pageBackground(page))).toBeGreaterThan(0.8);
    await page.screenshot({ path: '/tmp/e2e-theme-home-light.png' });
    await chooseTheme(page, 'dark');
    await page.screenshot({ path: '/tmp/e2e-theme-home-dark.png' });
  });

  it('is dark before any of the app\'s scripts run (no flash of light)', async () => {
    // a second person whose choice is dark on a light system; the app's bundles never arrive
    const context = await browser.newContext({ colorScheme: 'light' });
    try {
      await context.addInitScript(() => window.localStorage.setItem('notebook.theme', 'dark'));
      const page = await context.newPage();
      await signIn(page);
      await page.route('**/assets/*.js', (route) => route.abort());
      await page.goto(`${baseURL()}/n/${notebookId}`);
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
      expect(luminance(await pageBackground(page))).toBeLessThan(0.05);
      expect(await page.locator('.nb-loading').textContent()).toBe('Loading notebook…');
    } finally {
      await context.close();
    }
  });

  it('logged no errors', async () => {
    await expectNoErrors(ada);
  });
});
