// Editing as a Jupyter user expects (issue 9): a new notebook takes the first keystrokes as code;
// Tab completes from the kernel and Shift+Tab shows its help.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseURL, cellById, cellIds, createLink, createNotebook, editorText, eventually, expectNoErrors, launchBrowser, openAs, openLink, openNotebook, shownSource } from './support';
import { KERNEL_MS, scaled } from '../support/timing';


let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

describe('a new notebook', () => {
  it("takes a first-time visitor's first keystrokes after they give their name", async () => {
    const id = await createNotebook('First visit');
    const bob = await openAs(browser, 'Bob', { isFirstVisit: true });
    await bob.page.goto(`${baseURL()}/n/${id}`);
    await bob.page.getByTestId('name-input').waitFor();
    await bob.page.keyboard.type('Bob');
    await bob.page.keyboard.press('Enter');
    await bob.page.getByTestId('name-dialog').waitFor({ state: 'detached' });
    // the cursor is in the first cell, as it is for a returning visitor (the dialog may come up
    // before the notebook has arrived)
    await bob.page.locator('[data-testid=cell]').first().waitFor();
    const [first] = await cellIds(bob.page);
    await cellById(bob.page, first).locator('.monaco-editor.focused').waitFor();
    // then straight on to code, as a Jupyter user does: "from" is not f, r, o, m in command mode
    await bob.page.keyboard.type('from math import pi');
    await eventually(async () => expect(await shownSource(bob.page, first)).toBe('from math import pi'));
    expect(await bob.page.locator('[data-testid=cell]').count()).toBe(1);
    expect(await bob.page.getByTestId('ai-prompt').count()).toBe(0);
    expect(await bob.page.getByTestId('notebook').getAttribute('data-mode')).toBe('edit');
    await expectNoErrors(bob);
    await bob.context.close();
  });

  it('takes the first keystrokes into its first cell, in edit mode', async () => {
    const id = await createNotebook('First keys');
    const ada = await openAs(browser, 'Ada Lovelace');
    await openNotebook(ada, id);
    // at once: Monaco may still be loading
    await ada.page.keyboard.type('import pandas as pd');
    const [first] = await cellIds(ada.page);
    await eventually(async () => expect(await shownSource(ada.page, first)).toBe('import pandas as pd'));
    await cellById(ada.page, first).locator('.monaco-editor.focused').waitFor();
    // the caret is at the end: typing goes on where it stopped
    await ada.page.keyboard.type('\nx = 1');
    await eventually(async () => expect(await editorText(ada.page, first)).toBe('import pandas as pd\nx = 1'));
    expect(await ada.page.locator('[data-testid=cell]').count()).toBe(1);
    expect(await ada.page.getByTestId('ai-prompt').count()).toBe(0);
    expect(await ada.page.getByTestId('notebook').getAttribute('data-mode')).toBe('edit');
    await ada.page.screenshot({ path: '/tmp/e2e-first-keys.png' });

    // a notebook with content opens in command mode, as before
    const grace = await openAs(browser, 'Grace Hopper');
    await openNotebook(grace, id);
    await grace.page.waitForTimeout(300);
    expect(await grace.page.getByTestId('notebook').getAttribute('data-mode')).toBe('command');
    await expectNoErrors(ada, grace);
    await ada.context.close();
    await grace.context.close();
  });

  it('opens in command mode for a viewer, with none of the editing helps', async () => {
    const id = await createNotebook('Viewer keys');
    const link = await createLink(id, 'viewer');
    const vic = await openAs(browser, 'Vic', { asAdmin: false });
    await openLink(vic, link.url);
    await vic.page.waitForTimeout(400);
    expect(await vic.page.getByTestId('notebook').getAttribute('data-mode')).toBe('command');
    await vic.page.keyboard.type('x');
    await vic.page.waitForTimeout(200);
    const [first] = await cellIds(vic.page);
    expect(await shownSource(vic.page, first)).toBe('');
    expect(await vic.page.getByTestId('ask-bar').count()).toBe(0);
    await vic.context.close();
  });
});

describe('help from the kernel', () => {
  it('completes a DataFrame column after df. with Tab, and Shift+Tab shows the signature', async () => {
    const id = await createNotebook('Completion');
    const ada = await openAs(browser, 'Ada Lovelace');
    await openNotebook(ada, id);
    const page = ada.page;
    const [first] = await cellIds(page);
    await cellById(page, first).locator('.monaco-editor.focused').waitFor();
    await page.keyboard.type("import pandas as pd; df = pd.DataFrame({'revenue': [1], 'region': ['n']})");
    await page.keyboard.press('Shift+Enter');
    await expect.poll(() => cellById(page, first).getByTestId('execution-count').textContent(), { timeout: KERNEL_MS }).toBe('[1]:');
    const second = (await cellIds(page))[1];
    await cellById(page, second).locator('.monaco-editor.focused').waitFor();

    // Tab at the start of a line indents, as before
    await page.keyboard.press('Tab');
    await eventually(async () => expect(await editorText(page, second)).toBe('    '));
    await page.keyboard.press('Shift+Tab');
    await eventually(async () => expect(await editorText(page, second)).toBe(''));

    await page.keyboard.type('df.re');
    const suggest = page.locator('.suggest-widget.visible');
    const labels = () => suggest.locator('.monaco-list-row .label-name').allTextContents();
    // the kernel may be finishing its warm-up: an empty list is its normal answer meanwhile
    await eventually(async () => {
      if (!(await suggest.count())) await page.keyboard.press('Tab');
      await suggest.waitFor({ timeout: scaled(2_000) });
      const shown = await labels();
      if (!shown.includes('revenue')) {
        await page.keyboard.press('Escape');
        throw new Error(`suggestions: ${shown.join(', ')}`);
      }
    }, 20_000);
    expect(await labels()).toEqual(expect.arrayContaining(['revenue', 'region']));
    await page.screenshot({ path: '/tmp/e2e-complete.png' });
    const row = suggest.locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: /^revenue$/ }) });
    await row.click();
    await eventually(async () => expect(await editorText(page, second)).toBe('df.revenue'));
    // Escape left command mode alone: still editing
    expect(await page.getByTestId('notebook').getAttribute('data-mode')).toBe('edit');

    // Shift+Tab after `len(`: the signature and docstring, without ANSI codes
    await page.keyboard.press('End');
    await page.keyboard.type('\nlen(');
    await page.keyboard.press('Shift+Tab');
    const help = page.getByTestId('kernel-help');
    await expect.poll(() => help.textContent(), { timeout: scaled(10_000) }).toContain('Return the number of items');
    expect(await help.textContent()).not.toContain('\u001b[');
    await page.screenshot({ path: '/tmp/e2e-inspect.png' });
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'detached' });
    expect(await page.getByTestId('notebook').getAttribute('data-mode')).toBe('edit');

    // after a `.` the list opens by itself, and what follows filters it
    await page.keyboard.type('df.');
    await suggest.waitFor({ timeout: scaled(10_000) });
    await page.keyboard.type('reg');
    await expect.poll(() => labels(), { timeout: scaled(10_000) }).toEqual(['region']);
    await page.keyboard.press('Escape');
    await expectNoErrors(ada);
    await ada.context.close();
  });
});
