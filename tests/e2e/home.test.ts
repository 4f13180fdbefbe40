// The home page as people meet it: the admin signs in with the URL `npm start` prints, sees the
// list and makes a notebook with the form; anyone else is told how to get in.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellsOf, createCellMap, getTitle } from '../../common/notebook/model';
import { TEST_ADMIN_TOKEN } from '../support/auth';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { baseURL, createNotebook, expectNoErrors, launchBrowser, openAs, openNotebook, wsURL, type Person } from './support';

let browser: Browser;
const people: Person[] = [];
const clients: YClient[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await browser?.close();
});

describe('home page', () => {
  it('the admin signs in with ?token=, the token leaves the address bar, and "New notebook" opens a new notebook', async () => {
    const ada = await openAs(browser, 'Ada Lovelace', { asAdmin: false });
    people.push(ada);
    await ada.page.goto(`${baseURL()}/?token=${TEST_ADMIN_TOKEN}`);
    await ada.page.waitForURL(`${baseURL()}/`);
    expect(ada.page.url()).not.toContain('token');
    // the cookie is HttpOnly: the page's scripts never see the token
    expect(await ada.page.evaluate(() => document.cookie)).not.toContain(TEST_ADMIN_TOKEN);
    await ada.page.getByLabel('Title of the new notebook').fill('Quarterly revenue');
    await ada.page.getByTestId('new-notebook').click();
    await ada.page.waitForURL(/\/n\/[a-z0-9]{12}$/);
    await ada.page.locator('[data-testid=connection-status][data-state=connected]').waitFor();
    await expect.poll(() => ada.page.title()).toBe('Quarterly revenue');
    await ada.page.goto(`${baseURL()}/`);
    await expect.poll(() => ada.page.getByTestId('notebook-list').textContent()).toContain('Quarterly revenue');
  });

  it('someone without the admin token sees how to sign in, not the list', async () => {
    const sam = await openAs(browser, 'Sam', { asAdmin: false });
    people.push(sam);
    await sam.page.goto(`${baseURL()}/`);
    await sam.page.getByTestId('sign-in').waitFor();
    expect(await sam.page.getByTestId('notebook-list').count()).toBe(0);
    expect(await sam.page.getByTestId('new-notebook').count()).toBe(0);
  });
});

/** A word no other test's notebook has, so a search finds only this file's notebooks. */
const RUN = `r${Date.now().toString(36)}`;

