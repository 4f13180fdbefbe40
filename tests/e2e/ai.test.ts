// AI cells in the browser: a prompt typed by one person, the model's code streaming into the cell
// for the other, the plot, the answer and the history; and the app without a model.
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FakeOpenAI } from '../support/fake-openai';
import {
  baseURL,
  cellById,
  cellIds,
  createNotebook,
  editCell,
  editorText,
  eventually,
  expectNoErrors,
  openAs,
  openNotebook,
  type AppServer,
  type Person,
  useModelApp,
} from './support';
import { fetchAsAdmin } from '../support/auth';
import { KERNEL_MS, scaled } from '../support/timing';


const PLOT_CODE = [
  'import matplotlib.pyplot as plt',
  '# squares of the first ten numbers',
  'xs = list(range(10))',
  'ys = [x * x for x in xs]',
  'fig, ax = plt.subplots(figsize=(5, 3))',
  'ax.plot(xs, ys, marker="o", color="tab:blue")',
  'ax.set_title("Squares")',
  'ax.set_xlabel("x")',
  'ax.set_ylabel("x squared")',
  'plt.show()',
].join('\n');
const ANSWER = 'The plot shows the squares of 0 to 9, rising to **81**.';

let browser: Browser;
/** the model key the server holds: it must never reach a browser */
const MODEL_KEY = 'sk-e2e-secret-4b7f9c2d';
let fake: FakeOpenAI;
let server: AppServer;

const app = useModelApp({ model: 'fake-coder', apiKey: MODEL_KEY });
beforeAll(() => {
  ({ browser, fake, server } = app());
});

/** What a page shows of a cell's code (static or in Monaco) and AI status, in one look. */
async function look(page: Page, id: string): Promise<{ source: string; status: string | null }> {
  return cellById(page, id).evaluate((el) => {
    const lines = el.querySelector('.monaco-editor .view-lines');
    const source = lines
      ? Array.from(lines.querySelectorAll('.view-line'))
          .sort((a, b) => parseFloat((a as HTMLElement).style.top) - parseFloat((b as HTMLElement).style.top))
          .map((l) => l.textContent ?? '')
          .join('\n')
      : el.querySelector('[data-testid=cell-source]')?.textContent ?? '';
    return {
      source: source.replace(/\u00a0/g, ' ').replace(/\n$/, ''),
      status: el.querySelector('[data-testid=ai-status]')?.getAttribute('data-status') ?? null,
    };
  });
}

