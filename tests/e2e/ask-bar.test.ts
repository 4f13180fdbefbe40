// The ask bar (issue 9): a request typed at the bottom of the notebook becomes a new AI cell that
// generates at once; a follow-up sees the earlier cells; a second person sees the conversation.
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FakeOpenAI } from '../support/fake-openai';
import { cellById, cellIds, createNotebook, eventually, expectNoErrors, openAs, openNotebook, type AppServer, useModelApp } from './support';

const KERNEL_MS = 60_000;
const FIRST_CODE = "sales = {'north': 3, 'south': 5}\nprint('total', sum(sales.values()))";
const SECOND_CODE = 'for region, n in sales.items():\n    print(region, n)';

let browser: Browser;
let fake: FakeOpenAI;
let server: AppServer;

const app = useModelApp({ model: 'fake-coder', apiKey: 'sk-e2e-ask' });
beforeAll(() => {
  ({ browser, fake, server } = app());
});

describe('the ask bar', () => {
  it('makes a conversation of AI cells that everyone sees', async () => {
    const id = await createNotebook('Ask', server.url);
    const ada = await openAs(browser, 'Ada Lovelace');
    const grace = await openAs(browser, 'Grace Hopper');
    await openNotebook(ada, id, server.url);
    await openNotebook(grace, id, server.url);
    const [first] = await cellIds(ada.page);

    fake.script([
      { content: '```python\n' + FIRST_CODE + '\n```' },
      { content: 'The total is **8**.' },
      { content: '```python\n' + SECOND_CODE + '\n```' },
      { content: 'North sold 3, south 5.' },
    ]);
    const input = ada.page.getByTestId('ask-input');
    await input.click();
    await ada.page.keyboard.type('total the sales');
    await ada.page.keyboard.press('Enter');
    await eventually(async () => expect((await cellIds(grace.page)).length).toBe(2));
    const askId = (await cellIds(ada.page))[1];
    expect(await input.inputValue()).toBe('');
    for (const p of [ada, grace]) {
      const cell = cellById(p.page, askId);
      expect(await cell.getByTestId('ai-prompt').inputValue()).toBe('total the sales');
      await expect.poll(() => cell.getByTestId('ai-status').getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('done');
      expect(await cell.locator('[data-testid=output]').allTextContents()).toEqual(['total 8\n']);
    }

    // the follow-up goes below the selected cell (the one just asked), and uses its variable
    await input.click();
    await ada.page.keyboard.type('now by region');
    await ada.page.keyboard.press('Enter');
    await eventually(async () => expect((await cellIds(grace.page)).length).toBe(3));
    const ids = await cellIds(grace.page);
    expect(ids.slice(0, 2)).toEqual([first, askId]);
    const followId = ids[2];
    for (const p of [ada, grace]) {
      const cell = cellById(p.page, followId);
      await expect.poll(() => cell.getByTestId('ai-status').getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('done');
      expect(await cell.getByTestId('ai-prompt').inputValue()).toBe('now by region');
      expect(await cell.locator('[data-testid=output]').allTextContents()).toEqual(['north 3\nsouth 5\n']);
      await expect.poll(() => cell.getByTestId('ai-answer').textContent()).toContain('North sold 3');
    }
    // the follow-up's model saw the earlier cell's code, its output and the kernel's variables
    const followUp = JSON.stringify(fake.requests[2]);
    expect(followUp).toContain(JSON.stringify(FIRST_CODE).slice(1, -1));
    expect(followUp).toContain('total 8');
    expect(followUp).toContain('now by region');
    await grace.page.screenshot({ path: '/tmp/e2e-ask-bar.png', fullPage: true });
    await expectNoErrors(ada, grace);
    await ada.context.close();
    await grace.context.close();
  });
});
