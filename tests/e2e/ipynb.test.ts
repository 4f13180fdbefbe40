// A notebook out to Jupyter and one back in, from the browser: "Download .ipynb" in the notebook,
// "Import .ipynb" (picker and drop) on the home page, and a clear error for a file it cannot take.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellsOf, createCellMap } from '../../common/notebook/model';
import { TEST_ADMIN_TOKEN } from '../support/auth';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { baseURL, cellIds, createNotebook, downloadText, dropFiles, expectNoErrors, launchBrowser, openAs, openNotebook, wsURL, type Person } from './support';

/** The home page (the list, New notebook, Import) is the instance admin's. */
const homeURL = () => `${baseURL()}/?token=${TEST_ADMIN_TOKEN}`;
/** Where an import lands: the new notebook, with its owner's link token when the server gives one. */
const NOTEBOOK_URL = /\/n\/[^/?]+(\?.*)?$/;

let browser: Browser;
let ada: Person;
let writer: YClient;

/** A small notebook as JupyterLab writes one (nbformat 4.4: no cell ids, sources as line arrays). */
const JUPYTER_NOTEBOOK = {
  nbformat: 4,
  nbformat_minor: 4,
  metadata: {
    kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
    language_info: { name: 'python' },
  },
  cells: [
    { cell_type: 'markdown', metadata: {}, source: ['# Imported analysis\n', '\n', 'Made in JupyterLab.'] },
    {
      cell_type: 'code',
      metadata: {},
      execution_count: 1,
      source: ['print("hello from jupyter")'],
      outputs: [{ output_type: 'stream', name: 'stdout', text: ['hello from jupyter\n'] }],
    },
  ],
};

beforeAll(async () => {
  browser = await launchBrowser();
  ada = await openAs(browser, 'Ada Lovelace');
});

afterAll(async () => {
  writer?.destroy();
  await browser?.close();
});

describe('.ipynb in the browser', () => {
  it('"Download .ipynb" gives nbformat 4 JSON with the cells', async () => {
    const id = await createNotebook('Export me');
    writer = connectClient(wsURL(), id);
    await writer.synced;
    const cells = cellsOf(writer.doc);
    await waitFor(() => cells.length === 1);
    cells.push([createCellMap({ cell_type: 'markdown', source: '## Exported heading' }), createCellMap({ cell_type: 'code', source: 'x = 6 * 7' })]);
    await openNotebook(ada, id);
    await ada.page.locator('[data-testid=cell]').nth(2).waitFor();
    const control = ada.page.getByTestId('download-ipynb');
    expect(await control.getAttribute('aria-label')).toBe('Download .ipynb');
    const [download] = await Promise.all([ada.page.waitForEvent('download'), control.click()]);
    expect(download.suggestedFilename()).toMatch(/\.ipynb$/);
    const nb = JSON.parse(await downloadText(download)) as { nbformat: number; cells: { cell_type: string; source: string | string[] }[] };
    expect(nb.nbformat).toBe(4);
    const sources = nb.cells.map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source));
    expect(sources).toContain('## Exported heading');
    expect(sources).toContain('x = 6 * 7');
  });

  it('imports a .ipynb chosen with the picker and lands on it, cells and outputs', async () => {
    const page = ada.page;
    await page.goto(homeURL());
    await page.getByTestId('import-ipynb').waitFor();
    await page
      .getByTestId('import-input')
      .setInputFiles([{ name: 'analysis.ipynb', mimeType: 'application/x-ipynb+json', buffer: Buffer.from(JSON.stringify(JUPYTER_NOTEBOOK)) }]);
    await page.waitForURL(NOTEBOOK_URL);
    await page.locator('[data-testid=connection-status][data-state=connected]').waitFor();
    await expect.poll(async () => (await cellIds(page)).length).toBe(2);
    await expect.poll(() => page.locator('[data-testid=markdown-rendered] h1').textContent()).toBe('Imported analysis');
    await expect.poll(() => page.locator('[data-testid=output]').first().textContent()).toBe('hello from jupyter\n');
    await page.screenshot({ path: '/tmp/e2e-ipynb-imported.png' });
  });

  it('imports a .ipynb dropped on the home page', async () => {
    const page = ada.page;
    await page.goto(homeURL());
    await page.getByTestId('import-ipynb').waitFor();
    const dropped = { ...JUPYTER_NOTEBOOK, cells: [{ cell_type: 'markdown', metadata: {}, source: '# Dropped in' }] };
    await dropFiles(page, [{ name: 'dropped.ipynb', text: JSON.stringify(dropped) }], {
      beforeDrop: async () => {
        await page.getByTestId('drop-overlay').waitFor();
        await page.screenshot({ path: '/tmp/e2e-ipynb-home-drop.png' });
      },
    });
    await page.waitForURL(NOTEBOOK_URL);
    await expect.poll(() => page.locator('[data-testid=markdown-rendered] h1').textContent()).toBe('Dropped in');
  });

  it('says clearly what is wrong with a file it cannot import, and stays on the home page', async () => {
    const page = ada.page;
    await page.goto(homeURL());
    await page.getByTestId('import-ipynb').waitFor();
    // not a notebook at all: refused before anything is sent
    await dropFiles(page, [{ name: 'sales.csv', text: 'a,b\n' }]);
    await expect.poll(() => page.getByTestId('import-error').textContent()).toContain('"sales.csv" is not a Jupyter notebook');
    // an nbformat 3 notebook: the server's message names the version
    const old = { nbformat: 3, nbformat_minor: 0, metadata: {}, worksheets: [{ cells: [] }] };
    await page
      .getByTestId('import-input')
      .setInputFiles([{ name: 'old.ipynb', mimeType: 'application/x-ipynb+json', buffer: Buffer.from(JSON.stringify(old)) }]);
    await expect.poll(() => page.getByTestId('import-error').textContent()).toMatch(/^Could not import "old\.ipynb": .*nbformat 3/);
    expect(new URL(page.url()).pathname).toBe('/');
    await page.screenshot({ path: '/tmp/e2e-ipynb-error.png' });
    // the browser logs the refused request itself; that one is expected
    const expected = /Failed to load resource: the server responded with a status of 4\d\d/;
    for (let i = ada.errors.length - 1; i >= 0; i--) if (expected.test(ada.errors[i])) ada.errors.splice(i, 1);
  });

  it('logged no errors', async () => {
    await expectNoErrors(ada);
  });
});
