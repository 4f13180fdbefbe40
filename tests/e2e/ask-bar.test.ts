// The ask bar (issue 9): a request typed at the bottom of the notebook becomes a new AI cell that
// generates at once; a follow-up sees the earlier requests (prompt, code, output, answer); a
// second person sees the conversation. Files attached with the paperclip or dropped on the bar
// upload once, before the request, which names them to the model; a failed upload stops it.
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FakeOpenAI } from '../support/fake-openai';
import { cellById, cellIds, createNotebook, dropFiles, eventually, expectNoErrors, openAs, openNotebook, type AppServer, useModelApp } from './support';
import { KERNEL_MS } from '../support/timing';

const FIRST_CODE = "sales = {'north': 3, 'south': 5}\nprint('total', sum(sales.values()))";
const SECOND_CODE = 'for region, n in sales.items():\n    print(region, n)';

let browser: Browser;
let fake: FakeOpenAI;
let server: AppServer;

// uploads over 16 KiB are refused (413), to see a failed attachment stop a request
const app = useModelApp({ model: 'fake-coder', apiKey: 'sk-e2e-ask', extraEnv: { FILES_MAX_FILE_MB: '0.015625' } });
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
    // the follow-up's model saw the earlier request as a turn of the conversation: who asked
    // what, the code, its output and the answer; and the kernel's variables
    const followUp = userText(fake.requests[2]);
    expect(followUp).toContain('Request (asked by Ada Lovelace): total the sales');
    expect(followUp).toContain(FIRST_CODE);
    expect(followUp).toContain('total 8');
    expect(followUp).toContain('Answer: The total is **8**.');
    expect(followUp).toContain('- sales: dict len 2');
    expect(followUp).toMatch(/## Request\nnow by region$/);
    // a real model gets no suggestions (only the offline demo does)
    expect(await ada.page.getByTestId('ask-suggestions').count()).toBe(0);
    await grace.page.screenshot({ path: '/tmp/e2e-ask-bar.png', fullPage: true });
    await expectNoErrors(ada, grace);
    await ada.context.close();
    await grace.context.close();
  });

  it('attaches a CSV with the paperclip: it uploads once, the request names it, the cell reads it', async () => {
    const id = await createNotebook('Ask with a file', server.url);
    const ada = await openAs(browser, 'Ada Lovelace');
    const grace = await openAs(browser, 'Grace Hopper');
    await openNotebook(ada, id, server.url);
    await openNotebook(grace, id, server.url);
    const puts = countPuts(ada.page);

    const [chooser] = await Promise.all([ada.page.waitForEvent('filechooser'), ada.page.getByTestId('ask-attach').click()]);
    await chooser.setFiles({ name: 'sales.csv', mimeType: 'text/csv', buffer: Buffer.from(SALES_CSV) });
    const chip = ada.page.locator('[data-testid=ask-attachment][data-path="sales.csv"]');
    await expect.poll(() => chip.getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('done');
    expect(await chip.textContent()).toContain(`sales.csv${SALES_CSV.length} B`);
    expect(await ada.page.getByTestId('ask-input').getAttribute('placeholder')).toMatch(/^Ask about sales\.csv…/);
    await ada.page.screenshot({ path: '/tmp/e2e-ask-attached.png' });

    const before = fake.requests.length;
    fake.script([{ content: '```python\n' + READ_CODE + '\n```' }, { content: 'North sold 330, south 80.' }]);
    await ada.page.getByTestId('ask-input').fill('revenue by region');
    await ada.page.getByTestId('ask-input').press('Enter');
    const askId = await newCellOf(grace.page, 2);
    for (const p of [ada, grace]) {
      const cell = cellById(p.page, askId);
      await expect.poll(() => cell.getByTestId('ai-status').getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('done');
      expect(await cell.getByTestId('ai-prompt').inputValue()).toBe('revenue by region');
      expect(await cell.getByTestId('ai-attachment').allTextContents()).toEqual(['sales.csv']);
      expect(await cell.locator('[data-testid=output]').allTextContents()).toEqual([REGION_OUTPUT]);
    }
    await cellById(grace.page, askId).screenshot({ path: '/tmp/e2e-ask-attached-cell.png' });
    // the model was told which file, and what is in it
    const seen = userText(fake.requests[before]);
    expect(seen).toContain('## Files attached to this request (the person means these)\n- sales.csv (');
    expect(seen).toContain('first row: month,region,revenue');
    expect(seen).toContain('(attached: sales.csv)');
    // the bar is ready for the next request
    expect(await ada.page.getByTestId('ask-input').inputValue()).toBe('');
    expect(await ada.page.getByTestId('ask-attachment').count()).toBe(0);
    // in the Files list once, uploaded once
    expect(await fileList(ada.page)).toEqual(['sales.csv']);
    expect(puts).toEqual(['sales.csv']);
    await expectNoErrors(ada, grace);
    await ada.context.close();
    await grace.context.close();
  });

  it('attaches a CSV dropped on the ask bar (not uploaded a second time by the page), then asks', async () => {
    const id = await createNotebook('Drop on ask', server.url);
    const ada = await openAs(browser, 'Ada Lovelace');
    await openNotebook(ada, id, server.url);
    const puts = countPuts(ada.page);
    await dropFiles(ada.page, [{ name: 'regions.csv', text: SALES_CSV }], {
      target: '[data-testid=ask-bar]',
      beforeDrop: async () => {
        // the bar takes the drop: it says so, and the page's "drop to upload" stays away
        await ada.page.getByTestId('ask-drop-hint').waitFor();
        expect(await ada.page.getByTestId('drop-overlay').count()).toBe(0);
        await ada.page.screenshot({ path: '/tmp/e2e-ask-drop.png' });
      },
    });
    const chip = ada.page.locator('[data-testid=ask-attachment][data-path="regions.csv"]');
    await chip.waitFor();
    // Enter at once: the request waits for the upload
    const before = fake.requests.length;
    fake.script([{ content: '```python\n' + READ_CODE.replace('sales.csv', 'regions.csv') + '\n```' }, { content: 'North leads.' }]);
    await ada.page.getByTestId('ask-input').fill('revenue by region');
    await ada.page.getByTestId('ask-input').press('Enter');
    const askId = await newCellOf(ada.page, 2);
    const cell = cellById(ada.page, askId);
    await expect.poll(() => cell.getByTestId('ai-status').getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('done');
    expect(await cell.locator('[data-testid=output]').allTextContents()).toEqual([REGION_OUTPUT]);
    expect(userText(fake.requests[before])).toContain('(attached: regions.csv)');
    expect(await ada.page.getByTestId('files-panel').count()).toBe(0); // a page drop would have opened it
    expect(await fileList(ada.page)).toEqual(['regions.csv']);
    expect(puts).toEqual(['regions.csv']);
    await expectNoErrors(ada);
    await ada.context.close();
  });

  it('a failed upload stops the request with a clear message and keeps the typed text', async () => {
    const id = await createNotebook('Failed attachment', server.url);
    const ada = await openAs(browser, 'Ada Lovelace');
    await openNotebook(ada, id, server.url);
    const [chooser] = await Promise.all([ada.page.waitForEvent('filechooser'), ada.page.getByTestId('ask-attach').click()]);
    await chooser.setFiles({ name: 'huge.csv', mimeType: 'text/csv', buffer: Buffer.alloc(40_000, 'a') });
    const chip = ada.page.locator('[data-testid=ask-attachment][data-path="huge.csv"]');
    await expect.poll(() => chip.getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('failed');
    const before = fake.requests.length;
    await ada.page.getByTestId('ask-input').fill('summarise huge.csv');
    await ada.page.getByTestId('ask-input').press('Enter');
    const error = ada.page.getByTestId('ask-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/^"huge\.csv" could not be uploaded: the file is larger than .*\. The request was not sent: retry or remove the file/);
    await ada.page.screenshot({ path: '/tmp/e2e-ask-failed.png' });
    expect(await ada.page.getByTestId('ask-input').inputValue()).toBe('summarise huge.csv');
    expect(await cellIds(ada.page)).toHaveLength(1);
    expect(fake.requests.length).toBe(before);
    // without the file, the same text goes
    fake.script([{ content: '```python\nprint("no file")\n```' }, { content: 'Done.' }]);
    await chip.getByTestId('ask-attachment-remove').click();
    await ada.page.getByTestId('ask-input').press('Enter');
    const askId = await newCellOf(ada.page, 2);
    await expect.poll(() => cellById(ada.page, askId).getByTestId('ai-status').getAttribute('data-status'), { timeout: KERNEL_MS }).toBe('done');
    expect(await cellById(ada.page, askId).getByTestId('ai-prompt').inputValue()).toBe('summarise huge.csv');
    // the refused upload is the one error the browser logs
    expect(ada.errors.filter((e) => !/status of 413/.test(e))).toEqual([]);
    await ada.context.close();
  });
});

const SALES_CSV = 'month,region,revenue\n2024-01,north,120\n2024-01,south,80\n2024-02,north,210\n';
const READ_CODE = "import pandas as pd\nsales = pd.read_csv('sales.csv')\nprint(sales.groupby('region')['revenue'].sum().to_string())";
const REGION_OUTPUT = 'region\nnorth    330\nsouth     80\n';

/** What the model was sent, without the system prompt. */
const userText = (req: any): string =>
  req.messages
    .filter((m: any) => m.role !== 'system')
    .map((m: any) => (typeof m.content === 'string' ? m.content : ''))
    .join('\n');

/** The paths of the files this page uploads (PUT), in order. */
function countPuts(page: Page): string[] {
  const puts: string[] = [];
  page.on('request', (r) => {
    const m = /\/files\/(.+)$/.exec(new URL(r.url()).pathname);
    if (r.method() === 'PUT' && m) puts.push(decodeURIComponent(m[1]));
  });
  return puts;
}

/** Waits for the page to show `count` cells and answers the id of the last. */
async function newCellOf(page: Page, count: number): Promise<string> {
  await eventually(async () => expect((await cellIds(page)).length).toBe(count), 20_000);
  return (await cellIds(page))[count - 1];
}

/** The Files panel's list, opened if it is not. */
async function fileList(page: Page): Promise<string[]> {
  if (!(await page.getByTestId('files-panel').isVisible())) await page.getByTestId('files-toggle').click();
  await page.getByTestId('file-list').waitFor({ timeout: KERNEL_MS });
  return page.locator('[data-testid=file-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-path') ?? ''));
}
