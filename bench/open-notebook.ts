// (3 of issue 10) Opening a 1000-cell notebook in Chromium: the app against JupyterLab 4.
//  - The notebook: 1000 code cells of 20 lines, every tenth with a real PNG (`image/png`, a small
//    plot of ~20 kB, each different) as a display_data output. Made once per run as `.ipynb`, written
//    into JupyterLab's root and imported into the app through `POST /api/notebooks/import`.
//  - Each run is a fresh browser context (cold cache, no workspace), runs interleaved app/JupyterLab:
//    (a) navigation start → the first cell's source visible (its first line's text on screen);
//    (b) then cell 500 scrolled into view, a click into its source and one key typed at once: click →
//        the character shown in cell 500 (and, for the app, in its live editor); navigation → that
//        point is "interactive";
//    (c) the page's JS heap after that (CDP: a full GC, then Performance.getMetrics JSHeapUsedSize).
//  - App: the production build served by server/http/main.ts (its gateway warmed, as `npm start`).
//    JupyterLab: plain `jupyter lab` from bench/.venv (bench/setup-jupyterlab.mjs), its own kernel
//    started on open as usual, its workspace and sessions cleared between runs.
// Run: npm run bench -- --only open   (or npx tsx bench/open-notebook.ts [runs])
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../tests/support/auth';
import { startAppServer, type AppServer } from '../tests/e2e/server-process';
import { cellCode } from './doc-fixtures';
import { JUPYTERLAB_VERSION, setupJupyterLab } from './setup-jupyterlab.mjs';
import { kb, mb, ms, ratio, sleep, summarize, table, type Summary } from './stats';
import { freePort } from '../tests/support/gateway';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const VIEWPORT = { width: 1280, height: 860 };

export const OPEN_CELLS = 1000;
export const OPEN_LINES = 20;
/** every this many cells one has a PNG output (100 of 1000) */
export const PNG_EVERY = 10;
/** the cell clicked and typed into */
export const TARGET_CELL = 500;
/** typed into cell 500: a character no source of the notebook holds */
const KEY = 'Q';
/** afterwards, a cell both UIs have attached, and its key */
export const EARLY_CELL = 20;
const EARLY_KEY = 'Z';
/** the first line of cell 1, which "the first cells shown" waits for */
const FIRST_LINE = cellCode(0, 1);

// ---------------------------------------------------------------------------------------------
// A tiny PNG encoder: 8-bit RGB, filter 0, zlib from Node.

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0;
    Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

/** A small scatter plot (axes, a few hundred coloured points on a slightly noisy ground), seeded. */
export function plotPng(seed: number, width = 360, height = 240): Buffer {
  let s = (seed * 2654435761 + 1) >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const px = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    // paper with a little grain, as an antialiased plot has: what makes the PNG ~20 kB, not 2
    const g = rand() < 0.3 ? 248 : 252;
    px[i * 3] = g;
    px[i * 3 + 1] = g;
    px[i * 3 + 2] = g;
  }
  const set = (x: number, y: number, r: number, g: number, b: number) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (Math.floor(y) * width + Math.floor(x)) * 3;
    px[i] = r;
    px[i + 1] = g;
    px[i + 2] = b;
  };
  for (let x = 30; x < width - 10; x++) set(x, height - 25, 40, 40, 40);
  for (let y = 10; y < height - 25; y++) set(30, y, 40, 40, 40);
  const colors = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
  ];
  for (let p = 0; p < 300; p++) {
    const x = 35 + rand() * (width - 50);
    const trend = (x - 35) / (width - 50);
    const y = height - 30 - trend * (height - 60) * 0.8 - rand() * 40;
    const [r, g, b] = colors[p % 3];
    for (let dx = -2; dx <= 2; dx++) for (let dy = -2; dy <= 2; dy++) if (dx * dx + dy * dy <= 5) set(x + dx, y + dy, r, g, b);
  }
  return encodePng(width, height, px);
}

