// Command mode as in JupyterLab (issue 9): C / X / V copy, cut and paste cells (also between
// notebooks of one browser), Shift+arrows and Shift+click select several cells that run, delete,
// move and merge together, undo of a delete selects the cell again, and the header's Cells menu
// clears outputs and restarts and runs all. A viewer gets none of it.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellById, cellIds, createLink, createNotebook, eventually, expectNoErrors, launchBrowser, openAs, openLink, openNotebook, shownSource, type Person } from './support';
import { KERNEL_MS } from '../support/timing';


let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

const mode = (page: Page) => page.getByTestId('notebook').getAttribute('data-mode');
const activeId = (page: Page) => page.locator('[data-testid=cell].is-active').getAttribute('data-cell-id');
const selectedIds = (page: Page) => page.locator('[data-testid=cell][data-selected=true]').evaluateAll((els) => els.map((e) => e.getAttribute('data-cell-id') ?? ''));
const sources = async (page: Page) => Promise.all((await cellIds(page)).map((id) => shownSource(page, id)));

/** A new notebook whose cells hold `lines`, left in command mode with its last cell selected. */
async function notebookWith(person: Person, lines: string[]): Promise<{ id: string; cells: string[] }> {
  const id = await createNotebook('Command mode');
  await openNotebook(person, id);
  const { page } = person;
  // a new notebook opens in edit mode in its first cell
  await expect.poll(() => mode(page)).toBe('edit');
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) {
      await page.keyboard.press('Escape');
      await page.keyboard.press('b');
      await expect.poll(async () => (await cellIds(page)).length).toBe(i + 1);
      await page.keyboard.press('Enter');
    }
    const current = (await cellIds(page))[i];
    await cellById(page, current).locator('.monaco-editor.focused').waitFor();
    await page.keyboard.type(lines[i]);
    await eventually(async () => expect(await shownSource(page, current)).toBe(lines[i]));
  }
  await page.keyboard.press('Escape');
  await expect.poll(() => mode(page)).toBe('command');
  return { id, cells: await cellIds(page) };
}

async function pressDD(page: Page) {
  await page.keyboard.press('d');
  await page.keyboard.press('d');
}

