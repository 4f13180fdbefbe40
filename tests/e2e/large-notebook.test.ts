// A thousand-cell notebook opens and stays editable: only the selected cell has a live editor.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellsOf, cellSource, createCellMap } from '../../common/notebook/model';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { cellById, createNotebook, editCell, expectNoErrors, launchBrowser, openAs, wsURL, type Person } from './support';
import { scaled } from '../support/timing';

const CELL_COUNT = 1000;
/** generous for a 2-core CI machine; locally it opens in well under two seconds */
// a budget against a regression to minutes, not a speed measurement (that is bench/open)
const OPEN_BUDGET_MS = scaled(30_000);

let browser: Browser;
let writer: YClient;
let ada: Person;
let notebookId: string;

function sourceFor(i: number): string {
  return i % 10 === 0
    ? `## Section ${i / 10}\nNotes for part ${i / 10}.`
    : `# cell ${i}\nvalues_${i} = [x ** 2 for x in range(${i})]\nprint(sum(values_${i}))`;
}

beforeAll(async () => {
  browser = await launchBrowser();
  notebookId = await createNotebook('A thousand cells');
  writer = connectClient(wsURL(), notebookId);
  await writer.synced;
  const cells = cellsOf(writer.doc);
  await waitFor(() => cells.length === 1, { what: 'the server to create the first cell' });
  writer.doc.transact(() => {
    cells.delete(0, cells.length);
    const fresh = [];
    for (let i = 0; i < CELL_COUNT; i++) {
      fresh.push(createCellMap({ cell_type: i % 10 === 0 ? 'markdown' : 'code', source: sourceFor(i) }));
    }
    cells.push(fresh);
  });
  ada = await openAs(browser, 'Ada Lovelace');
});

afterAll(async () => {
  writer?.destroy();
  await browser?.close();
});

describe('a 1000-cell notebook', () => {
  it('opens with every cell and a single editor', async () => {
    const started = Date.now();
    await ada.page.goto(`${new URL(wsURL()).origin.replace(/^ws/, 'http')}/n/${notebookId}`);
    await expect
      .poll(() => ada.page.locator('[data-testid=cell]').count(), { timeout: OPEN_BUDGET_MS, interval: 100 })
      .toBe(CELL_COUNT);
    const openedMs = Date.now() - started;
    const nav = await ada.page.evaluate(() => {
      const [entry] = performance.getEntriesByType('navigation') as PerformanceNavigationTiming[];
      return { domContentLoaded: Math.round(entry.domContentLoadedEventEnd), now: Math.round(performance.now()) };
    });
    console.log(`opened ${CELL_COUNT} cells in ${openedMs} ms (page: DOMContentLoaded at ${nav.domContentLoaded} ms, cells seen by ${nav.now} ms)`);
    expect(openedMs).toBeLessThan(OPEN_BUDGET_MS);
    // the first cell is selected; it is markdown, so it shows rendered and no editor is mounted yet
    await ada.page.locator('[data-testid=cell].is-active [data-testid=markdown-rendered] h2').waitFor();
    expect(await ada.page.locator('.monaco-editor').count()).toBe(0);
    await ada.page.screenshot({ path: '/tmp/e2e-large-top.png' });
  });

  it('edits a cell in the middle and the edit reaches another client', async () => {
    const index = 503;
    const id = cellsOf(writer.doc).get(index).get('id') as string;
    const cell = cellById(ada.page, id);
    await cell.scrollIntoViewIfNeeded();
    const started = Date.now();
    await editCell(ada.page, id);
    console.log(`editor on cell ${index} ready in ${Date.now() - started} ms`);
    expect(await ada.page.locator('.monaco-editor').count()).toBe(1);
    await ada.page.keyboard.press('Control+End');
    await ada.page.keyboard.type('\nprint("edited in the middle")');
    const text = cellSource(cellsOf(writer.doc).get(index));
    await waitFor(() => text.toString().endsWith('print("edited in the middle")'), { what: 'the edit at the writer' });
    expect(text.toString()).toBe(`${sourceFor(index)}\nprint("edited in the middle")`);
    await ada.page.screenshot({ path: '/tmp/e2e-large-middle.png' });
  });

  it('moves through cells with the keyboard without lag', async () => {
    await ada.page.keyboard.press('Escape');
    const started = Date.now();
    for (let i = 0; i < 20; i++) await ada.page.keyboard.press('j');
    const id = cellsOf(writer.doc).get(523).get('id') as string;
    await cellById(ada.page, id).locator('xpath=self::*[contains(@class,"is-active")]').waitFor();
    const perKeyMs = (Date.now() - started) / 20;
    console.log(`selection moves in ${perKeyMs.toFixed(1)} ms per key`);
    expect(perKeyMs).toBeLessThan(250);
    await expectNoErrors(ada);
  });
});
