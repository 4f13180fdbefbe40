// Data in, results out, as two people see it: files dropped on the notebook land in the kernel's
// working directory and show in both Files panels; code reads them by name; a FileLink in an
// output downloads what the code wrote; a delete is gone for everyone.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellsOf, createCellMap } from '../../common/notebook/model';
import { fetchAsAdmin } from '../support/auth';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import {
  baseURL,
  cellById,
  createNotebook,
  downloadText,
  dropFiles,
  eventually,
  expectNoErrors,
  launchBrowser,
  openAs,
  openNotebook,
  startAppServer,
  twoPeopleIn,
  wsURL,
  type Person,
} from './support';
import { KERNEL_MS, scaled } from '../support/timing';

/** The first list or upload starts the notebook's kernel. */
const SALES_CSV = 'month,revenue\n2024-01,120\n2024-02,80\n2024-03,200\n';

let browser: Browser;
let ada: Person;
let grace: Person;
let notebookId: string;
let writer: YClient;
const ids: Record<string, string> = {};

beforeAll(async () => {
  ({ browser, ada, grace, notebookId } = await twoPeopleIn('Files'));
  // the code the test runs, written into cells as any collaborator could
  writer = connectClient(wsURL(), notebookId);
  await writer.synced;
  const cells = cellsOf(writer.doc);
  await waitFor(() => cells.length === 1);
  const sources = {
    read: "import pandas as pd\ndf = pd.read_csv('sales.csv')\nprint('total revenue', df['revenue'].sum())",
    write:
      "from IPython.display import FileLink, Markdown, display\ndf.assign(double=df['revenue'] * 2).to_csv('out.csv', index=False)\ndisplay(Markdown('Also as [markdown](out.csv)'))\nFileLink('out.csv')",
    markdown: 'The data: [sales](sales.csv) · [docs](https://pandas.pydata.org/)',
    auto: "from IPython.display import HTML\nHTML(\"<a id='auto' href='sales.csv'>auto</a><script>document.getElementById('auto').click()</script>\")",
  };
  const read = createCellMap({ cell_type: 'code', source: sources.read });
  const write = createCellMap({ cell_type: 'code', source: sources.write });
  const markdown = createCellMap({ cell_type: 'markdown', source: sources.markdown });
  const auto = createCellMap({ cell_type: 'code', source: sources.auto });
  cells.push([read, write, markdown, auto]);
  ids.auto = auto.get('id') as string;
  ids.read = read.get('id') as string;
  ids.write = write.get('id') as string;
  ids.markdown = markdown.get('id') as string;
  for (const p of [ada, grace]) await cellById(p.page, ids.markdown).waitFor();
});

afterAll(async () => {
  writer?.destroy();
  await browser?.close();
});

const panel = (page: Page) => page.getByTestId('files-panel');
const fileRow = (page: Page, path: string) => page.locator(`[data-testid=file-row][data-path="${path}"]`);

async function openFiles(page: Page) {
  if (!(await panel(page).isVisible())) await page.getByTestId('files-toggle').click();
  await panel(page).waitFor();
}

async function listed(page: Page): Promise<string[]> {
  return page.locator('[data-testid=file-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-path') ?? ''));
}

async function runCell(page: Page, id: string) {
  const cell = cellById(page, id);
  await cell.click({ position: { x: 30, y: 10 } });
  await cell.getByTestId('run-cell').click();
}

