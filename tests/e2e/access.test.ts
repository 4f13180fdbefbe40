// Who may do what, as people see it: a viewer link opens the notebook read-only, an editor link
// opens it editable, the owner's Share dialog makes, copies and revokes links, and a page whose link
// was revoked says so. The server enforces all of it (tests/integration/access.test.ts); these check
// that the UI tells the truth.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellSource, cellsOf, createCellMap, replaceText } from '../../common/notebook/model';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import {
  baseURL,
  cellById,
  cellIds,
  createLink,
  createNotebookWithToken,
  editCell,
  eventually,
  expectNoErrors,
  launchBrowser,
  openAs,
  openLink,
  shownSource,
  startAppServer,
  wsURL,
  type Person,
} from './support';
import { scaled } from '../support/timing';

const FIRST_SOURCE = 'total = 41 + 1\nprint(total)';

let browser: Browser;
let writer: YClient;
let notebookId: string;
let ownerToken: string;
let owner: Person;
let viewer: Person;
let editor: Person;
let stranger: Person;
const ids: Record<string, string> = {};

/** Someone without the admin cookie, who gets in with a link. */
async function openAsLinkHolder(name: string): Promise<Person> {
  return openAs(browser, name, { asAdmin: false });
}

/** A 401 page (the stranger without a link) is logged by Chromium as a failed resource: expected. */
function dropExpected401(person: Person) {
  person.errors = person.errors.filter((e) => !/status of 401/.test(e));
}

beforeAll(async () => {
  browser = await launchBrowser();
  ({ id: notebookId, token: ownerToken } = await createNotebookWithToken('Shared with care'));
  writer = connectClient(wsURL(), notebookId);
  await writer.synced;
  const cells = cellsOf(writer.doc);
  await waitFor(() => cells.length === 1);
  writer.doc.transact(() => replaceText(cellSource(cells.get(0)), FIRST_SOURCE));
  const md = createCellMap({ cell_type: 'markdown', source: '# Notes\nRead-only for some.' });
  cells.push([md]);
  ids.code = cells.get(0).get('id') as string;
  ids.md = md.get('id') as string;

  owner = await openAsLinkHolder('Olivia Owner');
  // the owner copies what the Share dialog made
  await owner.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL() });
  await openLink(owner, `${baseURL()}/n/${notebookId}?token=${encodeURIComponent(ownerToken)}`);
}, 120_000);

afterAll(async () => {
  writer?.destroy();
  await browser?.close();
});