async function listedTitles(): Promise<string[]> {
  const res = await fetch(`${baseURL()}/api/notebooks`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  return ((await res.json()) as { notebooks: { title: string }[] }).notebooks.map((n) => n.title);
}

/** The titles the list shows, top to bottom. */
function shownTitles(page: Page): Promise<string[]> {
  return page.getByTestId('notebook-title').allTextContents();
}

function row(page: Page, title: string) {
  return page.getByTestId('notebook-row').filter({ has: page.getByTestId('notebook-title').getByText(title, { exact: true }) });
}

async function openHome(person: Person): Promise<void> {
  await person.page.goto(`${baseURL()}/`);
  await person.page.getByTestId('notebook-list').waitFor();
}

describe('home page: search, rename, duplicate, delete', () => {
  let ada: Person;

  beforeAll(async () => {
    ada = await openAs(browser, 'Ada Lovelace');
    people.push(ada);
  });

  it('searching filters the list by title as one types, last changed first, and says when nothing matches', async () => {
    await createNotebook(`Aurora forecast ${RUN}`);
    await createNotebook(`Café survey ${RUN}`);
    await createNotebook(`Aurora ledger ${RUN}`);
    await openHome(ada);
    const search = ada.page.getByLabel('Search notebooks');
    await search.pressSequentially(`${RUN} aurora`);
    // both words, in any order, any case; the newest first
    await expect.poll(() => shownTitles(ada.page)).toEqual([`Aurora ledger ${RUN}`, `Aurora forecast ${RUN}`]);
    expect(await ada.page.getByTestId('notebook-count').textContent()).toMatch(/^2 of \d+ notebooks/);
    // accents do not matter
    await search.fill(`cafe ${RUN}`);
    await expect.poll(() => shownTitles(ada.page)).toEqual([`Café survey ${RUN}`]);
    await search.fill(`${RUN} zebra`);
    await ada.page.getByTestId('no-match').waitFor();
    expect(await ada.page.getByTestId('no-match').textContent()).toBe(`No notebook matches “${RUN} zebra”.Clear search`);
    expect(await ada.page.getByTestId('notebook-list').count()).toBe(0);
    await ada.page.getByRole('button', { name: 'Clear search' }).click();
    await ada.page.getByTestId('notebook-list').waitFor();
    expect(await search.inputValue()).toBe('');
    expect(await shownTitles(ada.page)).toEqual(expect.arrayContaining([`Aurora forecast ${RUN}`, `Café survey ${RUN}`, `Aurora ledger ${RUN}`]));
  });

  it('renames inline: Enter saves, and someone who has the notebook open sees the new title at once; Esc cancels; an empty title is refused', async () => {
    const id = await createNotebook(`Draft ${RUN}`);
    // Grace has the notebook open in her own browser
    const grace = await openAs(browser, 'Grace Hopper');
    people.push(grace);
    await openNotebook(grace, id);
    expect(await grace.page.getByTestId('title').inputValue()).toBe(`Draft ${RUN}`);

    await openHome(ada);
    await ada.page.getByLabel('Search notebooks').fill(RUN);
    await row(ada.page, `Draft ${RUN}`).getByRole('button', { name: `Rename “Draft ${RUN}”` }).click();
    const input = ada.page.getByTestId('rename-input');
    expect(await input.inputValue()).toBe(`Draft ${RUN}`);
    // Esc cancels what was typed
    await input.fill('Never saved');
    await input.press('Escape');
    await row(ada.page, `Draft ${RUN}`).waitFor();
    expect(await ada.page.getByTestId('rename-input').count()).toBe(0);
    expect(await listedTitles()).not.toContain('Never saved');

    // an empty title says why and stays open
    await row(ada.page, `Draft ${RUN}`).getByRole('button', { name: `Rename “Draft ${RUN}”` }).click();
    await ada.page.getByTestId('rename-input').fill('   ');
    await ada.page.getByTestId('rename-input').press('Enter');
    expect(await ada.page.getByTestId('rename-error').textContent()).toBe('Title is empty: give the notebook a name.');

    await ada.page.getByTestId('rename-input').fill(`Revenue by month ${RUN}`);
    await ada.page.getByTestId('rename-input').press('Enter');
    await row(ada.page, `Revenue by month ${RUN}`).waitFor();
    expect(await ada.page.getByTestId('rename-input').count()).toBe(0);
    // on top: renaming is a change
    await expect.poll(async () => (await shownTitles(ada.page))[0]).toBe(`Revenue by month ${RUN}`);
    // live in Grace's header and tab title, without a reload
    await expect.poll(() => grace.page.getByTestId('title').inputValue()).toBe(`Revenue by month ${RUN}`);
    await expect.poll(() => grace.page.title()).toBe(`Revenue by month ${RUN}`);
    // and after a reload of the home page, and in the export
    await openHome(ada);
    expect(await ada.page.getByTestId('notebook-list').textContent()).toContain(`Revenue by month ${RUN}`);
    const exported = (await (await fetch(`${baseURL()}/api/notebooks/${id}/export.ipynb`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })).json()) as { metadata: { title: string } };
    expect(exported.metadata.title).toBe(`Revenue by month ${RUN}`);
  });

  it('duplicates a notebook: the copy has the cells and outputs, and the notice says the files are not copied', async () => {
    const id = await createNotebook(`Sales ${RUN}`);
    const writer = connectClient(wsURL(), id);
    clients.push(writer);
    await writer.synced;
    await waitFor(() => cellsOf(writer.doc).length === 1);
    cellsOf(writer.doc).push([
      createCellMap({ cell_type: 'code', source: 'print("total: 1234")', execution_count: 1, outputs: [{ output_type: 'stream', name: 'stdout', text: 'total: 1234\n' }] }),
    ]);
    await openHome(ada);
    await ada.page.getByLabel('Search notebooks').fill(`sales ${RUN}`);
    await row(ada.page, `Sales ${RUN}`).getByRole('button', { name: `Duplicate “Sales ${RUN}”` }).click();
    const notice = ada.page.getByTestId('home-notice');
    await notice.waitFor();
    expect(await notice.textContent()).toContain(`Made “Copy of Sales ${RUN}”`);
    expect(await notice.textContent()).toContain(`Files in the working directory of “Sales ${RUN}” are not copied`);
    // the copy is listed (the search still matches it), on top
    await expect.poll(() => shownTitles(ada.page)).toEqual([`Copy of Sales ${RUN}`, `Sales ${RUN}`]);

    await notice.getByRole('link', { name: 'Open it' }).click();
    await ada.page.waitForURL(/\/n\/[a-z0-9]{12}$/);
    expect(ada.page.url()).not.toContain(id);
    await ada.page.locator('[data-testid=connection-status][data-state=connected]').waitFor();
    expect(await ada.page.getByTestId('title').inputValue()).toBe(`Copy of Sales ${RUN}`);
    await expect.poll(() => ada.page.getByTestId('cell-outputs').allTextContents()).toEqual([expect.stringContaining('total: 1234')]);

    // independent: an edit in the copy's title leaves the original as it was
    await ada.page.getByTestId('title').fill(`Copy edited ${RUN}`);
    await ada.page.getByTestId('title').press('Enter');
    await expect.poll(listedTitles).toContain(`Copy edited ${RUN}`);
    expect(getTitle(writer.doc)).toBe(`Sales ${RUN}`);
  });

  it('deletes only after a dialog that names the notebook; Cancel and Esc keep it', async () => {
    await createNotebook(`Old experiment ${RUN}`);
    await openHome(ada);
    await ada.page.getByLabel('Search notebooks').fill(`experiment ${RUN}`);
    const deleteButton = row(ada.page, `Old experiment ${RUN}`).getByRole('button', { name: `Delete “Old experiment ${RUN}”` });

    await deleteButton.click();
    const dialog = ada.page.getByTestId('delete-dialog');
    await dialog.waitFor();
    expect(await dialog.getByRole('heading').textContent()).toBe(`Delete “Old experiment ${RUN}”?`);
    expect(await dialog.textContent()).toContain('This cannot be undone.');
    // Cancel has the focus: Enter right away would not delete
    await expect.poll(() => ada.page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await shownTitles(ada.page)).toEqual([`Old experiment ${RUN}`]);

    await deleteButton.click();
    await dialog.waitFor();
    await ada.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await listedTitles()).toContain(`Old experiment ${RUN}`);

    await deleteButton.click();
    await dialog.getByRole('button', { name: 'Delete notebook' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await ada.page.getByTestId('home-notice').textContent()).toContain(`Deleted “Old experiment ${RUN}”.`);
    await ada.page.getByTestId('no-match').waitFor();
    expect(await listedTitles()).not.toContain(`Old experiment ${RUN}`);
  });
});

describe('home page', () => {
  it('logged no errors', async () => {
    await expectNoErrors(...people);
  });
});
