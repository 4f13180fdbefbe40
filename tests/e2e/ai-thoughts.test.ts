// A reasoning model's thoughts on an AI cell (issue 9): shown folded, never run even when they
// hold a fenced block; the answer phase leaves the code editable; an interrupt says who.
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FakeOpenAI } from '../support/fake-openai';
import { cellById, cellIds, createNotebook, editCell, eventually, expectNoErrors, openAs, openNotebook, type AppServer, useModelApp } from './support';
import { KERNEL_MS, scaled } from '../support/timing';


const THOUGHTS = [
  'The user wants a greeting. A first idea:',
  '```python',
  "print('from the thoughts')",
  '```',
  'No: the real answer should say hello to the notebook.',
].join('\n');
const CODE = "print('hello from the code')";

let browser: Browser;
let fake: FakeOpenAI;
let server: AppServer;

const app = useModelApp({ model: 'fake-reasoner', apiKey: 'sk-e2e-thoughts' });
beforeAll(() => {
  ({ browser, fake, server } = app());
});

describe('an AI cell with a reasoning model', () => {
  it('shows the thoughts folded, runs only the real code, and unlocks the code while it answers', async () => {
    const id = await createNotebook('Thoughts', server.url);
    const ada = await openAs(browser, 'Ada Lovelace');
    const grace = await openAs(browser, 'Grace Hopper');
    await openNotebook(ada, id, server.url);
    await openNotebook(grace, id, server.url);
    const page = ada.page;

    fake.script([
      { reasoning: THOUGHTS, content: 'Here it is:\n```python\n' + CODE + '\n```\n' },
      // the answer turn, slow enough to watch the `answering` phase
      { content: 'It printed a greeting from the code.', chunkSize: 3, delayMs: 200 },
    ]);
    await page.keyboard.press('Escape');
    await page.keyboard.press('i');
    await eventually(async () => expect((await cellIds(page)).length).toBe(2));
    const aiId = (await cellIds(page))[1];
    const prompt = cellById(page, aiId).getByTestId('ai-prompt');
    await expect.poll(() => prompt.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.type('say hello');
    await page.keyboard.press('Enter');

    // while the model writes its answer, the status says so and the code is editable
    const status = cellById(grace.page, aiId).getByTestId('ai-status');
    await expect.poll(() => status.getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('answering');
    expect(await status.textContent()).toContain('writing the answer');
    await editCell(grace.page, aiId);
    expect(await cellById(grace.page, aiId).locator('[data-testid=code-editor][data-readonly=true]').count()).toBe(0);
    expect(await cellById(grace.page, aiId).getByTestId('ai-writing').count()).toBe(0);
    await grace.page.screenshot({ path: '/tmp/e2e-ai-answering.png' });

    for (const p of [ada, grace]) {
      const cell = cellById(p.page, aiId);
      await expect.poll(() => cell.getByTestId('ai-status').getAttribute('data-status'), { timeout: scaled(20_000) }).toBe('done');
      // the output is the real code's only: the fenced block of the thoughts never ran
      expect(await cell.locator('[data-testid=output]').allTextContents()).toEqual(['hello from the code\n']);
      // thoughts: folded, with their length; opening them shows the text
      const thoughts = cell.getByTestId('ai-thoughts');
      expect(await thoughts.getAttribute('open')).toBeNull();
      expect(await thoughts.locator('summary').textContent()).toContain(`Thoughts (${THOUGHTS.length} characters)`);
      expect(await cell.getByTestId('ai-thoughts-text').isVisible()).toBe(false);
      await thoughts.locator('summary').click();
      await expect.poll(() => cell.getByTestId('ai-thoughts-text').isVisible()).toBe(true);
      expect(await cell.getByTestId('ai-thoughts-text').textContent()).toBe(THOUGHTS);
    }
    await ada.page.screenshot({ path: '/tmp/e2e-ai-thoughts.png', fullPage: true });
    await expectNoErrors(ada, grace);
    await ada.context.close();
    await grace.context.close();
  });

  it('says who interrupted a run', async () => {
    const id = await createNotebook('Interrupt', server.url);
    const ada = await openAs(browser, 'Ada Lovelace');
    const bob = await openAs(browser, 'Bob');
    await openNotebook(ada, id, server.url);
    await openNotebook(bob, id, server.url);
    const [first] = await cellIds(ada.page);
    await cellById(ada.page, first).locator('.monaco-editor.focused').waitFor();
    await ada.page.keyboard.type('import time; time.sleep(60)');
    await ada.page.keyboard.press('Control+Enter');
    await cellById(bob.page, first).locator('[data-testid=execution-state][data-state=running]').waitFor({ timeout: KERNEL_MS });
    await bob.page.getByTestId('interrupt').click();
    for (const p of [ada, bob]) {
      await expect.poll(() => cellById(p.page, first).getByTestId('execution-interrupted').textContent().catch(() => ''), { timeout: scaled(20_000) }).toBe('interrupted by Bob');
    }
    await ada.page.screenshot({ path: '/tmp/e2e-interrupted.png' });
    // running the cell again clears it
    await editCell(ada.page, first);
    await ada.page.keyboard.press('Control+a');
    await ada.page.keyboard.type('print(1)');
    await ada.page.keyboard.press('Control+Enter');
    await expect.poll(() => cellById(bob.page, first).locator('[data-testid=output]').first().textContent(), { timeout: KERNEL_MS }).toBe('1\n');
    expect(await cellById(bob.page, first).getByTestId('execution-interrupted').count()).toBe(0);
    await expectNoErrors(ada, bob);
    await ada.context.close();
    await bob.context.close();
  });
});