/** The benchmark notebook as nbformat 4.5 JSON, and the sizes of its PNGs. */
export function openNotebookIpynb(): { json: string; pngBytes: number[] } {
  const pngBytes: number[] = [];
  const cells = Array.from({ length: OPEN_CELLS }, (_, i) => {
    const hasPng = i % PNG_EVERY === PNG_EVERY - 1;
    let outputs: unknown[] = [];
    if (hasPng) {
      const png = plotPng(i);
      pngBytes.push(png.length);
      outputs = [{ output_type: 'display_data', data: { 'image/png': png.toString('base64'), 'text/plain': ['<Figure size 360x240 with 1 Axes>'] }, metadata: {} }];
    }
    return { id: `cell-${i}`, cell_type: 'code', metadata: {}, execution_count: hasPng ? i + 1 : null, source: cellCode(i, OPEN_LINES), outputs };
  });
  const json = JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3 (ipykernel)', language: 'python' }, language_info: { name: 'python' } },
    cells,
  });
  return { json, pngBytes };
}

// ---------------------------------------------------------------------------------------------
// The two UIs, behind one shape.

export interface Ui {
  name: string;
  /** a fresh context, signed in, on nothing yet */
  newContext(browser: Browser): Promise<BrowserContext>;
  url: string;
  /** CSS selector of every cell element, with its index on `data-bench-index` or in DOM order */
  cells: string;
  /** inside a cell: the element whose text is the cell's source as shown */
  source: string;
  /** inside a cell: the live editor's text (null: `source` already is the live editor) */
  liveEditor: string | null;
  /** the element that scrolls the cells (null: the page) */
  scroller: string | null;
  /** between runs (sessions, workspaces) */
  reset?(): Promise<void>;
  close(): Promise<void>;
}


