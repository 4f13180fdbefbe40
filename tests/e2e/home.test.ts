// The home page as people meet it: the admin signs in with the URL `npm start` prints, sees the
// list and makes a notebook with the form; anyone else is told how to get in.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN } from '../support/auth';
import { baseURL, expectNoErrors, launchBrowser, openAs, type Person } from './support';

let browser: Browser;
const people: Person[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
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

  it('logged no errors', async () => {
    await expectNoErrors(...people);
  });
});
