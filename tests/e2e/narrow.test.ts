// A phone-sized screen (400×800) and a desktop one (1280): the header folds into a menu that keeps
// the kernel, Interrupt and Restart reachable; nothing makes the page scroll sideways; the cell
// toolbar never covers the run badge or the execution count; "no model" is said once on the page.
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchAsAdmin } from '../support/auth';
import { baseURL, cellById, expectNoErrors, launchBrowser, openAs, openNotebook, type Person } from './support';
import { KERNEL_MS, scaled } from '../support/timing';

/** The first kernel of a notebook takes a few seconds to start. */
/** How long to wait for what the page shows next (generous: the machine may be busy). */
const WAIT_MS = 15_000;
/** What the server says when a kernel dies under a run (server/kernel/notebook-kernel.ts). */
const DEATH = /kernel died|kernel is dead|lost the connection to the kernel/i;
const PHONE = { width: 400, height: 800 };
const DESKTOP = { width: 1280, height: 860 };

const lines = (s: string) => s.split(/(?<=\n)/);
const codeCell = (id: string, source: string, prompt?: string) => ({
  cell_type: 'code',
  id,
  metadata: prompt === undefined ? {} : { ynotebook: { prompt } },
  source: lines(source),
  outputs: [],
  execution_count: null,
});

