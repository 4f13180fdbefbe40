// Two people in one notebook, each in their own browser context.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  twoPeopleIn,
  cellById,
  cellIds,
  createNotebook,
  editCell,
  editorText,
  eventually,
  expectNoErrors,
  launchBrowser,
  openAs,
  openNotebook,
  type Person,
} from './support';

let browser: Browser;
let ada: Person;
let grace: Person;
let notebookId: string;

beforeAll(async () => {
  ({ browser, ada, grace, notebookId } = await twoPeopleIn('Shared analysis'));
});

afterAll(async () => {
  await browser?.close();
});

describe('two browsers on one notebook', () => {
  it('shows who is here', async () => {
    for (const p of [ada, grace]) {
      await eventually(async () => {
        const names = await p.page.locator('[data-testid=presence] [data-testid=presence-user]').evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
        expect(names.sort()).toEqual(['Ada Lovelace', 'Grace Hopper']);
      });
    }
  });

  it("shows one person's typing and cursor to the other", async () => {
    const [first] = await cellIds(ada.page);
    await editCell(grace.page, first);
    await editCell(ada.page, first);
    await ada.page.keyboard.type('total = sum(range(10))');
    await eventually(async () => expect(await editorText(grace.page, first)).toBe('total = sum(range(10))'));
    // Ada's caret, drawn by y-monaco in Grace's editor in Ada's colour, with her name
    const head = grace.page.locator(`[data-cell-id="${first}"] .monaco-editor .yRemoteSelectionHead`);
    await head.first().waitFor();
    // y-monaco redraws the remote caret as it moves: wait for the label rather than read it once
    await expect.poll(() => head.first().evaluate((el) => getComputedStyle(el, '::after').content)).toBe('"Ada Lovelace"');
    // and Grace sees which cell Ada is in
    await expect.poll(() => cellById(grace.page, first).locator('[data-testid=cell-peers] .peer-chip').textContent()).toBe('AL');
    await grace.page.screenshot({ path: '/tmp/e2e-collab-grace.png' });
  });

  it("undo takes back only this person's edits", async () => {
    const [first] = await cellIds(ada.page);
    // moving the caret on purpose closes the previous undo step, as in any editor
    await ada.page.keyboard.press('Home');
    await ada.page.keyboard.press('End');
    await ada.page.keyboard.type('  # ada');
    await eventually(async () => expect(await editorText(grace.page, first)).toContain('# ada'));
    await grace.page.keyboard.press('Control+End');
    await grace.page.keyboard.press('Enter');
    await grace.page.keyboard.type('print(total)');
    await eventually(async () => expect(await editorText(ada.page, first)).toContain('print(total)'));
    await ada.page.keyboard.press('Control+z');
    await eventually(async () => {
      const text = await editorText(grace.page, first);
      expect(text).not.toContain('# ada');
      expect(text).toContain('total = sum(range(10))');
      expect(text).toContain('print(total)');
    });
  });

  it('shows a cell added by one person to the other', async () => {
    const before = await cellIds(ada.page);
    await grace.page.getByTestId('add-markdown-cell').click();
    await grace.page.keyboard.type('# Findings');
    await grace.page.keyboard.press('Shift+Enter');
    await eventually(async () => expect((await cellIds(ada.page)).length).toBe(before.length + 2));
    const after = await cellIds(ada.page);
    expect(after).toEqual(await cellIds(grace.page));
    const md = ada.page.locator(`[data-cell-id="${after[before.length]}"]`);
    await expect.poll(() => md.getAttribute('data-cell-type')).toBe('markdown');
    await expect.poll(() => md.locator('[data-testid=markdown-rendered] h1').textContent()).toBe('Findings');
  });

  it('syncs the title and reflects it in the tab', async () => {
    const title = ada.page.getByTestId('title');
    await title.fill('Revenue by month');
    await title.press('Enter');
    await expect.poll(() => grace.page.getByTestId('title').inputValue()).toBe('Revenue by month');
    await expect.poll(() => grace.page.title()).toBe('Revenue by month');
  });

  it('works the Jupyter keyboard in command mode', async () => {
    const page = ada.page;
    await page.keyboard.press('Escape');
    await page.locator('[data-testid=notebook][data-mode=command]').waitFor();
    const start = await cellIds(page);
    const active = async () => page.locator('[data-testid=cell].is-active').getAttribute('data-cell-id');
    // B inserts below and selects it; A above; D D deletes
    await page.keyboard.press('b');
    await eventually(async () => expect((await cellIds(page)).length).toBe(start.length + 1));
    const inserted = await active();
    expect(start).not.toContain(inserted);
    await page.keyboard.press('m');
    await expect.poll(() => cellById(page, inserted!).getAttribute('data-cell-type')).toBe('markdown');
    await page.keyboard.press('y');
    await expect.poll(() => cellById(page, inserted!).getAttribute('data-cell-type')).toBe('code');
    await page.keyboard.press('d');
    await page.keyboard.press('d');
    await eventually(async () => expect(await cellIds(page)).toEqual(start));
    await eventually(async () => expect(await cellIds(grace.page)).toEqual(start));
    // Z brings the deleted cell back, for both
    await page.keyboard.press('z');
    await eventually(async () => expect((await cellIds(grace.page)).length).toBe(start.length + 1));
    // arrows move the selection; Enter edits
    await page.keyboard.press('k');
    await page.keyboard.press('Enter');
    await page.locator('[data-testid=notebook][data-mode=edit]').waitFor();
    await page.keyboard.press('Escape');
    // Ctrl+S confirms that everything is saved
    await page.keyboard.press('Control+s');
    await expect.poll(() => page.getByTestId('saved-indicator').textContent()).toContain('saved');
    expect(await page.getByTestId('saved-indicator').getAttribute('data-saved')).toBe('true');
  });

  it('logged no errors in either browser', async () => {
    await ada.page.screenshot({ path: '/tmp/e2e-collab-ada.png' });
    await expectNoErrors(ada, grace);
  });
});
