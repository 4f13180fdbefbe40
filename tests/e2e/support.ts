// Browser-test helpers: Chromium through playwright-core, one context per person, and the HTTP API.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { scriptPerTest } from '../support/script-per-test';
import { startAppServer as startServerProcess, type AppServer as ServerProcess } from './server-process';
import { TEST_ADMIN_TOKEN } from '../support/auth';
import { scaled, UI_MS } from '../support/timing';

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
  /** the instance admin: signed in (through the sign-in URL) on `signedInAt` */
  isAdmin: boolean;
  signedInAt: string | null;
}

/**
 * Signs this person's browser in as the admin, as a person does: opens the sign-in URL
 * (`/?token=…`), which leaves a session cookie and reloads without the token. One admin cookie per
 * host: signing in on another server of 127.0.0.1 replaces it (cookies ignore ports).
 */
export async function signInAsAdmin(person: Person, base = baseURL()): Promise<void> {
  await signIn(person.page, base);
  person.signedInAt = base;
}

/** Opens the admin's sign-in URL in this page and waits for the home page it reloads into. */
export async function signIn(page: Page, base = baseURL()): Promise<void> {
  await page.goto(`${base}/?token=${encodeURIComponent(TEST_ADMIN_TOKEN)}`);
  await page.waitForURL((u) => u.origin === base && !u.searchParams.has('token'));
  await page.getByTestId('new-notebook-form').waitFor();
}

/**
 * A person in a browser context of their own, whose display name is already chosen. By default
 * they are the instance admin, signed in through the sign-in URL (on `base`, default the shared
 * server; openNotebook signs them in again on another server); `asAdmin: false` makes a stranger,
 * who gets in only with a notebook link. `isFirstVisit`: this browser has never been given a name.
 */
export async function openAs(browser: Browser, name: string, opts: { viewport?: { width: number; height: number }; asAdmin?: boolean; isFirstVisit?: boolean; base?: string } = {}): Promise<Person> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 860 } });
  if (!opts.isFirstVisit) await context.addInitScript((n) => {
    // init scripts run in every frame, sandboxed output frames too, which have no storage
    if (window !== window.top) return;
    window.localStorage.setItem('notebook.user', JSON.stringify({ name: n }));
  }, name);
  // Playwright's own default (30 s for an action or a wait) on the one factor of tests/support/timing.ts
  context.setDefaultTimeout(scaled(30_000));
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  const person: Person = { name, context, page, errors, isAdmin: opts.asAdmin !== false, signedInAt: null };
  if (person.isAdmin) await signInAsAdmin(person, opts.base ?? baseURL());
  return person;
}

export { startAppServer, type AppServer } from './server-process';

export async function createNotebook(title?: string, base = baseURL()): Promise<string> {
  const res = await fetch(`${base}/api/notebooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    body: JSON.stringify(title ? { title } : {}),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/** Opens a notebook and waits until it is connected and shows its cells. */
export async function openNotebook(person: Person, id: string, base = baseURL()): Promise<void> {
  if (person.isAdmin && person.signedInAt !== base) await signInAsAdmin(person, base);
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

export async function eventually(fn: () => Promise<void> | void, timeoutMs = UI_MS): Promise<void> {
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

export interface DroppedFile {
  name: string;
  /** text content */
  text?: string;
  /** or this many bytes of a repeating pattern */
  size?: number;
}

/**
 * Drags files from "the desktop" onto the page and drops them: a DataTransfer made in the page
 * (as the browser makes one for a real drop) carried by real dragenter, dragover and drop events.
 * `beforeDrop` runs while the drag is over the page (to look at the drop overlay).
 */
export async function dropFiles(page: Page, files: DroppedFile[], opts: { target?: string; beforeDrop?: () => Promise<void> } = {}): Promise<void> {
  const dataTransfer = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const f of list) {
      let body: BlobPart;
      if (f.text !== undefined) body = f.text;
      else {
        const bytes = new Uint8Array(f.size ?? 0);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
        body = bytes;
      }
      dt.items.add(new File([body], f.name));
    }
    return dt;
  }, files);
  const target = opts.target ?? 'main';
  await page.dispatchEvent(target, 'dragenter', { dataTransfer });
  await page.dispatchEvent(target, 'dragover', { dataTransfer });
  await opts.beforeDrop?.();
  await page.dispatchEvent(target, 'drop', { dataTransfer });
  await dataTransfer.dispose();
}

/** Reads a finished download's bytes. */
export async function downloadText(download: import('playwright-core').Download): Promise<string> {
  const path = await download.path();
  const { readFile } = await import('node:fs/promises');
  return readFile(path, 'utf8');
}

export interface CreatedNotebook {
  id: string;
  /** the owner's token, shown once by `POST /api/notebooks` */
  token: string;
}

/** Makes a notebook as the admin and returns its id and its owner's token. */
export async function createNotebookWithToken(title?: string, base = baseURL()): Promise<CreatedNotebook> {
  const res = await fetch(`${base}/api/notebooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    body: JSON.stringify(title ? { title } : {}),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as CreatedNotebook;
}

export interface CreatedLink {
  id: string;
  role: 'editor' | 'viewer';
  token: string;
  /** `<base>/n/<id>?token=<token>` */
  url: string;
}

/** Makes an editor or viewer link through the API, with the owner's (or the admin's) token. */
export async function createLink(notebookId: string, role: 'editor' | 'viewer', token = TEST_ADMIN_TOKEN, base = baseURL()): Promise<CreatedLink> {
  const res = await fetch(`${base}/api/notebooks/${notebookId}/links`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ role }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as CreatedLink;
}

/** Opens a notebook link (`/n/<id>?token=…`, which stores the token and reloads without it) and waits until it is connected. */
export async function openLink(person: Person, url: string): Promise<void> {
  await person.page.goto(url);
  await person.page.locator('[data-testid=connection-status][data-state=connected]').waitFor();
  await person.page.locator('[data-testid=cell]').first().waitFor();
}

/** A cell's source as this page shows it: its live editor's lines, or the static text. */
export async function shownSource(page: Page, id: string): Promise<string> {
  const cell = cellById(page, id);
  if (await cell.locator('.monaco-editor .view-lines').count()) return editorText(page, id);
  return ((await cell.locator('[data-testid=cell-source]').textContent()) ?? '').replace(/ $/, '');
}

export interface ModelApp {
  browser: Browser;
  /** the scripted OpenAI-compatible server the app's model settings point at */
  fake: FakeOpenAI;
  server: ServerProcess;
}

/**
 * For the browser tests of AI cells: a server of their own whose model is the scripted server
 * (`apiKey` is the key the server holds, which must never reach a browser), and a browser; all
 * closed after the file; each test's script is its own (scriptPerTest). Call at the top level; use the getter inside hooks and tests.
 */
export function useModelApp(opts: { model: string; apiKey: string; extraEnv?: Record<string, string> }): () => ModelApp {
  let current: ModelApp | null = null;
  beforeAll(async () => {
    const fake = await startFakeOpenAI({ model: opts.model });
    const server = await startServerProcess({ extraEnv: { ...opts.extraEnv, OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: opts.apiKey, OPENAI_MODEL: opts.model } });
    current = { fake, server, browser: await launchBrowser() };
  });
  scriptPerTest(() => current?.fake);
  afterAll(async () => {
    await current?.browser.close();
    await current?.server.close();
    await current?.fake.close();
    current = null;
  });
  return () => {
    if (!current) throw new Error('useModelApp: not started (call it at the top level of the test file)');
    return current;
  };
}