/** Makes a notebook from an .ipynb (the import route), so the test knows its cells' ids. */
async function importNotebook(title: string, cells: unknown[]): Promise<string> {
  const res = await fetchAsAdmin(`${baseURL()}/api/notebooks/import`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { title }, cells }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function runCell(notebookId: string, cellId: string, opts: { wait?: boolean } = {}) {
  const res = await fetchAsAdmin(`${baseURL()}/api/notebooks/${notebookId}/cells/${cellId}/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ by: { name: 'Ada Lovelace', color: '#e11d48' }, wait: opts.wait ?? true }),
  });
  expect(res.status).toBeLessThan(300);
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

function intersects(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** Whether the element at `target`'s centre is `target` or inside it: nothing covers it there. */
function isOnTop(target: Locator): Promise<boolean> {
  return target.evaluate((el) => {
    const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    return hit !== null && (hit === el || el.contains(hit));
  });
}

async function box(locator: Locator): Promise<Box> {
  const b = await locator.boundingBox();
  expect(b, 'element has a box').not.toBeNull();
  return b!;
}

async function pageWidths(page: Page) {
  return page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
}

/** The toolbar of the selected cell covers neither its run badge nor its execution count. */
async function expectToolbarClear(page: Page, cellId: string, badgeText: RegExp) {
  const cell = cellById(page, cellId);
  await cell.evaluate((el) => el.scrollIntoView({ block: 'center' }));
  const toolbar = cell.getByTestId('cell-toolbar');
  const badge = cell.getByTestId('execution-state');
  const count = cell.getByTestId('execution-count');
  await toolbar.waitFor();
  await expect.poll(() => badge.textContent(), { timeout: WAIT_MS }).toMatch(badgeText);
  const [t, b, c] = [await box(toolbar), await box(badge), await box(count)];
  expect(intersects(t, b), `toolbar ${JSON.stringify(t)} over the badge ${JSON.stringify(b)}`).toBe(false);
  expect(intersects(t, c), `toolbar ${JSON.stringify(t)} over the count ${JSON.stringify(c)}`).toBe(false);
  expect(await isOnTop(badge)).toBe(true);
  expect(await isOnTop(count)).toBe(true);
  // and both are on the page, not pushed off its side
  const { inner } = await pageWidths(page);
  expect(b.x).toBeGreaterThanOrEqual(0);
  expect(b.x + b.width).toBeLessThanOrEqual(inner);
  expect(t.x + t.width).toBeLessThanOrEqual(inner);
}

let browser: Browser;
let ada: Person;
let notebookId: string;

beforeAll(async () => {
  browser = await launchBrowser();
  notebookId = await importNotebook('Quarterly sales by region and product line, on a phone', [
    { cell_type: 'markdown', id: 'intro', metadata: {}, source: lines('# Sales\n\n| ' + Array.from({ length: 16 }, (_, i) => `region_${i}`).join(' | ') + ' |\n|' + '---|'.repeat(16) + '\n| ' + Array.from({ length: 16 }, (_, i) => i).join(' | ') + ' |') },
    codeCell('table', 'import pandas as pd\npd.DataFrame([[i * j for j in range(24)] for i in range(4)], columns=[f"a_long_column_name_{j}" for j in range(24)])'),
    codeCell('plot', 'import matplotlib.pyplot as plt\nplt.figure(figsize=(16, 3))\nplt.plot([x ** 0.5 for x in range(100)])\nplt.show()'),
    codeCell('text', 'print("an_identifier_without_any_spaces_" * 12)'),
    codeCell('slow', 'import time\ntime.sleep(600)'),
    codeCell('next', 'print("after")'),
    codeCell('fresh', 'print(41 + 1)'),
  ]);
  // outputs as a person would have them: a wide table, a wide plot, a long line
  for (const id of ['table', 'plot', 'text']) await runCell(notebookId, id);
  ada = await openAs(browser, 'Ada Lovelace', { viewport: PHONE });
  ada.page.on('dialog', (d) => void d.accept());
  await openNotebook(ada, notebookId);
  await cellById(ada.page, 'plot').locator('[data-testid=output-image]').waitFor({ timeout: KERNEL_MS });
}, 240_000);

afterAll(async () => {
  await browser?.close();
});

describe('a 400 px wide screen', () => {
  it('keeps the kernel, the connection and the people in the header, and never scrolls sideways', async () => {
    const page = ada.page;
    for (const id of ['kernel-status', 'connection-status', 'presence-user', 'header-menu-toggle']) {
      const el = page.getByTestId(id).first();
      expect(await el.isVisible(), id).toBe(true);
      const b = await box(el);
      expect(b.x + b.width, `${id} within the screen`).toBeLessThanOrEqual(PHONE.width);
    }
    expect(await page.getByTestId('connection-status').getAttribute('data-state')).toBe('connected');
    expect(await page.getByTestId('presence-user').first().getAttribute('data-name')).toBe('Ada Lovelace');
    // the rest waits in the menu
    expect(await page.getByTestId('run-all').isVisible()).toBe(false);
    expect(await page.getByTestId('interrupt').isVisible()).toBe(false);
    const widths = await pageWidths(page);
    expect(widths.scroll).toBeLessThanOrEqual(widths.inner);
    // wide outputs scroll inside themselves: the table, the plot and the long line fit the screen
    for (const id of ['table', 'plot', 'text', 'intro']) {
      const cell = cellById(page, id);
      await cell.evaluate((el) => el.scrollIntoView({ block: 'center' }));
      const b = await box(cell);
      expect(b.x + b.width, `${id} within the screen`).toBeLessThanOrEqual(PHONE.width);
    }
    const image = await box(cellById(page, 'plot').locator('[data-testid=output-image]'));
    expect(image.x + image.width).toBeLessThanOrEqual(PHONE.width);
    const ask = await box(page.getByTestId('ask-bar'));
    expect(ask.x).toBeGreaterThanOrEqual(0);
    expect(ask.x + ask.width).toBeLessThanOrEqual(PHONE.width);
    expect((await pageWidths(page)).scroll).toBeLessThanOrEqual(PHONE.width);
    await page.screenshot({ path: '/tmp/e2e-narrow-400.png' });
  });

  it('shows the first three people in the bar and counts the others', async () => {
    const page = ada.page;
    const others: Person[] = [];
    try {
      for (const name of ['Grace Hopper', 'Linus Torvalds', 'Barbara Liskov']) {
        const p = await openAs(browser, name, { viewport: DESKTOP });
        others.push(p);
        await openNotebook(p, notebookId);
      }
      await expect.poll(() => page.getByTestId('presence-user').count(), { timeout: WAIT_MS }).toBe(4);
      const more = page.getByTestId('presence-more');
      expect(await more.isVisible()).toBe(true);
      expect(await more.textContent()).toBe('+1');
      const shown = await page.locator('[data-testid=presence-user]:visible').evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
      expect(shown).toHaveLength(3);
      const hidden = ['Ada Lovelace', 'Grace Hopper', 'Linus Torvalds', 'Barbara Liskov'].filter((n) => !shown.includes(n));
      expect(await more.getAttribute('title')).toBe(hidden.join(', '));
      const b = await box(more);
      expect(b.x + b.width).toBeLessThanOrEqual(PHONE.width);
      expect((await pageWidths(page)).scroll).toBeLessThanOrEqual(PHONE.width);
      await page.screenshot({ path: '/tmp/e2e-narrow-people.png' });
      await expectNoErrors(...others);
    } finally {
      for (const p of others) await p.context.close();
    }
    await expect.poll(() => page.getByTestId('presence-user').count(), { timeout: WAIT_MS }).toBe(1);
    expect(await page.getByTestId('presence-more').count()).toBe(0);
  });

  it('opens the menu with Run all, the Cells menu, Interrupt, Restart, Files, Download .ipynb and Share', async () => {
    const page = ada.page;
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.getByTestId('header-menu-toggle').click();
    for (const id of ['run-all', 'cells-menu', 'interrupt', 'restart', 'files-toggle', 'download-ipynb', 'share-button']) {
      const el = page.getByTestId(id);
      expect(await el.isVisible(), id).toBe(true);
      const b = await box(el);
      expect(b.x, id).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width, `${id} within the screen`).toBeLessThanOrEqual(PHONE.width);
      expect(b.y + b.height, `${id} within the screen`).toBeLessThanOrEqual(PHONE.height);
      expect(await isOnTop(el), `${id} is not covered`).toBe(true);
    }
    // labelled, not bare icons
    expect(await page.getByTestId('interrupt').innerText()).toContain('Interrupt');
    expect(await page.getByTestId('restart').innerText()).toContain('Restart');
    await page.screenshot({ path: '/tmp/e2e-narrow-menu.png' });
    expect((await pageWidths(page)).scroll).toBeLessThanOrEqual(PHONE.width);
    // Escape folds it again
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('interrupt').isVisible(), { timeout: WAIT_MS }).toBe(false);
  });

  it('never covers the run badge or the execution count with the toolbar, at 400 and at 1280 px', async () => {
    const page = ada.page;
    await runCell(notebookId, 'slow', { wait: false });
    await runCell(notebookId, 'next', { wait: false });
    await cellById(page, 'slow').locator('[data-testid=execution-state][data-state=running]').waitFor({ timeout: KERNEL_MS });
    for (const viewport of [PHONE, DESKTOP]) {
      await page.setViewportSize(viewport);
      // the running cell selected (its toolbar shown), then the queued one
      await cellById(page, 'slow').locator('[data-testid=cell-source]').click();
      await page.keyboard.press('Escape');
      await expectToolbarClear(page, 'slow', /^running \(Ada Lovelace\) \d+s$/);
      await page.screenshot({ path: `/tmp/e2e-narrow-running-${viewport.width}.png` });
      await cellById(page, 'next').locator('[data-testid=cell-source]').click();
      await page.keyboard.press('Escape');
      await expectToolbarClear(page, 'next', /^queued by Ada Lovelace$/);
      // hovering the running cell changes nothing
      await cellById(page, 'slow').hover();
      expect(await isOnTop(cellById(page, 'slow').getByTestId('execution-state'))).toBe(true);
      const widths = await pageWidths(page);
      expect(widths.scroll).toBeLessThanOrEqual(widths.inner);
    }
    await page.setViewportSize(PHONE);
  });

  it('interrupts and restarts the kernel from the menu; a run after the restart gets [1]', async () => {
    const page = ada.page;
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.getByTestId('header-menu-toggle').click();
    await page.getByTestId('interrupt').click();
    // the menu folds once an action is taken
    await expect.poll(() => page.getByTestId('interrupt').isVisible(), { timeout: WAIT_MS }).toBe(false);
    await expect.poll(() => cellById(page, 'slow').getByTestId('execution-interrupted').textContent(), { timeout: scaled(20_000) }).toBe('interrupted by Ada Lovelace');
    await expect.poll(() => cellById(page, 'next').locator('[data-testid=execution-state]').count(), { timeout: WAIT_MS }).toBe(0);
    await expect.poll(() => page.getByTestId('kernel-status').getAttribute('data-status'), { timeout: scaled(20_000) }).toBe('idle');
    expect(await cellById(page, 'slow').locator('[data-testid=output-error]').textContent()).toContain('KeyboardInterrupt');

    await page.getByTestId('header-menu-toggle').click();
    const restarted = page.waitForResponse((r) => r.url().endsWith(`/api/notebooks/${notebookId}/restart`));
    await page.getByTestId('restart').click(); // the confirm is accepted (beforeAll)
    expect((await restarted).status()).toBe(200);
    await expect.poll(() => page.getByTestId('kernel-status').getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('idle');
    const fresh = cellById(page, 'fresh');
    await fresh.evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await fresh.locator('[data-testid=cell-source]').click();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Enter');
    await expect.poll(() => fresh.getByTestId('execution-count').textContent(), { timeout: KERNEL_MS }).toBe('[1]:');
    await expect.poll(() => fresh.locator('[data-testid=output]').first().textContent(), { timeout: WAIT_MS }).toBe('42\n');
  });

  it('keeps a dead kernel\'s Restart in the bar, and says why once', async () => {
    const page = ada.page;
    const res = await fetchAsAdmin(`${baseURL()}/api/notebooks/${notebookId}/cells/fresh/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)', by: { name: 'Ada Lovelace' } }),
    });
    expect(res.status).toBe(200);
    await expect.poll(() => page.getByTestId('kernel-status').getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('dead');
    const restart = page.getByTestId('restart-broken');
    expect(await restart.isVisible()).toBe(true);
    expect(await isOnTop(restart)).toBe(true);
    const b = await box(restart);
    expect(b.x + b.width).toBeLessThanOrEqual(PHONE.width);
    expect((await pageWidths(page)).scroll).toBeLessThanOrEqual(PHONE.width);
    // the reason is the cell's output, once; the header says "dead" and offers the restart
    const fresh = cellById(page, 'fresh');
    await expect.poll(() => fresh.locator('[data-testid=output-error]').textContent(), { timeout: KERNEL_MS }).toMatch(DEATH);
    const mentions = await page.evaluate((source) => {
      const re = new RegExp(source, 'i');
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      let n = 0;
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.parentElement;
        if (el && re.test(node.textContent ?? '') && el.checkVisibility()) n++;
      }
      return n;
    }, DEATH.source);
    expect(mentions).toBe(1);
    await page.screenshot({ path: '/tmp/e2e-narrow-dead.png' });
    await restart.click();
    await expect.poll(() => page.getByTestId('kernel-status').getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('idle');
  });

  it('logged no errors', async () => {
    await expectNoErrors(ada);
  });
});