describe('an AI cell with a model configured', () => {
  let ada: Person;
  let grace: Person;

  it('streams the code to everyone, runs it, answers, and keeps the history', async () => {
    const id = await createNotebook('AI analysis', server.url);
    ada = await openAs(browser, 'Ada Lovelace');
    grace = await openAs(browser, 'Grace Hopper');
    await openNotebook(ada, id, server.url);
    await openNotebook(grace, id, server.url);
    await expect.poll(() => ada.page.getByTestId('model-info').textContent()).toContain('fake-coder');

    fake.script([
      { content: 'Here is the plot:\n```python\n' + PLOT_CODE + '\n```\n', chunkSize: 8, delayMs: 30 },
      { content: ANSWER },
    ]);
    // I in command mode: an AI cell below the selected one, its prompt focused
    const before = await cellIds(ada.page);
    await ada.page.keyboard.press('Escape');
    await ada.page.keyboard.press('i');
    await eventually(async () => expect((await cellIds(ada.page)).length).toBe(before.length + 1));
    const aiId = (await cellIds(ada.page))[1];
    const prompt = cellById(ada.page, aiId).getByTestId('ai-prompt');
    await expect.poll(() => prompt.evaluate((el) => el === document.activeElement)).toBe(true);
    await ada.page.keyboard.type('plot the squares of 0 to 9');
    // the prompt is shared
    const gracePrompt = cellById(grace.page, aiId).getByTestId('ai-prompt');
    await expect.poll(() => gracePrompt.inputValue()).toBe('plot the squares of 0 to 9');
    // Grace edits the start of it; Ada's caret stays at the end of her text
    await gracePrompt.click();
    await grace.page.keyboard.press('Control+Home');
    await grace.page.keyboard.type('Please ');
    await expect.poll(() => prompt.inputValue()).toBe('Please plot the squares of 0 to 9');
    await ada.page.keyboard.type(' now');
    const full = 'Please plot the squares of 0 to 9 now';
    await expect.poll(() => gracePrompt.inputValue()).toBe(full);
    expect(await prompt.inputValue()).toBe(full);
    await ada.page.keyboard.press('Enter');

    // Grace watches: the code grows while the model writes it, and the editor says who asked
    const partials: string[] = [];
    let sawWriting = false;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { source, status } = await look(grace.page, aiId);
      if (status === 'generating' && source.length > 0 && source.length < PLOT_CODE.length) partials.push(source);
      if (!sawWriting && status === 'generating') {
        // Grace has this cell selected: her live editor is read-only while the model writes
        sawWriting =
          (await cellById(grace.page, aiId).getByTestId('ai-writing').count()) > 0 &&
          (await cellById(grace.page, aiId).locator('[data-testid=code-editor][data-readonly=true] .monaco-editor').count()) > 0;
        if (sawWriting) await grace.page.screenshot({ path: '/tmp/e2e-ai-writing.png' });
      }
      if (status && status !== 'generating') break;
      if (Date.now() > deadline) throw new Error(`generation did not end; last status ${status}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(partials.length, 'partial code seen while generating').toBeGreaterThan(1);
    expect(new Set(partials).size).toBeGreaterThan(1);
    for (const p of partials) expect(PLOT_CODE.startsWith(p.trimEnd())).toBe(true);
    expect(sawWriting).toBe(true);
    await expect.poll(() => cellById(grace.page, aiId).getByTestId('ai-writing').count()).toBe(0);
    expect(await cellById(grace.page, aiId).locator('[data-testid=code-editor][data-readonly=true]').count()).toBe(0);

    for (const p of [ada, grace]) {
      const cell = cellById(p.page, aiId);
      const img = cell.locator('[data-testid=output-image]');
      await img.waitFor({ timeout: KERNEL_MS });
      await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
      await expect.poll(() => cell.getByTestId('ai-status').getAttribute('data-status'), { timeout: scaled(20_000) }).toBe('done');
      expect(await cell.getByTestId('ai-status').textContent()).toContain('done');
      await expect.poll(() => cell.getByTestId('ai-answer').textContent()).toContain('The plot shows the squares of 0 to 9');
      expect(await cell.locator('[data-testid=ai-answer] strong').textContent()).toBe('81');
      expect(await cell.getByTestId('ai-generate').textContent()).toBe('Regenerate');
    }
    // Grace sees static code; Ada, whose cell it is, the live editor
    expect((await look(grace.page, aiId)).source).toBe(PLOT_CODE);
    await eventually(async () => expect(await editorText(ada.page, aiId)).toBe(PLOT_CODE));

    // the history: one attempt, its code, and what the model was sent
    const history = cellById(grace.page, aiId).getByTestId('ai-history');
    expect(await history.locator('summary').textContent()).toBe('History (1 attempt)');
    await history.locator('summary').click();
    const attempt = history.getByTestId('ai-attempt');
    expect(await attempt.count()).toBe(1);
    expect(await attempt.getAttribute('data-outcome')).toBe('ok');
    expect(await attempt.locator('.ai-attempt-code').textContent()).toBe(PLOT_CODE);
    const context = cellById(grace.page, aiId).getByTestId('ai-context');
    await context.locator('summary').click();
    expect(await context.locator('pre').textContent()).toContain(full);
    await grace.page.screenshot({ path: '/tmp/e2e-ai-done.png', fullPage: true });
    // the key stayed on the server: not in either page, nor in what the model was sent as context
    for (const p of [ada, grace]) expect(await p.page.content()).not.toContain(MODEL_KEY);
    expect(fake.requests.length).toBe(2);
  });

  it('Stop stops a generation for everyone', async () => {
    const ids = await cellIds(ada.page);
    const aiId = ids[1];
    const long = Array.from({ length: 60 }, (_, i) => `x${i} = ${i}`).join('\n');
    fake.script([{ content: '```python\n' + long + '\n```', chunkSize: 4, delayMs: 40 }]);
    await cellById(grace.page, aiId).getByTestId('ai-generate').click();
    await expect.poll(() => cellById(ada.page, aiId).getByTestId('ai-status').getAttribute('data-status')).toBe('generating');
    await expect.poll(async () => (await look(ada.page, aiId)).source).toMatch(/^x0 = 0/);
    await cellById(ada.page, aiId).getByTestId('ai-stop').click();
    for (const p of [ada, grace]) {
      await expect.poll(() => cellById(p.page, aiId).getByTestId('ai-status').getAttribute('data-status'), { timeout: scaled(20_000) }).toBe('stopped');
    }
    // stopped while the model was writing: no code ran, so no new attempt; the cell is free again
    expect(await cellById(grace.page, aiId).getByTestId('ai-status').textContent()).toContain('■ stopped');
    expect(await cellById(grace.page, aiId).getByTestId('ai-history').locator('summary').textContent()).toBe('History (1 attempt)');
    expect(await cellById(grace.page, aiId).getByTestId('ai-writing').count()).toBe(0);
    expect(await cellById(grace.page, aiId).getByTestId('ai-generate').isDisabled()).toBe(false);
    // the partial code stays; "restore this code" brings back the first attempt's, for everyone
    expect((await look(ada.page, aiId)).source).not.toBe(PLOT_CODE);
    const history = cellById(grace.page, aiId).getByTestId('ai-history');
    if ((await history.getAttribute('open')) === null) await history.locator('summary').click();
    await history.getByTestId('ai-restore').first().click();
    for (const p of [ada, grace]) await expect.poll(async () => (await look(p.page, aiId)).source).toBe(PLOT_CODE);
  });

  it('logged no errors in either browser', async () => {
    await expectNoErrors(ada, grace);
  });
});

describe('without a model', () => {
  it('disables the AI controls and says how to configure one; the rest works', async () => {
    // the shared server starts with no OPENAI_* settings, whatever this environment holds
    const res = await fetchAsAdmin(`${baseURL()}/api/notebooks/x/cells/y/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(404); // no such notebook; the real check follows
    const id = await createNotebook('No model');
    const lin = await openAs(browser, 'Linus');
    await openNotebook(lin, id);
    const page = lin.page;
    expect(await page.getByTestId('new-ai-cell').isDisabled()).toBe(true);
    // one notice for the page says how to configure a model; the controls point to it (decision 0014)
    expect(await page.getByTestId('no-model-notice').textContent()).toContain('OPENAI_API_KEY');
    expect(await page.getByTestId('new-ai-cell').getAttribute('title')).toContain('see the notice');
    expect(await page.getByTestId('model-info').count()).toBe(0);
    // the key still makes an AI cell (an imported notebook has them too): its Generate is disabled
    await page.keyboard.press('Escape');
    await page.keyboard.press('i');
    await page.getByTestId('ai-prompt').waitFor();
    expect(await page.getByTestId('ai-generate').isDisabled()).toBe(true);
    expect(await page.getByTestId('ai-generate').getAttribute('title')).toContain('see the notice');
    expect(await page.getByTestId('no-model-notice').count()).toBe(1);
    await page.getByTestId('ai-prompt').fill('plot something');
    await page.getByTestId('ai-prompt').press('Enter');
    await expect.poll(() => page.getByTestId('ai-error').textContent()).toContain('no language model is configured');
    // and the server says so too
    const [first, aiCell] = await cellIds(page);
    const gen = await fetchAsAdmin(`${baseURL()}/api/notebooks/${id}/cells/${aiCell}/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'x' }),
    });
    expect(gen.status).toBe(503);
    expect(((await gen.json()) as { error: { code: string } }).error.code).toBe('NOT_CONFIGURED');
    expect(await page.getByTestId('toast').count()).toBe(0);
    // running code is unaffected
    await editCell(page, first);
    await page.keyboard.type('print(6 * 7)');
    await eventually(async () => expect(await editorText(page, first)).toBe('print(6 * 7)'));
    await page.keyboard.press('Control+Enter');
    try {
      await expect.poll(() => cellById(page, first).locator('[data-testid=output]').first().textContent(), { timeout: KERNEL_MS }).toBe('42\n');
    } finally {
      await page.screenshot({ path: '/tmp/e2e-ai-nomodel.png' });
    }
    await page.screenshot({ path: '/tmp/e2e-ai-nomodel.png' });
    await expectNoErrors(lin);
  });
});