/** Newest mtime under a directory (to tell a build older than its sources). */
function newest(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

function ensureBuild(log: (s: string) => void): void {
  const entry = path.join(ROOT, 'build', 'server', 'index.js');
  const sources = Math.max(newest(path.join(ROOT, 'app')), newest(path.join(ROOT, 'common')));
  if (fs.existsSync(entry) && fs.statSync(entry).mtimeMs >= sources) return;
  log('  building the UI (npm run build): the build is missing or older than app/');
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error('npm run build failed');
}

export async function startOurs(ipynb: string, log: (s: string) => void): Promise<Ui> {
  ensureBuild(log);
  const server: AppServer = await startAppServer();
  const res = await fetchAsAdmin(`${server.url}/api/notebooks/import?name=open-bench.ipynb`, { method: 'POST', headers: { 'content-type': 'application/x-ipynb+json' }, body: ipynb });
  if (res.status !== 201) throw new Error(`import: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  return {
    name: 'app',
    url: `${server.url}/n/${id}`,
    async newContext(browser) {
      const context = await browser.newContext({ viewport: VIEWPORT });
      // sign in as the admin (the sign-in URL sets a session cookie in this context) before timing anything
      const signIn = await context.request.get(`${server.url}/?token=${encodeURIComponent(TEST_ADMIN_TOKEN)}`);
      if (signIn.status() !== 200) throw new Error(`sign-in: ${signIn.status()}`);
      await context.addInitScript(() => {
        if (window === window.top) window.localStorage.setItem('notebook.user', JSON.stringify({ name: 'Bench' }));
      });
      return context;
    },
    cells: '[data-testid=cell]',
    source: '.cell-input',
    liveEditor: '.monaco-editor .view-lines',
    scroller: null,
    close: () => server.close(),
  };
}

const JL_CELLS = '.jp-NotebookPanel .jp-Notebook .jp-Cell';

export async function startJupyterLab(ipynb: string, log: (s: string) => void): Promise<Ui> {
  const { jupyter } = setupJupyterLab(log) as { jupyter: string };
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ynb-bench-jlab-'));
  const rootDir = path.join(home, 'root');
  const workspaces = path.join(home, 'workspaces');
  fs.mkdirSync(rootDir);
  fs.mkdirSync(workspaces);
  fs.writeFileSync(path.join(rootDir, 'open-bench.ipynb'), ipynb);
  const token = randomBytes(24).toString('hex');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // its own config, data and runtime directories: nothing of this machine's Jupyter settings leaks in
  const env = { ...process.env, JUPYTER_CONFIG_DIR: path.join(home, 'config'), JUPYTER_RUNTIME_DIR: path.join(home, 'runtime'), JUPYTERLAB_WORKSPACES_DIR: workspaces, JUPYTER_PLATFORM_DIRS: '1' };
  const child: ChildProcess = spawn(
    jupyter,
    ['lab', '--no-browser', `--IdentityProvider.token=${token}`, ...(process.getuid?.() === 0 ? ['--allow-root'] : []), '--ServerApp.ip=127.0.0.1', `--port=${port}`, '--ServerApp.port_retries=0', `--ServerApp.root_dir=${rootDir}`, `--LabApp.workspaces_dir=${workspaces}`],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // never outlive the benchmark, whatever way it ends
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const logs: string[] = [];
  child.stdout!.on('data', (d) => logs.push(String(d)));
  child.stderr!.on('data', (d) => logs.push(String(d)));
  const api = (p: string, init: RequestInit = {}) => fetch(`${base}${p}`, { ...init, headers: { authorization: `token ${token}`, ...(init.headers ?? {}) } });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`jupyter lab exited with ${child.exitCode}:\n${logs.join('')}`);
    const ok = await api('/api/status').then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`jupyter lab not ready after 120 s:\n${logs.join('')}`);
    await sleep(200);
  }
  const stopSessions = async () => {
    const sessions = (await api('/api/sessions').then((r) => r.json())) as { id: string }[];
    await Promise.all(sessions.map((s) => api(`/api/sessions/${s.id}`, { method: 'DELETE' })));
  };
  return {
    name: `JupyterLab ${JUPYTERLAB_VERSION}`,
    url: `${base}/lab/tree/open-bench.ipynb`,
    async newContext(browser) {
      const context = await browser.newContext({ viewport: VIEWPORT });
      // signs this context in (Jupyter sets its login cookie on a ?token= request), outside the timing
      const r = await context.request.get(`${base}/lab?token=${token}`);
      if (!r.ok()) throw new Error(`jupyter lab login: ${r.status()}`);
      return context;
    },
    // cells of the notebook panel; a windowed notebook says each one's index
    cells: JL_CELLS,
    source: '.jp-InputArea-editor',
    liveEditor: null,
    scroller: '.jp-NotebookPanel .jp-WindowedPanel-outer',
    async reset() {
      await stopSessions().catch(() => undefined);
      for (const f of fs.readdirSync(workspaces)) fs.rmSync(path.join(workspaces, f), { force: true });
    },
    async close() {
      await stopSessions().catch(() => undefined);
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// One measured open.

/**
 * Brings cell `index` into view, the same way in both UIs: while it is not in the DOM yet (the app
 * renders a big notebook in steps; JupyterLab attaches a few cells at a time), keep scrolling to the
 * end of what is there, as a person would; then scroll it to the middle of the screen.
 */
async function scrollToCell(page: Page, ui: Ui, index: number, timeout: number): Promise<void> {
  await page.waitForFunction(
    ({ index, cells, scroller }) => {
      const w = window as unknown as BenchWindow;
      const cell = w.__benchFind(cells, index);
      if (!cell) {
        // only when not at the end already: scrolling every frame would leave JupyterLab no idle
        // time, which is when it attaches more cells
        const el = scroller ? document.querySelector<HTMLElement>(scroller) : document.scrollingElement;
        if (el && el.scrollTop + el.clientHeight < el.scrollHeight - 2) el.scrollTop = el.scrollHeight;
        return false;
      }
      if (w.__benchTops === undefined) {
        cell.scrollIntoView({ block: 'center' });
        w.__benchTops = [];
      }
      // then wait until it stays put for five frames (cells and images around it may still grow as they render)
      const tops = w.__benchTops;
      tops.push(Math.round(cell.getBoundingClientRect().top));
      return tops.length >= 5 && tops.slice(-5).every((t) => t === tops[tops.length - 1]);
    },
    { index, cells: ui.cells, scroller: ui.scroller },
    { polling: 'raf', timeout },
  );
}

export interface OpenRun {
  /** navigation start → cell 1's first line on screen */
  firstCellsMs: number;
  /** click on cell 500 → the typed character shown in cell 500 */
  clickToKeyMs: number;
  /** click on cell 500 → the typed character in cell 500's live editor (JupyterLab: the same) */
  clickToEditorMs: number;
  /** navigation start → the typed character shown in cell 500 */
  interactiveMs: number;
  /** cell 500 could not be reached, clicked and typed into within the run's time limit */
  isTimedOut: boolean;
  /** afterwards: click on cell 20 (the 21st, as cell 500 is the 501st) → a key typed there shown */
  earlyClickToKeyMs: number;
  /** JS heap used after a full GC, once interactive (or at the time limit) */
  heapBytes: number;
  domNodes: number;
}

type BenchWindow = Window & { __benchFind(cells: string, index: number): HTMLElement | null; __benchClick?: number; __benchAim?: { cells: string; index: number }; __benchOnTarget?: boolean; __benchTops?: number[]; __benchShown?: number; __benchLive?: number };

const isTimeout = (err: unknown) => (err as Error)?.name === 'TimeoutError';

/** Scrolls to cell `index`, clicks into its source and types `key` at once; page times of the click and of the key shown. */
async function clickAndType(page: Page, ui: Ui, index: number, key: string, left: () => number): Promise<{ shown: number; live: number; click: number }> {
  await page.evaluate(() => {
    const w = window as unknown as BenchWindow;
    w.__benchShown = undefined;
    w.__benchLive = undefined;
  });
  // a click that lands elsewhere because the page moved under it is tried again, as a person would
  for (let attempt = 1; ; attempt++) {
    await page.evaluate(() => ((window as unknown as BenchWindow).__benchTops = undefined));
    await scrollToCell(page, ui, index, left());
    const box = await page.evaluate(
      ({ cells, source, index }) => {
        const w = window as unknown as BenchWindow;
        const el = w.__benchFind(cells, index)?.querySelector<HTMLElement>(source);
        if (!el) return null;
        w.__benchAim = { cells, index };
        w.__benchOnTarget = false;
        el.scrollIntoView({ block: 'nearest' });
        const r = el.getBoundingClientRect();
        // on the third line of the source, a little into it: in the text, as a person clicks
        return { x: r.left + Math.min(120, r.width / 2), y: r.top + Math.min(r.height / 2, 50) };
      },
      { cells: ui.cells, source: ui.source, index },
    );
    if (!box) throw new Error(`${ui.name}: cell ${index} not found`);
    await page.mouse.click(box.x, box.y);
    if (await page.evaluate(() => (window as unknown as BenchWindow).__benchOnTarget === true)) break;
    if (attempt === 3) throw new Error(`${ui.name}: three clicks landed outside cell ${index} (the page kept moving under them)`);
  }
  await page.keyboard.press(key);
  return (await (
    await page.waitForFunction(
      ({ cells, source, live, index, key }) => {
        const w = window as unknown as BenchWindow;
        const cell = w.__benchFind(cells, index);
        const now = performance.now();
        if (cell && w.__benchShown === undefined && (cell.querySelector(source)?.textContent ?? '').includes(key)) w.__benchShown = now;
        if (cell && w.__benchLive === undefined && (cell.querySelector(live ?? source)?.textContent ?? '').includes(key)) w.__benchLive = now;
        return w.__benchShown !== undefined && w.__benchLive !== undefined ? { shown: w.__benchShown, live: w.__benchLive, click: w.__benchClick! } : false;
      },
      { cells: ui.cells, source: ui.source, live: ui.liveEditor, index, key },
      { polling: 'raf', timeout: left() },
    )
  ).jsonValue()) as { shown: number; live: number; click: number };
}

/** Opens the notebook in a fresh context and measures (a), (b), (c); (b) gives up after `limitMs` from navigation. */
export async function openOnce(browser: Browser, ui: Ui, limitMs: number): Promise<OpenRun> {
  await ui.reset?.();
  const context = await ui.newContext(browser);
  try {
    await context.addInitScript(() => {
      const w = window as unknown as BenchWindow;
      // cell `index`: by data-windowed-list-index when the list is windowed, else in DOM order
      w.__benchFind = (cells, index) => {
        const all = Array.from(document.querySelectorAll<HTMLElement>(cells));
        return all.find((c) => c.dataset.windowedListIndex === String(index)) ?? (all.some((c) => c.dataset.windowedListIndex) ? null : (all[index] ?? null));
      };
      // the click's own time, on the page's clock (performance.now(): 0 is the navigation start)
      window.addEventListener(
        'mousedown',
        (e) => {
          w.__benchClick = e.timeStamp;
          // did the click land in the cell it aimed at (cells near it may still move as they render)
          if (w.__benchAim) w.__benchOnTarget = Boolean(w.__benchFind(w.__benchAim.cells, w.__benchAim.index)?.contains(e.target as Node));
        },
        { capture: true },
      );
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const started = Date.now();
    const left = () => Math.max(1000, limitMs - (Date.now() - started));
    await page.goto(ui.url, { waitUntil: 'commit' });
    // (a) cell 1's first line, on screen
    const firstCellsMs = (await (
      await page.waitForFunction(
        ({ cells, source, text }) => {
          const cell = (window as unknown as BenchWindow).__benchFind(cells, 0);
          const el = cell?.querySelector<HTMLElement>(source);
          if (!el || !(el.textContent ?? '').replace(/\u00a0/g, ' ').includes(text)) return false;
          const r = el.getBoundingClientRect();
          if (r.width === 0 || r.height === 0 || r.bottom < 0 || r.top > innerHeight) return false;
          if (el.checkVisibility && !el.checkVisibility({ visibilityProperty: true } as CheckVisibilityOptions)) return false;
          return performance.now();
        },
        { cells: ui.cells, source: ui.source, text: FIRST_LINE },
        { polling: 'raf', timeout: left() },
      )
    ).jsonValue()) as number;

    // (b) cell 500: into view, a click in its source, one key at once
    let shown = { shown: NaN, live: NaN, click: NaN };
    let isTimedOut = false;
    try {
      shown = await clickAndType(page, ui, TARGET_CELL, KEY, left);
    } catch (err) {
      if (!isTimeout(err)) throw err;
      isTimedOut = true;
    }

    // (c) heap once interactive, after a full collection
    const cdp = await context.newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    await cdp.send('Performance.enable');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const heapBytes = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN;
    const domNodes = await page.evaluate(() => document.getElementsByTagName('*').length);
    // then the same on cell EARLY_CELL, which both UIs have attached by now: the latency of a click
    // and a key once the page has settled, comparable even when JupyterLab never reached cell 500
    const early = await clickAndType(page, ui, EARLY_CELL, EARLY_KEY, () => 15_000).catch((err) => {
      if (!isTimeout(err)) throw err;
      return { shown: NaN, live: NaN, click: NaN };
    });
    if (errors.length) throw new Error(`${ui.name}: page errors: ${errors.join('; ')}`);
    return {
      firstCellsMs,
      clickToKeyMs: shown.shown - shown.click,
      clickToEditorMs: shown.live - shown.click,
      interactiveMs: shown.shown,
      isTimedOut,
      earlyClickToKeyMs: early.shown - early.click,
      heapBytes,
      domNodes,
    };
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------------------------------------

export interface OpenSide {
  name: string;
  runs: OpenRun[];
  firstCells: Summary;
  clickToKey: Summary;
  clickToEditor: Summary;
  interactive: Summary;
  earlyClickToKey: Summary;
  heap: Summary;
  domNodes: Summary;
  timedOut: number;
}
export interface OpenResult {
  app: OpenSide;
  lab: OpenSide;
  limitMs: number;
  ipynbBytes: number;
  pngBytes: Summary;
  jupyterlab: string;
}

function side(name: string, runs: OpenRun[]): OpenSide {
  return {
    name,
    runs,
    firstCells: summarize(runs.map((r) => r.firstCellsMs)),
    clickToKey: summarize(runs.map((r) => r.clickToKeyMs)),
    clickToEditor: summarize(runs.map((r) => r.clickToEditorMs)),
    // a run that timed out counts as slower than every other one
    interactive: summarize(runs.map((r) => (r.isTimedOut ? Number.MAX_VALUE : r.interactiveMs))),
    earlyClickToKey: summarize(runs.map((r) => r.earlyClickToKeyMs)),
    heap: summarize(runs.map((r) => r.heapBytes)),
    domNodes: summarize(runs.map((r) => r.domNodes)),
    timedOut: runs.filter((r) => r.isTimedOut).length,
  };
}

export interface OpenOptions {
  /** measured opens of each UI (interleaved) */
  runs: number;
  /** an unmeasured open of each first */
  warmUp?: boolean;
  /** a run gives up on cell 500 this long after its navigation started */
  limitMs?: number;
  only?: 'app' | 'lab';
}

export const OPEN_FULL: OpenOptions = { runs: 5, warmUp: true, limitMs: 60_000 };
export const OPEN_QUICK: OpenOptions = { runs: 1, warmUp: false, limitMs: 8_000 };

export async function benchOpenNotebook(opts: OpenOptions, log: (s: string) => void = () => undefined): Promise<OpenResult> {
  const limitMs = opts.limitMs ?? 120_000;
  const { json, pngBytes } = openNotebookIpynb();
  log(`  notebook: ${OPEN_CELLS} cells × ${OPEN_LINES} lines, ${pngBytes.length} PNGs (median ${kb(summarize(pngBytes).median)}), ${mb(json.length)} of .ipynb`);
  let ours: Ui | null = null;
  let lab: Ui | null = null;
  let browser: Browser | null = null;
  try {
    const [a, b] = await Promise.allSettled([opts.only === 'lab' ? null : startOurs(json, log), opts.only === 'app' ? null : startJupyterLab(json, log)]);
    ours = a.status === 'fulfilled' ? a.value : null;
    lab = b.status === 'fulfilled' ? b.value : null;
    if (a.status === 'rejected') throw a.reason;
    if (b.status === 'rejected') throw b.reason;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    // an unmeasured open each: the servers' first requests (Remix, Jupyter's templates) are warm for every run
    if (opts.warmUp) for (const ui of [ours, lab]) if (ui) await openOnce(browser, ui, limitMs).catch((e) => log(`  warm-up ${ui.name}: ${(e as Error).message}`));
    const runs: { app: OpenRun[]; lab: OpenRun[] } = { app: [], lab: [] };
    for (let i = 0; i < opts.runs; i++) {
      const order = i % 2 === 0 ? ([['app', ours], ['lab', lab]] as const) : ([['lab', lab], ['app', ours]] as const);
      for (const [key, ui] of order) {
        if (!ui) continue;
        const r = await openOnce(browser, ui, limitMs);
        runs[key].push(r);
        log(
          `  run ${i + 1} ${ui.name}: first cells ${ms(r.firstCellsMs, 0)}, ` +
            (r.isTimedOut ? `cell ${TARGET_CELL} not typed into within ${limitMs / 1000} s` : `click → key ${ms(r.clickToKeyMs, 0)} (live editor ${ms(r.clickToEditorMs, 0)}), interactive ${ms(r.interactiveMs, 0)}`) +
            `, heap ${mb(r.heapBytes)}, ${r.domNodes} elements; then cell ${EARLY_CELL}: click → key ${ms(r.earlyClickToKeyMs, 0)}`,
        );
      }
    }
    return {
      app: side('app', runs.app),
      lab: side(lab?.name ?? 'JupyterLab', runs.lab),
      limitMs,
      ipynbBytes: json.length,
      pngBytes: summarize(pngBytes),
      jupyterlab: JUPYTERLAB_VERSION,
    };
  } finally {
    await browser?.close();
    await Promise.all([ours?.close(), lab?.close()]);
  }
}

export function openNotebookTable(r: OpenResult): string {
  const limit = `> ${(r.limitMs / 1000).toFixed(0)} s`;
  const t = (n: number) => (n === Number.MAX_VALUE ? limit : ms(n, 0));
  const rat = (a: number, b: number) => (a === Number.MAX_VALUE || b === Number.MAX_VALUE ? (a === b ? '–' : b === Number.MAX_VALUE ? `< ${ratio(a, r.limitMs)}` : `> ${ratio(r.limitMs, b)}`) : ratio(a, b));
  const row = (label: string, a: Summary, b: Summary, fmt: (n: number) => string) => [label, a.n, fmt(a.median), fmt(a.p95), fmt(b.median), fmt(b.p95), rat(a.median, b.median), rat(a.p95, b.p95)];
  const timedOut = (s: OpenSide) => (s.timedOut ? ` (${s.timedOut} of ${s.runs.length} runs did not get there within ${r.limitMs / 1000} s)` : '');
  const head = table(
    ['measure', 'runs', 'app median', 'app p95', `JupyterLab ${r.jupyterlab} median`, 'JupyterLab p95', 'ratio median', 'ratio p95'],
    [
      row('navigation → cell 1 shown', r.app.firstCells, r.lab.firstCells, t),
      row('click on cell 500 → typed key shown', r.app.clickToKey, r.lab.clickToKey, t),
      row('click on cell 500 → key in the live editor', r.app.clickToEditor, r.lab.clickToEditor, t),
      row('navigation → key shown in cell 500 (interactive)', r.app.interactive, r.lab.interactive, t),
      row(`then: click on cell ${EARLY_CELL} → typed key shown`, r.app.earlyClickToKey, r.lab.earlyClickToKey, t),
      row('JS heap once interactive (after GC)', r.app.heap, r.lab.heap, mb),
      row('DOM elements once interactive', r.app.domNodes, r.lab.domNodes, (n) => (Number.isFinite(n) ? String(Math.round(n)) : '–')),
    ],
  );
  const notes = [timedOut(r.app) && `App${timedOut(r.app)}.`, timedOut(r.lab) && `JupyterLab${timedOut(r.lab)}.`].filter(Boolean).join(' ');
  return `${head}\n\nNotebook: ${OPEN_CELLS} code cells × ${OPEN_LINES} lines, ${OPEN_CELLS / PNG_EVERY} with a PNG output (median ${kb(r.pngBytes.median)} each), ${mb(r.ipynbBytes)} as \`.ipynb\`.${notes ? ` ${notes}` : ''} Target: the app faster on each, interactive under 1500 ms.`;
}

if (process.argv[1]?.endsWith('open-notebook.ts')) {
  const only = process.argv.includes('--app') ? 'app' : process.argv.includes('--lab') ? 'lab' : undefined;
  const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 3);
  console.log(openNotebookTable(await benchOpenNotebook({ ...OPEN_FULL, runs, warmUp: !process.argv.includes('--no-warm-up'), only }, console.log)));
  process.exit(0);
}