describe('no model configured', () => {
  it('says so once, visible at 1280 px without hovering, and the AI controls point to it', async () => {
    // the shared server has no OPENAI_* settings
    const id = await importNotebook('Several AI cells', [
      codeCell('a1', 'x = 1', 'make sample sales data'),
      codeCell('a2', '', 'plot it'),
      codeCell('plain', 'print(1)'),
      codeCell('a3', '', 'describe it'),
      codeCell('a4', '', 'fit a trend line'),
    ]);
    const lin = await openAs(browser, 'Linus', { viewport: DESKTOP });
    await openNotebook(lin, id);
    const page = lin.page;
    await page.mouse.move(0, DESKTOP.height - 1);
    await expect.poll(() => page.getByTestId('ai-panel').count(), { timeout: WAIT_MS }).toBe(4);
    const notice = page.getByTestId('no-model-notice');
    expect(await notice.count()).toBe(1);
    expect(await notice.isVisible()).toBe(true);
    const b = await box(notice);
    expect(b.y).toBeGreaterThanOrEqual(0);
    expect(b.y + b.height).toBeLessThanOrEqual(DESKTOP.height);
    expect(await isOnTop(notice.locator('strong'))).toBe(true);
    const text = (await notice.textContent()) ?? '';
    for (const name of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'OPENAI_MODEL']) expect(text).toContain(name);
    // nothing else on the page says it: not the cells, not the header
    const mentions = await page.evaluate(() => {
      const found: string[] = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.parentElement;
        if (el && /OPENAI_API_KEY|no (language )?model/i.test(node.textContent ?? '') && el.checkVisibility()) found.push(node.textContent ?? '');
      }
      return found;
    });
    expect(mentions).toEqual(['AI is off: no language model is configured.', 'OPENAI_API_KEY']);
    // each AI control is off, with a short title that points to the notice
    for (const gen of await page.getByTestId('ai-generate').all()) {
      expect(await gen.isDisabled()).toBe(true);
      expect(await gen.getAttribute('title')).toMatch(/no language model.*see the notice/i);
    }
    expect(await page.getByTestId('new-ai-cell').isDisabled()).toBe(true);
    expect(await page.getByTestId('new-ai-cell').getAttribute('title')).toMatch(/see the notice/);
    expect(await page.getByTestId('model-info').count()).toBe(0);
    await page.screenshot({ path: '/tmp/e2e-narrow-no-model-1280.png' });
    // an AI cell made with the key adds no second message
    await page.keyboard.press('Escape');
    await page.keyboard.press('i');
    await expect.poll(() => page.getByTestId('ai-panel').count(), { timeout: WAIT_MS }).toBe(5);
    expect(await page.getByTestId('toast').count()).toBe(0);
    expect(await page.getByTestId('no-model-notice').count()).toBe(1);
    // the same on a phone: one notice, on the screen
    await page.setViewportSize(PHONE);
    expect(await page.getByTestId('no-model-notice').count()).toBe(1);
    const small = await box(page.getByTestId('no-model-notice'));
    expect(small.x + small.width).toBeLessThanOrEqual(PHONE.width);
    expect(small.y + small.height).toBeLessThanOrEqual(PHONE.height);
    expect((await pageWidths(page)).scroll).toBeLessThanOrEqual(PHONE.width);
    await page.screenshot({ path: '/tmp/e2e-narrow-no-model-400.png' });
    await expectNoErrors(lin);
    await lin.context.close();
  });
});
