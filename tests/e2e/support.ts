// Browser-test helpers: Chromium through playwright-core, one context per person, and the HTTP API.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect, inject } from 'vitest';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function baseURL(): string {
  return inject('baseURL');
}

export function wsURL(): string {
  return baseURL().replace(/^http/, 'ws') + '/sync';
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

export interface Person {
  name: string;
  context: BrowserContext;
  page: Page;
  /** console errors and page errors seen so far; a test fails on any it did not expect */
  errors: string[];
}

/** A browser context for one person whose display name is already chosen. */
export async function openAs(browser: Browser, name: string, opts: { viewport?: { width: number; height: number } } = {}): Promise<Person> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 860 } });
  await context.addInitScript((n) => {
    // init scripts run in every frame, sandboxed output frames too, which have no storage
    if (window !== window.top) return;
    window.localStorage.setItem('notebook.user', JSON.stringify({ name: n }));
  }, name);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  return { name, context, page, errors };
}

export { startAppServer, type AppServer } from './server-process';

export async function createNotebook(title?: string, base = baseURL()): Promise<string> {
  const res = await fetch(`${base}/api/notebooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(title ? { title } : {}),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/** Opens a notebook and waits until it is connected and shows its cells. */
export async function openNotebook(person: Person, id: string, base = baseURL()): Promise<void> {
  await person.page.goto(`${base}/n/${id}`);
  await person.page.locator('[data-testid=connection-status][data-state=connected]').waitFor();
  await person.page.locator('[data-testid=cell]').first().waitFor();
}

export function cellById(page: Page, id: string) {
  return page.locator(`[data-testid=cell][data-cell-id="${id}"]`);
}

export async function cellIds(page: Page): Promise<string[]> {
  return page.locator('[data-testid=cell]').evaluateAll((els) => els.map((e) => e.getAttribute('data-cell-id') ?? ''));
}

/** Clicks a cell's source and waits for its live editor to take the keyboard. */
export async function editCell(page: Page, id: string): Promise<void> {
  const cell = cellById(page, id);
  const source = cell.locator('[data-testid=cell-source], .monaco-editor').first();
  await source.click();
  await cell.locator('.monaco-editor.focused').waitFor();
}

/** The text Monaco shows in a cell (its view lines; fine for short sources). */
export async function editorText(page: Page, id: string): Promise<string> {
  return cellById(page, id)
    .locator('.monaco-editor .view-lines')
    .evaluate((el) => Array.from(el.querySelectorAll('.view-line')).sort((a, b) => parseFloat((a as HTMLElement).style.top) - parseFloat((b as HTMLElement).style.top)).map((l) => (l.textContent ?? '').replace(/\u00a0/g, ' ')).join('\n'));
}

export async function expectNoErrors(...people: Person[]) {
  for (const p of people) expect(p.errors, `${p.name}'s browser`).toEqual([]);
}

export async function eventually(fn: () => Promise<void> | void, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fn();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export interface TwoPeople {
  browser: Browser;
  ada: Person;
  grace: Person;
  notebookId: string;
}

/** One browser, two people (Ada and Grace) in their own contexts, both in a new notebook. */
export async function twoPeopleIn(title: string, base = baseURL()): Promise<TwoPeople> {
  const browser = await launchBrowser();
  const notebookId = await createNotebook(title, base);
  const ada = await openAs(browser, 'Ada Lovelace');
  const grace = await openAs(browser, 'Grace Hopper');
  await openNotebook(ada, notebookId, base);
  await openNotebook(grace, notebookId, base);
  return { browser, ada, grace, notebookId };
}