describe('command mode', () => {
  it('copies two cells with C and pastes them with V into another notebook, with new ids; X cuts', async () => {
    const ada = await openAs(browser, 'Ada Lovelace');
    const { page } = ada;
    const { id: first, cells: [a, b, c] } = await notebookWith(ada, ['a = 1', 'b = 2', 'c = 3']);
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    expect(await activeId(page)).toBe(a);
    await page.keyboard.press('Shift+ArrowDown');
    await expect.poll(() => selectedIds(page)).toEqual([a, b]);
    await page.keyboard.press('c');
    await page.screenshot({ path: '/tmp/e2e-multi-select.png' });

    // another notebook of this browser: V pastes below the selected cell
    const second = await createNotebook('Paste target');
    await openNotebook(ada, second);
    await expect.poll(() => mode(page)).toBe('edit');
    await page.keyboard.type('z = 0');
    await page.keyboard.press('Escape');
    await expect.poll(() => mode(page)).toBe('command');
    await page.keyboard.press('v');
    await expect.poll(() => sources(page)).toEqual(['z = 0', 'a = 1', 'b = 2']);
    const pasted = await cellIds(page);
    expect(new Set(pasted).size).toBe(3);
    expect(pasted).not.toContain(a);
    expect(pasted).not.toContain(b);
    // pasting again makes more new cells, never a duplicate id
    await page.keyboard.press('v');
    await expect.poll(() => sources(page)).toEqual(['z = 0', 'a = 1', 'b = 2', 'a = 1', 'b = 2']);
    expect(new Set(await cellIds(page)).size).toBe(5);

    // X cuts the selection in the first notebook; V puts it back below the selected cell
    await openNotebook(ada, first);
    await expect.poll(async () => (await cellIds(page)).length).toBe(3);
    await cellById(page, b).click({ position: { x: 4, y: 4 } });
    await page.keyboard.press('Escape');
    await page.keyboard.press('Shift+ArrowDown');
    await expect.poll(() => selectedIds(page)).toEqual([b, c]);
    await page.keyboard.press('x');
    await expect.poll(() => sources(page)).toEqual(['a = 1']);
    await page.keyboard.press('v');
    await expect.poll(() => sources(page)).toEqual(['a = 1', 'b = 2', 'c = 3']);
    await expectNoErrors(ada);
    await ada.context.close();
  });

  it('deletes a multi-selection with D D, and undo brings it back selected', async () => {
    const ada = await openAs(browser, 'Ada Lovelace');
    const { page } = ada;
    const { cells: [a, b, c] } = await notebookWith(ada, ['a = 1', 'b = 2', 'c = 3']);
    await page.keyboard.press('ArrowUp');
    expect(await activeId(page)).toBe(b);
    await cellById(page, c).click({ modifiers: ['Shift'], position: { x: 4, y: 4 } });
    await expect.poll(() => selectedIds(page)).toEqual([b, c]);
    expect(await mode(page)).toBe('command');
    await pressDD(page);
    await expect.poll(() => cellIds(page)).toEqual([a]);
    await page.keyboard.press('z');
    await expect.poll(() => cellIds(page)).toEqual([a, b, c]);
    await expect.poll(() => selectedIds(page)).toEqual([b, c]);
    expect(await activeId(page)).toBe(c);

    // a single cell: undo selects it again, not its neighbour
    await page.keyboard.press('Escape');
    await cellById(page, b).click({ position: { x: 4, y: 4 } });
    await page.keyboard.press('Escape');
    await expect.poll(() => activeId(page)).toBe(b);
    await pressDD(page);
    await expect.poll(() => cellIds(page)).toEqual([a, c]);
    expect(await activeId(page)).toBe(c);
    await page.keyboard.press('z');
    await expect.poll(() => cellIds(page)).toEqual([a, b, c]);
    await expect.poll(() => activeId(page)).toBe(b);
    await expectNoErrors(ada);
    await ada.context.close();
  });

  it('merges the selection with Shift+M (M alone makes markdown) and moves it as a block', async () => {
    const ada = await openAs(browser, 'Ada Lovelace');
    const { page } = ada;
    const { cells: [a, b, c] } = await notebookWith(ada, ['a = 1', 'b = 2', 'c = 3']);
    // the block [b, c] moves up past a with the toolbar's button
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Shift+ArrowDown');
    await expect.poll(() => selectedIds(page)).toEqual([b, c]);
    await cellById(page, c).getByTestId('move-up').click();
    await expect.poll(() => cellIds(page)).toEqual([b, c, a]);
    expect(await selectedIds(page)).toEqual([b, c]);
    await page.keyboard.press('z');
    await expect.poll(() => cellIds(page)).toEqual([a, b, c]);

    await page.keyboard.press('Escape');
    await cellById(page, a).click({ position: { x: 4, y: 4 } });
    await page.keyboard.press('Escape');
    await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+ArrowDown');
    await expect.poll(() => selectedIds(page)).toEqual([a, b, c]);
    await page.keyboard.press('Shift+M');
    await expect.poll(() => cellIds(page)).toEqual([a]);
    await eventually(async () => expect(await shownSource(page, a)).toBe('a = 1\nb = 2\nc = 3'));
    expect(await cellById(page, a).getAttribute('data-cell-type')).toBe('code');
    await page.keyboard.press('z');
    await expect.poll(() => sources(page)).toEqual(['a = 1', 'b = 2', 'c = 3']);

    // M alone changes the type
    await page.keyboard.press('Escape');
    await cellById(page, b).click({ position: { x: 4, y: 4 } });
    await page.keyboard.press('Escape');
    await page.keyboard.press('m');
    await expect.poll(() => cellById(page, b).getAttribute('data-cell-type')).toBe('markdown');
    expect(await cellIds(page)).toEqual([a, b, c]);
    await expectNoErrors(ada);
    await ada.context.close();
  });

  it('runs a selection with Shift+Enter, clears outputs from the Cells menu, and restarts and runs all', async () => {
    const ada = await openAs(browser, 'Ada Lovelace');
    const { page } = ada;
    const { cells: [a, b] } = await notebookWith(ada, ['x = 41', 'print(x + 1)']);
    await page.keyboard.press('Shift+ArrowUp');
    await expect.poll(() => selectedIds(page)).toEqual([a, b]);
    await page.keyboard.press('Shift+Enter');
    await expect.poll(() => cellById(page, b).getByTestId('cell-outputs').textContent(), { timeout: KERNEL_MS }).toContain('42');
    expect(await cellById(page, a).getByTestId('execution-count').textContent()).toMatch(/\[\d+\]/);
    // Shift+Enter went past the selection: a new cell at the end, in edit mode
    await expect.poll(async () => (await cellIds(page)).length).toBe(3);
    await page.keyboard.press('Escape');

    await cellById(page, b).click({ position: { x: 4, y: 4 } });
    await page.keyboard.press('Escape');
    await page.getByTestId('cells-menu').locator('summary').click();
    await page.screenshot({ path: '/tmp/e2e-cells-menu.png' });
    await page.getByTestId('clear-outputs').click();
    await expect.poll(() => cellById(page, b).getByTestId('cell-outputs').count()).toBe(0);
    expect(await cellById(page, a).getByTestId('execution-count').textContent()).toMatch(/\[\d+\]/);
    await page.getByTestId('cells-menu').locator('summary').click();
    await page.getByTestId('clear-all-outputs').click();
    await expect.poll(() => cellById(page, a).getByTestId('execution-count').textContent()).toMatch(/\[ ?\]/);

    page.once('dialog', (d) => void d.accept());
    await page.getByTestId('cells-menu').locator('summary').click();
    await page.getByTestId('restart-run-all').click();
    await expect.poll(() => cellById(page, b).getByTestId('cell-outputs').textContent(), { timeout: KERNEL_MS }).toContain('42');
    await expect.poll(() => cellById(page, a).getByTestId('execution-count').textContent()).toBe('[1]:');
    await expectNoErrors(ada);
    await ada.context.close();
  });

  it('gives a viewer none of it', async () => {
    const ada = await openAs(browser, 'Ada Lovelace');
    const { id, cells } = await notebookWith(ada, ['a = 1', 'b = 2']);
    const link = await createLink(id, 'viewer');
    const vic = await openAs(browser, 'Vic', { asAdmin: false });
    await openLink(vic, link.url);
    const { page } = vic;
    await page.waitForTimeout(300);
    expect(await page.getByTestId('cells-menu').count()).toBe(0);
    await page.keyboard.press('Shift+ArrowDown');
    await cellById(page, cells[1]).click({ modifiers: ['Shift'], position: { x: 4, y: 4 } });
    expect(await selectedIds(page)).toEqual([]);
    await page.keyboard.press('c');
    await page.keyboard.press('v');
    await page.keyboard.press('x');
    await page.keyboard.press('Shift+M');
    await page.waitForTimeout(300);
    expect(await cellIds(page)).toEqual(cells);
    expect(await page.evaluate(() => window.localStorage.getItem('ynotebook.cell-clipboard'))).toBeNull();
    expect(await cellIds(ada.page)).toEqual(cells);
    await ada.context.close();
    await vic.context.close();
  });
});
