// Notebooks cannot be poisoned (docs/decisions/0025), as people see it in a browser: a notebook
// stored with a value thousands deep (as before the limit) opens with its cells and a notice; the
// owner sees the packages pip left in the notebook's prefix and removes them; an editor does not.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { cellsOf, createCellMap, findCell } from '../../common/notebook/model';
import { openStorage } from '../../server/storage/open';
import { TEST_ADMIN_TOKEN } from '../support/auth';
import { connectClient, type YClient } from '../support/yclient';
import { createLink, createNotebook, expectNoErrors, launchBrowser, openAs, openLink, openNotebook, startAppServer, type AppServer } from './support';

const KERNEL_MS = 60_000;
let browser: Browser;
let app: AppServer;
let dataDir: string;
const clients: YClient[] = [];

beforeAll(async () => {
  // a server of its own, whose DATA_DIR the test knows: the poison goes straight into its storage
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ynb-e2e-poison-'));
  app = await startAppServer({ extraEnv: { DATA_DIR: dataDir } });
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await browser?.close();
  await app?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const nested = (levels: number): unknown => {
  let v: unknown = { x: 1 };
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
};

describe('poisoned notebooks in the browser', () => {
  it('a notebook stored with an output thousands deep opens with its cells and a notice in place of that output', async () => {
    const file = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { title: 'stored poison' },
      cells: [
        { id: 'intro', cell_type: 'markdown', source: '# Still here', metadata: {} },
        { id: 'calc', cell_type: 'code', source: 'print(1)', metadata: {}, execution_count: 1, outputs: [{ output_type: 'stream', name: 'stdout', text: 'one\n' }] },
      ],
    };
    const res = await fetch(`${app.url}/api/notebooks/import`, { method: 'POST', headers: auth, body: JSON.stringify(file) });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    // past every check, as a notebook stored before the limit holds it (the server has not loaded it)
    const storage = await openStorage({ dataDir });
    try {
      const stored = await storage.loadUpdates(id);
      const doc = new Y.Doc();
      if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot);
      for (const u of stored.updates) Y.applyUpdate(doc, u);
      const sv = Y.encodeStateVector(doc);
      (findCell(doc, 'calc')!.get('outputs') as Y.Array<unknown>).push([{ output_type: 'display_data', metadata: {}, data: { 'application/json': nested(2500), 'text/plain': 'deep' } }]);
      await storage.appendUpdate(id, Y.encodeStateAsUpdate(doc, sv));
    } finally {
      await storage.close();
    }

    const ada = await openAs(browser, 'Ada Lovelace', { base: app.url });
    await ada.page.goto(`${app.url}/n/${id}`);
    await ada.page.locator('[data-testid=connection-status][data-state=connected]').waitFor();
    await expect.poll(() => ada.page.locator('[data-testid=cell]').count()).toBe(2);
    const calc = ada.page.locator('[data-cell-id="calc"]');
    await expect.poll(() => calc.textContent()).toContain('one');
    expect(await calc.textContent()).toMatch(/Output not shown: this value was nested more than 64 levels deep \(MAX_NESTING_DEPTH\)/);
    expect(await ada.page.locator('[data-cell-id="intro"]').textContent()).toContain('Still here');
    await ada.page.screenshot({ path: '/tmp/e2e-poison-stored.png' });
    await expectNoErrors(ada);
    await ada.context.close();
  });

  it('the owner sees what pip left in the prefix (and a planted sitecustomize.py) and removes it all; an editor does not see it', async () => {
    const id = await createNotebook('packages', app.url);
    const writer = connectClient(app.url.replace(/^http/, 'ws') + '/sync', id);
    clients.push(writer);
    await writer.synced;
    const plant = [
      'import os',
      "t = os.environ.get('YNOTEBOOK_PIP_TARGET') or os.path.join(os.getcwd(), '.ynotebook', 'site-packages')",
      "os.makedirs(os.path.join(t, 'tinypkg-1.2.3.dist-info'), exist_ok=True)",
      "open(os.path.join(t, 'tinypkg-1.2.3.dist-info', 'METADATA'), 'w').write('Metadata-Version: 2.1\\nName: tinypkg\\nVersion: 1.2.3\\n')",
      "open(os.path.join(t, 'sitecustomize.py'), 'w').write('# runs at every start\\n')",
    ].join('\n');
    const cell = createCellMap({ cell_type: 'code', source: plant });
    cellsOf(writer.doc).push([cell]);
    const cellId = cell.get('id') as string;
    let run: Response | null = null;
    await expect
      .poll(async () => {
        run = await fetch(`${app.url}/api/notebooks/${id}/cells/${cellId}/run`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
        return run.status;
      }, { timeout: 10_000 })
      .toBe(200);
    expect(((await run!.json()) as { status: string }).status).toBe('ok');

    const ada = await openAs(browser, 'Ada Lovelace', { base: app.url });
    await openNotebook(ada, id, app.url);
    await ada.page.getByTestId('files-toggle').click();
    const installed = ada.page.getByTestId('installed-packages');
    await installed.waitFor({ timeout: KERNEL_MS });
    expect(await installed.textContent()).toContain('Installed packages (pip): tinypkg 1.2.3');
    expect(await ada.page.getByTestId('packages-other').textContent()).toContain('sitecustomize.py');
    await ada.page.screenshot({ path: '/tmp/e2e-poison-packages.png' });

    const link = await createLink(id, 'editor', TEST_ADMIN_TOKEN, app.url);
    const grace = await openAs(browser, 'Grace Hopper', { asAdmin: false });
    await openLink(grace, link.url);
    await grace.page.getByTestId('files-toggle').click();
    await grace.page.getByTestId('files-empty').waitFor({ timeout: KERNEL_MS });
    expect(await grace.page.getByTestId('installed-packages').count()).toBe(0);

    ada.page.once('dialog', (d) => void d.accept());
    await ada.page.getByTestId('packages-remove').click();
    await installed.waitFor({ state: 'detached' });
    const after = await fetch(`${app.url}/api/notebooks/${id}/packages`, { headers: auth });
    expect(await after.json()).toEqual({ path: '.ynotebook/site-packages', packages: [], otherFiles: [] });
    await expectNoErrors(ada, grace);
    await ada.context.close();
    await grace.context.close();
  });
});
