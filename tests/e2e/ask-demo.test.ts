// The offline demo (`npm run demo`) in its own UI: the app started as the demo starts it (its
// model name, the scripted replies of demo/offline-model.ts) offers the requests the script knows
// as suggestions in the ask bar; a click asks one, and everyone sees it run. The key stays on the
// server.
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MODEL_NAME, DEMO_REQUESTS, demoReply } from '../../demo/offline-model';
import type { FakeOpenAI } from '../support/fake-openai';
import { cellById, cellIds, createNotebook, eventually, expectNoErrors, openAs, openNotebook, type AppServer, useModelApp } from './support';
import { KERNEL_MS } from '../support/timing';

const KEY = 'sk-demo-key-never-in-a-browser';

let browser: Browser;
let fake: FakeOpenAI;
let server: AppServer;

const app = useModelApp({ model: DEMO_MODEL_NAME, apiKey: KEY });
beforeAll(() => {
  ({ browser, fake, server } = app());
  fake.respond(demoReply);
});

describe('the offline demo in the ask bar', () => {
  it('offers the requests it knows; a click asks one, for everyone to see', async () => {
    const id = await createNotebook('Demo', server.url);
    const ada = await openAs(browser, 'Ada Lovelace');
    const grace = await openAs(browser, 'Grace Hopper');
    await openNotebook(ada, id, server.url);
    await openNotebook(grace, id, server.url);

    const suggestions = ada.page.getByTestId('ask-suggestion');
    expect(await suggestions.allTextContents()).toEqual([...DEMO_REQUESTS]);
    expect(await ada.page.getByTestId('ask-input').getAttribute('placeholder')).toContain(`e.g. "${DEMO_REQUESTS[0]}"`);
    // an AI cell's prompt suggests one too
    await ada.page.getByTestId('add-ai-cell').click();
    await eventually(async () => expect((await cellIds(ada.page)).length).toBe(2));
    const aiCellId = (await cellIds(ada.page))[1];
    expect(await cellById(ada.page, aiCellId).getByTestId('ai-prompt').getAttribute('placeholder')).toContain(`"${DEMO_REQUESTS[0]}"`);
    await ada.page.screenshot({ path: '/tmp/e2e-ask-demo.png' });

    // a click fills the bar and sends: a new AI cell below the selected one, generated
    await suggestions.filter({ hasText: 'make sample sales data' }).click();
    await eventually(async () => expect((await cellIds(grace.page)).length).toBe(3));
    const askId = (await cellIds(grace.page))[2];
    for (const p of [ada, grace]) {
      const cell = cellById(p.page, askId);
      expect(await cell.getByTestId('ai-prompt').inputValue()).toBe('make sample sales data');
      await expect.poll(() => cell.getByTestId('ai-status').getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('done');
      // the DataFrame's HTML table, in its sandboxed frame
      await p.page.frameLocator(`[data-cell-id="${askId}"] [data-testid=output-html]`).locator('th', { hasText: 'revenue' }).first().waitFor();
      await expect.poll(() => cell.getByTestId('ai-answer').textContent()).toContain('Offline demo answer');
    }
    expect(await ada.page.getByTestId('ask-input').inputValue()).toBe('');

    // and the next one builds on it, as the demo's story goes
    await suggestions.filter({ hasText: 'describe it' }).click();
    await eventually(async () => expect((await cellIds(grace.page)).length).toBe(4));
    const describeId = (await cellIds(grace.page))[3];
    const described = cellById(grace.page, describeId);
    await expect.poll(() => described.getByTestId('ai-status').getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('done');
    await grace.page.frameLocator(`[data-cell-id="${describeId}"] [data-testid=output-html]`).locator('th', { hasText: 'mean' }).first().waitFor();
    await grace.page.screenshot({ path: '/tmp/e2e-ask-demo-ran.png', fullPage: true });

    // the page knows the model's name and suggestions, never its key
    for (const p of [ada, grace]) expect(await p.page.content()).not.toContain(KEY);
    await expectNoErrors(ada, grace);
    await ada.context.close();
    await grace.context.close();
  });
});