describe('files of a notebook in the browser', () => {
  it('Grace opens an empty Files panel that says what to do', async () => {
    await openFiles(grace.page);
    const empty = grace.page.getByTestId('files-empty');
    await empty.waitFor({ timeout: KERNEL_MS });
    expect(await empty.textContent()).toContain("Drop files anywhere on the notebook, or Upload. Code reads them by name: pd.read_csv('sales.csv')");
    await grace.page.screenshot({ path: '/tmp/e2e-files-empty.png' });
  });

  it('Ada drops a CSV and a .ipynb on the notebook: an overlay, then both are listed for both people', async () => {
    await dropFiles(
      ada.page,
      [
        { name: 'sales.csv', text: SALES_CSV },
        { name: 'other.ipynb', text: '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}' },
      ],
      {
        target: `[data-cell-id="${ids.read}"]`,
        beforeDrop: async () => {
          await ada.page.getByTestId('drop-overlay').waitFor();
          await ada.page.screenshot({ path: '/tmp/e2e-files-overlay.png' });
        },
      }
    );
    await ada.page.getByTestId('drop-overlay').waitFor({ state: 'detached' });
    // the panel opens to show the uploads
    await panel(ada.page).waitFor();
    for (const p of [ada, grace]) {
      await expect.poll(() => listed(p.page), { timeout: KERNEL_MS }).toEqual(['other.ipynb', 'sales.csv']);
      expect(await fileRow(p.page, 'sales.csv').getByTestId('file-size').textContent()).toBe(`${SALES_CSV.length} B`);
    }
    expect(await ada.page.getByTestId('files-count').textContent()).toBe('2');
  });

  it('shows the progress of a larger upload, then its size in MB', async () => {
    // an upload here may take less time than a look at it: record every progress text shown
    await ada.page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { __progress: string[] }).__progress = seen;
      new MutationObserver(() => {
        for (const el of document.querySelectorAll('[data-testid=upload-progress]')) {
          const text = el.textContent ?? '';
          if (seen[seen.length - 1] !== text) seen.push(text);
        }
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await dropFiles(ada.page, [{ name: 'big.bin', size: 6 * 1024 * 1024 }]);
    await fileRow(grace.page, 'big.bin').waitFor({ timeout: KERNEL_MS });
    expect(await fileRow(grace.page, 'big.bin').getByTestId('file-size').textContent()).toBe('6.0 MB');
    await ada.page.locator('[data-testid=upload-row]').first().waitFor({ state: 'detached' });
    const seen = await ada.page.evaluate(() => (window as unknown as { __progress: string[] }).__progress);
    expect(seen.length).toBeGreaterThan(0);
    for (const text of seen) expect(text).toMatch(/^(\d+% · [\d.]+ (B|KB|MB) of 6\.0 MB|waiting · 6\.0 MB)$/);
    expect(seen.some((t) => /^\d+% · /.test(t))).toBe(true);
  });

  it('code reads the dropped file by name', async () => {
    await runCell(ada.page, ids.read);
    for (const p of [ada, grace]) {
      await expect
        .poll(
          () =>
            cellById(p.page, ids.read)
              .locator('[data-testid=output]')
              .first()
              .textContent()
              .catch(() => ''),
          { timeout: KERNEL_MS }
        )
        .toBe('total revenue 400\n');
    }
  });

  it('a file the code writes appears for both, and its FileLink downloads it', async () => {
    await runCell(ada.page, ids.write);
    for (const p of [ada, grace]) {
      await cellById(p.page, ids.write).locator('[data-testid=output-html]').waitFor({ timeout: KERNEL_MS });
      // the end of the run tells everyone's panel to look again
      await fileRow(p.page, 'out.csv').waitFor({ timeout: scaled(20_000) });
    }
    // a relative link in a text/markdown output (rendered in the page) is a download of the file
    const mdLink = cellById(grace.page, ids.write).locator('.ynb-out-markdown a');
    expect(await mdLink.getAttribute('href')).toBe(`/api/notebooks/${notebookId}/files/out.csv`);
    expect(await mdLink.getAttribute('download')).toBe('out.csv');
    const frame = grace.page.frameLocator(`[data-cell-id="${ids.write}"] [data-testid=output-html]`);
    const link = frame.locator('a', { hasText: 'out.csv' });
    await link.waitFor();

    const urlBefore = grace.page.url();
    const [download] = await Promise.all([grace.page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('out.csv');
    expect(await downloadText(download)).toBe('month,revenue,double\n2024-01,120,240\n2024-02,80,160\n2024-03,200,400\n');
    // the page stayed where it was, and the frame is still sandboxed without our origin
    expect(grace.page.url()).toBe(urlBefore);
    expect(await cellById(grace.page, ids.write).locator('[data-testid=output-html]').getAttribute('sandbox')).toBe('allow-scripts');
  });

  it("an output's own script cannot start a download: only a person's click does", async () => {
    let downloads = 0;
    const count = () => downloads++;
    for (const p of [ada, grace]) p.page.on('download', count);
    // a click gives a page "transient activation" for a few seconds; let it pass
    for (const p of [ada, grace]) {
      await p.page.waitForFunction(() => !(navigator as Navigator & { userActivation: { isActive: boolean } }).userActivation.isActive, null, {
        timeout: scaled(10_000),
      });
    }
    // run through the API, as any collaborator's client could: the output clicks its own link
    const res = await fetchAsAdmin(`${baseURL()}/api/notebooks/${notebookId}/cells/${ids.auto}/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    // hands off the pages meanwhile: Playwright's own calls into a page count as a person's gesture
    await new Promise((r) => setTimeout(r, 3000));
    for (const p of [ada, grace]) p.page.off('download', count);
    expect(downloads).toBe(0);
    // the output was there all along, and clicked its link
    for (const p of [ada, grace]) {
      const frame = p.page.frameLocator(`[data-cell-id="${ids.auto}"] [data-testid=output-html]`);
      await frame.locator('#auto').waitFor({ timeout: scaled(1000) });
    }
  });

  it('relative links in markdown download the file; web links stay links', async () => {
    const md = cellById(ada.page, ids.markdown).locator('[data-testid=markdown-rendered]');
    const link = md.locator('a', { hasText: 'sales' }).first();
    expect(await link.getAttribute('href')).toBe(`/api/notebooks/${notebookId}/files/sales.csv`);
    expect(await link.getAttribute('download')).toBe('sales.csv');
    const [download] = await Promise.all([ada.page.waitForEvent('download'), link.click()]);
    expect(await downloadText(download)).toBe(SALES_CSV);
    expect(await md.locator('a', { hasText: 'docs' }).getAttribute('href')).toBe('https://pandas.pydata.org/');
    expect(await md.locator('a', { hasText: 'docs' }).getAttribute('download')).toBeNull();
  });

  it('the panel downloads a file, and uploads with the picker into folders shown as a group', async () => {
    const [download] = await Promise.all([ada.page.waitForEvent('download'), fileRow(ada.page, 'sales.csv').getByTestId('file-download').click()]);
    expect(download.suggestedFilename()).toBe('sales.csv');
    expect(await downloadText(download)).toBe(SALES_CSV);
    await ada.page.getByTestId('files-input').setInputFiles([{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('remember the milk\n') }]);
    // a folder, as a client of the API makes one
    const res = await fetchAsAdmin(`${baseURL()}/api/notebooks/${notebookId}/files/data/2023.csv`, { method: 'PUT', body: 'a,b\n1,2\n' });
    expect(res.status).toBe(201);
    for (const p of [ada, grace]) {
      await fileRow(p.page, 'notes.txt').waitFor({ timeout: scaled(20_000) });
      await fileRow(p.page, 'data/2023.csv').waitFor({ timeout: scaled(20_000) });
      const folder = p.page.locator('[data-testid=file-folder][data-folder="data"]');
      expect(await folder.textContent()).toBe('data/');
      expect(await fileRow(p.page, 'data/2023.csv').locator('.file-name').textContent()).toBe('2023.csv');
    }
    await grace.page.screenshot({ path: '/tmp/e2e-files-panel.png' });
  });

  it('refuses a name no file system takes before sending anything', async () => {
    await dropFiles(ada.page, [{ name: 'con.txt', text: 'x' }]);
    const toast = ada.page.getByTestId('toast').filter({ hasText: 'con.txt' });
    await toast.waitFor();
    expect(await toast.textContent()).toContain('reserved device name');
    await toast.getByTestId('toast-dismiss').click();
    expect(await ada.page.locator('[data-testid=upload-row]').count()).toBe(0);
  });

  it('a delete (after a confirm) is gone for the other person', async () => {
    ada.page.once('dialog', (d) => void d.accept());
    await fileRow(ada.page, 'notes.txt').getByTestId('file-delete').click();
    for (const p of [ada, grace]) await fileRow(p.page, 'notes.txt').waitFor({ state: 'detached', timeout: scaled(20_000) });
    // dismissing the confirm deletes nothing
    ada.page.once('dialog', (d) => void d.dismiss());
    await fileRow(ada.page, 'big.bin').getByTestId('file-delete').click();
    await ada.page.waitForTimeout(500);
    expect(await listed(grace.page)).toContain('big.bin');
  });

  it('the panel keeps Jupyter keys to itself, and Esc closes it', async () => {
    const before = await ada.page.locator('[data-testid=cell]').count();
    await panel(ada.page).getByTestId('files-upload').focus();
    await ada.page.keyboard.press('b');
    await ada.page.keyboard.press('d');
    await ada.page.keyboard.press('d');
    await ada.page.waitForTimeout(200);
    expect(await ada.page.locator('[data-testid=cell]').count()).toBe(before);
    await ada.page.keyboard.press('Escape');
    await panel(ada.page).waitFor({ state: 'detached' });
  });

  it('a viewer sees and downloads the files, but has no upload or delete', async () => {
    const res = await fetchAsAdmin(`${baseURL()}/api/notebooks/${notebookId}/links`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'viewer' }),
    });
    expect(res.status).toBe(201);
    const { token } = (await res.json()) as { token: string };
    const viewer = await openAs(browser, 'Vera Viewer', { asAdmin: false });
    await viewer.page.goto(`${baseURL()}/n/${notebookId}?token=${encodeURIComponent(token)}`);
    await viewer.page.locator('[data-testid=connection-status][data-state=connected]').waitFor();
    await openFiles(viewer.page);
    await fileRow(viewer.page, 'sales.csv').waitFor({ timeout: scaled(20_000) });
    expect(await panel(viewer.page).getByTestId('files-upload').count()).toBe(0);
    expect(await panel(viewer.page).getByTestId('file-delete').count()).toBe(0);
    const [download] = await Promise.all([viewer.page.waitForEvent('download'), fileRow(viewer.page, 'sales.csv').getByTestId('file-download').click()]);
    expect(await downloadText(download)).toBe(SALES_CSV);
    // a drop is caught (the browser would otherwise open the file in place of the notebook) and explained
    await dropFiles(viewer.page, [{ name: 'mine.csv', text: 'a\n' }]);
    await viewer.page.getByTestId('toast').filter({ hasText: 'needs an editor link' }).waitFor();
    await viewer.page.screenshot({ path: '/tmp/e2e-files-viewer.png' });
    await expectNoErrors(viewer);
    await viewer.context.close();
  });

  it('logged no errors in either browser', async () => {
    await eventually(() => expectNoErrors(ada, grace));
  });
});

describe('an upload over a limit', () => {
  it('says which limit, in a toast, and lists nothing', async () => {
    const server = await startAppServer({ extraEnv: { FILES_MAX_FILE_MB: '1' } });
    const own = await launchBrowser();
    try {
      const id = await createNotebook('Limits', server.url);
      const ada = await openAs(own, 'Ada Lovelace');
      await openNotebook(ada, id, server.url);
      await dropFiles(ada.page, [{ name: 'too-big.bin', size: 3 * 1024 * 1024 }]);
      const toast = ada.page.getByTestId('toast').filter({ hasText: 'too-big.bin' });
      await toast.waitFor({ timeout: KERNEL_MS });
      expect(await toast.textContent()).toMatch(/^Could not upload "too-big\.bin": .*limit.*1 MiB/);
      await ada.page.getByTestId('files-empty').waitFor({ timeout: KERNEL_MS });
      await ada.page.screenshot({ path: '/tmp/e2e-files-limit.png' });
      // the browser logs the refused upload itself; that one is expected
      expect(ada.errors.filter((e) => !/status of 413/.test(e))).toEqual([]);
    } finally {
      await own.close();
      await server.close();
    }
  });
});
