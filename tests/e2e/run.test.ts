// Running code from the UI on the shared kernel: outputs, run state and kernel controls, as two
// people see them.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twoPeopleIn, cellById, cellIds, createNotebook, editCell, expectNoErrors, launchBrowser, openAs, openNotebook, type Person } from './support';
import { KERNEL_MS, scaled } from '../support/timing';

/** The first kernel of a notebook takes a few seconds to start. */

let browser: Browser;
let ada: Person;
let grace: Person;
let notebookId: string;

beforeAll(async () => {
  ({ browser, ada, grace, notebookId } = await twoPeopleIn('Runs'));
});

afterAll(async () => {
  await browser?.close();
});

/** The cell in edit mode now (after Shift+Enter made or selected one). */
async function editingCellId(page: Page): Promise<string> {
  const cell = page.locator('[data-testid=cell].is-editing');
  await cell.locator('.monaco-editor.focused').waitFor();
  return (await cell.getAttribute('data-cell-id'))!;
}

async function typeAndRun(page: Page, code: string, key = 'Shift+Enter'): Promise<string> {
  const id = await editingCellId(page);
  await page.keyboard.type(code);
  await page.keyboard.press(key);
  return id;
}

describe('running cells from the browser', () => {
  it('runs a plot with Shift+Enter and shows it to both people', async () => {
    const [first] = await cellIds(ada.page);
    await editCell(ada.page, first);
    await ada.page.keyboard.type('import matplotlib.pyplot as plt\nplt.plot([1,4,9])\nplt.show()');
    await ada.page.keyboard.press('Shift+Enter');
    // the other person sees it queued or running, by Ada
    await expect
      .poll(() => cellById(grace.page, first).locator('[data-testid=execution-state]').textContent().catch(() => ''), { timeout: KERNEL_MS })
      .toMatch(/(queued by|running \()Ada Lovelace/);
    for (const p of [ada, grace]) {
      const img = cellById(p.page, first).locator('[data-testid=output-image]');
      await img.waitFor({ timeout: KERNEL_MS });
      await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
      await expect.poll(() => cellById(p.page, first).getByTestId('execution-count').textContent()).toBe('[1]:');
      await expect.poll(() => cellById(p.page, first).locator('[data-testid=execution-state]').count()).toBe(0);
    }
    await grace.page.screenshot({ path: '/tmp/e2e-run-plot-grace.png' });
  });

  it('runs the next cell and shows its stream output', async () => {
    const id = await typeAndRun(ada.page, 'print("hi")');
    for (const p of [ada, grace]) {
      await expect.poll(() => cellById(p.page, id).locator('[data-testid=output]').first().textContent(), { timeout: KERNEL_MS }).toBe('hi\n');
      await expect.poll(() => cellById(p.page, id).getByTestId('execution-count').textContent()).toBe('[2]:');
    }
  });

  it('renders a DataFrame as an HTML table', async () => {
    const id = await typeAndRun(ada.page, 'import pandas as pd\npd.DataFrame({"a": [1, 2], "b": [3, 4]})');
    const frame = cellById(grace.page, id).locator('[data-testid=output-html]');
    await frame.waitFor({ timeout: KERNEL_MS });
    const srcdoc = (await frame.getAttribute('srcdoc')) ?? '';
    expect(srcdoc).toContain('<table');
    expect(srcdoc).toContain('dataframe');
  });

  it('shows an exception as an error output', async () => {
    const id = await typeAndRun(ada.page, '1/0');
    const err = cellById(grace.page, id).locator('[data-testid=output-error]');
    await err.waitFor({ timeout: KERNEL_MS });
    expect(await err.textContent()).toContain('ZeroDivisionError');
  });

  it('interrupts an endless loop from the header', async () => {
    const id = await typeAndRun(ada.page, 'while True: pass', 'Control+Enter');
    await cellById(grace.page, id).locator('[data-testid=execution-state][data-state=running]').waitFor({ timeout: KERNEL_MS });
    await expect.poll(() => grace.page.getByTestId('kernel-status').getAttribute('data-status')).toBe('busy');
    await expect.poll(() => cellById(grace.page, id).getByTestId('execution-count').textContent()).toBe('[*]:');
    await cellById(grace.page, id).scrollIntoViewIfNeeded();
    await cellById(grace.page, id).hover();
    await expect.poll(() => cellById(grace.page, id).getByTestId('execution-state').textContent()).toMatch(/^running \(Ada Lovelace\) \d+s$/);
    await grace.page.screenshot({ path: '/tmp/e2e-run-busy.png' });
    await grace.page.getByTestId('interrupt').click();
    const err = cellById(ada.page, id).locator('[data-testid=output-error]');
    await err.waitFor({ timeout: scaled(20_000) });
    expect(await err.textContent()).toContain('KeyboardInterrupt');
    for (const p of [ada, grace]) {
      await expect.poll(() => p.page.getByTestId('kernel-status').getAttribute('data-status'), { timeout: scaled(20_000) }).toBe('idle');
      await expect.poll(() => cellById(p.page, id).locator('[data-testid=execution-state]').count()).toBe(0);
    }
  });

  it('restarts after a confirm, runs one cell with its button, then all in order', async () => {
    const [first, second, third] = await cellIds(ada.page);
    ada.page.once('dialog', (d) => void d.accept());
    await ada.page.getByTestId('restart').click();
    await expect.poll(() => ada.page.getByTestId('kernel-status').getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('idle');
    // a fresh kernel counts from 1 again: the second cell alone, with its ▶ button in the gutter
    await ada.page.keyboard.press('Escape');
    await cellById(ada.page, second).getByTestId('run-cell').click();
    await expect.poll(() => cellById(grace.page, second).getByTestId('execution-count').textContent(), { timeout: KERNEL_MS }).toBe('[1]:');
    await ada.page.getByTestId('run-all').click();
    await expect.poll(() => cellById(grace.page, first).getByTestId('execution-count').textContent(), { timeout: KERNEL_MS }).toBe('[2]:');
    await expect.poll(() => cellById(grace.page, second).getByTestId('execution-count').textContent()).toBe('[3]:');
    await expect.poll(() => cellById(grace.page, third).getByTestId('execution-count').textContent()).toBe('[4]:');
    await expect.poll(() => cellById(grace.page, second).locator('[data-testid=output]').first().textContent()).toBe('hi\n');
    // 1/0 cancels what was queued behind it, as in Jupyter: the endless loop never starts
    await expect.poll(() => grace.page.getByTestId('kernel-status').getAttribute('data-status'), { timeout: scaled(20_000) }).toBe('idle');
  });

  it('logged no errors in either browser', async () => {
    await ada.page.screenshot({ path: '/tmp/e2e-run-ada.png', fullPage: true });
    await expectNoErrors(ada, grace);
  });
});