describe('access in the browser', () => {
  it('tells a stranger without a link that they need one', async () => {
    stranger = await openAsLinkHolder('Sam Stranger');
    await stranger.page.goto(`${baseURL()}/n/${notebookId}`);
    await expect.poll(() => stranger.page.getByTestId('notebook-error').locator('h1').textContent()).toBe('You need a link to open this notebook');
    expect(await stranger.page.locator('[data-testid=cell]').count()).toBe(0);
    dropExpected401(stranger);
  });

  it('opens a viewer link read-only: typing and command keys change nothing, run is unavailable', async () => {
    const link = await createLink(notebookId, 'viewer', ownerToken);
    viewer = await openAsLinkHolder('Victor Viewer');
    await openLink(viewer, link.url);
    const page = viewer.page;

    // the badge, and no way to run, interrupt, insert, or share
    await expect.poll(() => page.getByTestId('view-only-badge').textContent()).toContain('View only');
    expect(await page.getByTestId('notebook').getAttribute('data-can-edit')).toBe('false');
    expect(await page.getByTestId('run-cell').count()).toBe(0);
    expect(await page.getByTestId('run-all').isDisabled()).toBe(true);
    expect(await page.getByTestId('run-all').getAttribute('title')).toContain('view-only link');
    expect(await page.getByTestId('interrupt').isDisabled()).toBe(true);
    expect(await page.getByTestId('restart').isDisabled()).toBe(true);
    expect(await page.getByTestId('add-code-cell').count()).toBe(0);
    expect(await page.getByTestId('share-button').count()).toBe(0);
    expect(await page.getByTestId('title').getAttribute('readonly')).not.toBeNull();
    expect(await page.getByTestId('read-only-hint').textContent()).toContain('View only');

    // typing into the cell: the editor opens (to select and copy) but keeps its text, here and for the owner
    await editCell(page, ids.code);
    expect(await cellById(page, ids.code).getByTestId('cell-toolbar').count()).toBe(0);
    await page.keyboard.type('import os  # viewer was here');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Shift+Enter');
    await page.waitForTimeout(700);
    expect(await shownSource(page, ids.code)).toBe(FIRST_SOURCE);
    expect(await shownSource(owner.page, ids.code)).toBe(FIRST_SOURCE);
    expect(cellSource(cellsOf(writer.doc).get(0)).toString()).toBe(FIRST_SOURCE);
    // said once, as a toast
    await expect.poll(() => page.getByTestId('toast').allTextContents()).toEqual([expect.stringContaining('view-only link')]);

    // command mode keys that change the document do nothing either
    await page.keyboard.press('Escape');
    await page.locator('[data-testid=notebook][data-mode=command]').waitFor();
    const before = await cellIds(page);
    for (const key of ['b', 'a', 'm', 'd', 'd', 'z']) await page.keyboard.press(key);
    await page.waitForTimeout(500);
    expect(await cellIds(page)).toEqual(before);
    expect(await cellIds(owner.page)).toEqual(before);
    expect(await cellById(owner.page, ids.code).getAttribute('data-cell-type')).toBe('code');
    expect(await page.getByTestId('toast').count()).toBe(1);
    // and the title
    await page.getByTestId('title').click();
    await page.keyboard.type(' (defaced)');
    await page.keyboard.press('Enter');
    expect(await page.getByTestId('title').inputValue()).toBe('Shared with care');
    expect(await owner.page.getByTestId('title').inputValue()).toBe('Shared with care');

    await page.getByTestId('toast-dismiss').click();
    await page.screenshot({ path: '/tmp/e2e-access-viewer.png' });
  });

  it('still shows the viewer to the others, and the cell they are in', async () => {
    await eventually(async () => {
      const names = await owner.page.locator('[data-testid=presence-user]').evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
      expect(names).toContain('Victor Viewer');
    });
    await viewer.page.keyboard.press('Escape');
    await cellById(viewer.page, ids.md).click();
    await expect.poll(() => cellById(owner.page, ids.md).locator('[data-testid=cell-peers] .peer-chip').allTextContents()).toContain('VV');
  });

  it('opens an editor link editable: typing reaches the owner', async () => {
    const link = await createLink(notebookId, 'editor', ownerToken);
    editor = await openAsLinkHolder('Edith Editor');
    await openLink(editor, link.url);
    const page = editor.page;
    expect(await page.getByTestId('view-only-badge').count()).toBe(0);
    expect(await page.getByTestId('notebook').getAttribute('data-can-edit')).toBe('true');
    expect(await page.getByTestId('run-all').isDisabled()).toBe(false);
    // links are the owner's business
    expect(await page.getByTestId('share-button').count()).toBe(0);
    await editCell(page, ids.code);
    await page.keyboard.press('Control+End');
    await page.keyboard.type('  # checked by Edith');
    await eventually(async () => expect(await shownSource(owner.page, ids.code)).toBe(`${FIRST_SOURCE}  # checked by Edith`));
    await eventually(async () => expect(await shownSource(viewer.page, ids.code)).toBe(`${FIRST_SOURCE}  # checked by Edith`));
    await page.keyboard.press('Escape');
  });

  it("makes a viewer link in the owner's Share dialog, copies it, and a stranger opens it read-only", async () => {
    const page = owner.page;
    await page.keyboard.press('Escape');
    await page.getByTestId('share-button').click();
    const dialog = page.getByTestId('share-dialog');
    await dialog.waitFor();
    // the editor link made above is listed, without its token
    await expect.poll(() => dialog.locator('[data-testid=share-link]').count()).toBe(2);

    // keys typed in the dialog never act on cells
    const before = await cellIds(page);
    for (const key of ['b', 'd', 'd', 'm']) await page.keyboard.press(key);
    await page.waitForTimeout(300);
    expect(await cellIds(page)).toEqual(before);

    await dialog.getByTestId('share-role-viewer').click();
    await dialog.getByTestId('share-create').click();
    const url = await dialog.getByTestId('share-url').inputValue();
    expect(url).toMatch(new RegExp(`^${baseURL()}/n/${notebookId}\\?token=.+`));
    expect(await dialog.getByTestId('share-once').textContent()).toContain('Copy it now: it is shown only once');
    await dialog.getByTestId('share-copy').click();
    await expect.poll(() => dialog.getByTestId('share-copy').textContent()).toContain('Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(url);
    await expect.poll(() => dialog.locator('[data-testid=share-link]').count()).toBe(3);
    const newest = dialog.locator('[data-testid=share-link]').first();
    expect(await newest.getAttribute('data-role')).toBe('viewer');
    expect(await newest.textContent()).toContain('just now');
    await page.screenshot({ path: '/tmp/e2e-access-share.png' });

    // the stranger of the first test opens the copied link
    await openLink(stranger, url);
    await expect.poll(() => stranger.page.getByTestId('view-only-badge').count()).toBe(1);
    expect(await stranger.page.getByTestId('run-cell').count()).toBe(0);
    await expect.poll(() => shownSource(stranger.page, ids.code)).toBe(`${FIRST_SOURCE}  # checked by Edith`);
  });

  it('revokes that link: the stranger is disconnected and told why', async () => {
    const page = owner.page;
    const dialog = page.getByTestId('share-dialog');
    const newest = dialog.locator('[data-testid=share-link]').first();
    const linkId = await newest.getAttribute('data-link-id');
    page.once('dialog', (d) => void d.accept());
    await newest.getByTestId('share-revoke').click();
    await expect.poll(() => dialog.locator(`[data-testid=share-link][data-link-id="${linkId}"]`).count()).toBe(0);
    expect(await dialog.locator('[data-testid=share-link]').count()).toBe(2);

    await expect.poll(() => stranger.page.getByTestId('connection-status').getAttribute('data-state'), { timeout: scaled(5000) }).not.toBe('connected');
    await expect.poll(() => stranger.page.getByTestId('access-lost').textContent()).toContain('Your access to this notebook was revoked');
    expect(await stranger.page.getByTestId('access-lost').getAttribute('data-code')).toBe('4410');
    // it stays closed: no reconnecting with a dead link
    await stranger.page.waitForTimeout(1500);
    expect(await stranger.page.getByTestId('connection-status').getAttribute('data-state')).toBe('closed');
    await stranger.page.screenshot({ path: '/tmp/e2e-access-revoked.png' });

    // the others are not affected
    expect(await viewer.page.getByTestId('connection-status').getAttribute('data-state')).toBe('connected');
    expect(await editor.page.getByTestId('connection-status').getAttribute('data-state')).toBe('connected');

    // Esc closes the dialog; a reload shows the stranger the door
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    await stranger.page.reload();
    await expect.poll(() => stranger.page.getByTestId('notebook-error').locator('h1').textContent()).toBe('You need a link to open this notebook');
    dropExpected401(stranger);
  });

  it('shows a "not sandboxed" badge, with the reason, where kernels run without the sandbox', async () => {
    // this server's kernels run in bubblewrap where it works; a server with KERNEL_SANDBOX=off says so
    const unsandboxed = await startAppServer({ extraEnv: { KERNEL_SANDBOX: 'off' } });
    try {
      const { id, token } = await createNotebookWithToken('Unsandboxed', unsandboxed.url);
      const person = await openAsLinkHolder('Una Sandbox');
      await openLink(person, `${unsandboxed.url}/n/${id}?token=${encodeURIComponent(token)}`);
      const badge = person.page.getByTestId('sandbox-badge');
      await expect.poll(() => badge.textContent()).toContain('not sandboxed');
      const title = (await badge.getAttribute('title')) ?? '';
      expect(title).toContain('KERNEL_SANDBOX=off');
      expect(title).toContain("Kernel code can read this server's files");
      await expectNoErrors(person);
      await person.context.close();
    } finally {
      await unsandboxed.close();
    }
  });

  it('logged no errors in any browser', async () => {
    await expectNoErrors(owner, viewer, editor, stranger);
  });
});
