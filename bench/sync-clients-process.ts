// Yjs clients in a process of their own (y-websocket WebsocketProvider over ws, as in the tests),
// driven by the benchmarks: a typist, a crowd of readers, fresh clients timing their first sync.
// Times are taken on CLOCK_MONOTONIC (monoMs), comparable across processes.
import * as Y from 'yjs';
import { cellSource, cellsOf, findCell, insertCell, type YCell } from '../common/notebook/model';
import { connectClient, waitFor, type YClient } from '../tests/support/yclient';
import { fillCells } from './doc-fixtures';
import { monoMs, sleep } from './stats';
import { serve } from './proc';

let clients: YClient[] = [];
/** per reader: arrival time of the character at each offset of the typed cell */
let arrivals: number[][] = [];
let typedText: Y.Text | null = null;
let lineArrivals: number[] = [];

async function connectMany(wsUrl: string, rooms: string[], timeoutMs = 60_000): Promise<YClient[]> {
  const cs = rooms.map((r) => connectClient(wsUrl, r));
  const timeout = sleep(timeoutMs).then(() => {
    throw new Error(`clients not synced after ${timeoutMs} ms`);
  });
  await Promise.race([Promise.all(cs.map((c) => c.synced)), timeout]);
  return cs;
}

/** The text the typist types into: the source of cell `index` (made when missing). */
async function typedCell(doc: Y.Doc, index: number, mayCreate: boolean): Promise<Y.Text> {
  if (mayCreate) while (cellsOf(doc).length <= index) insertCell(doc, cellsOf(doc).length, { source: '' });
  await waitFor(() => cellsOf(doc).length > index, { what: `cell ${index}`, timeoutMs: 30_000 });
  return cellSource(cellsOf(doc).get(index) as YCell);
}

serve({
  async connect(a: { wsUrl: string; room: string; count: number; role: 'typist' | 'readers'; cellIndex?: number }) {
    const cs = await connectMany(a.wsUrl, Array(a.count).fill(a.room));
    clients.push(...cs);
    if (a.role === 'typist') {
      typedText = await typedCell(cs[0].doc, a.cellIndex ?? 0, true);
    } else {
      for (const c of cs) {
        const text = await typedCell(c.doc, a.cellIndex ?? 0, false);
        const mine: number[] = [];
        arrivals.push(mine);
        let last = text.length;
        text.observe(() => {
          const now = monoMs();
          for (let p = last; p < text.length; p++) mine[p] ??= now;
          last = text.length;
        });
      }
    }
    return cs.length;
  },

  /** Types `keys` characters at the end of the cell, one every `intervalMs`; returns when each left. */
  async type(a: { keys: number; intervalMs: number }) {
    const text = typedText!;
    const start = text.length;
    const sends: number[] = [];
    const t0 = monoMs();
    for (let k = 0; k < a.keys; k++) {
      const due = t0 + k * a.intervalMs;
      const wait = due - monoMs();
      if (wait > 0) await sleep(wait);
      sends.push(monoMs());
      text.insert(text.length, String.fromCharCode(97 + (k % 26)));
    }
    return { start, sends };
  },

  /** Arrival times of the characters at offsets start..start+count-1, one array per reader. */
  async collect(a: { start: number; count: number; settleMs?: number }) {
    await sleep(a.settleMs ?? 500);
    return arrivals.map((mine) => Array.from({ length: a.count }, (_, k) => mine[a.start + k] ?? null));
  },

  /** Writes `cells` cells of `lines` lines into a notebook through a client that stays connected. */
  async seed(a: { wsUrl: string; room: string; cells: number; lines: number }) {
    const [c] = await connectMany(a.wsUrl, [a.room]);
    clients.push(c);
    const before = cellsOf(c.doc).length;
    fillCells(c.doc, a.cells, a.lines);
    // the server has it when a fresh client gets it all
    const [check] = await connectMany(a.wsUrl, [a.room]);
    await waitFor(() => cellsOf(check.doc).length >= before + a.cells, { what: 'seeded cells on the server', timeoutMs: 60_000 });
    check.destroy();
    return cellsOf(c.doc).length;
  },

  /** A fresh client's first sync, `times` times: connect → synced with every cell; ms and bytes. */
  async firstSync(a: { wsUrl: string; room: string; times: number; cells: number }) {
    const out: number[] = [];
    let bytes = 0;
    for (let i = 0; i < a.times; i++) {
      const t0 = performance.now();
      const c = connectClient(a.wsUrl, a.room);
      await Promise.race([c.synced, sleep(60_000).then(() => Promise.reject(new Error('first sync timed out')))]);
      await waitFor(() => cellsOf(c.doc).length >= a.cells, { what: 'all cells', timeoutMs: 60_000 });
      out.push(performance.now() - t0);
      bytes = Y.encodeStateAsUpdate(c.doc).byteLength;
      c.destroy();
      await sleep(50);
    }
    return { ms: out, bytes };
  },

  /** One client on each of `rooms`, kept open; resolves when all are synced. */
  async openMany(a: { wsUrl: string; rooms: string[]; minCells?: number }) {
    const cs = await connectMany(a.wsUrl, a.rooms, 120_000);
    clients.push(...cs);
    if (a.minCells) for (const c of cs) await waitFor(() => cellsOf(c.doc).length >= a.minCells!, { what: 'cells', timeoutMs: 60_000 });
    return cs.length;
  },

  /** Watches a cell's source and notes when each newline (a complete line of code) first shows. */
  async watchLines(a: { wsUrl: string; room: string; cellId: string }) {
    const [c] = await connectMany(a.wsUrl, [a.room]);
    clients.push(c);
    const cell = await waitFor(() => findCell(c.doc, a.cellId), { what: 'the AI cell' });
    lineArrivals = [];
    const onChange = () => {
      const now = monoMs();
      const s = cellSource(cell).toString();
      let n = 0;
      for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) lineArrivals[n++] ??= now;
    };
    c.doc.on('update', onChange);
    return true;
  },
  lines: () => lineArrivals.map((x) => x ?? null),

  async closeAll() {
    for (const c of clients) c.destroy();
    clients = [];
    arrivals = [];
    typedText = null;
    return true;
  },
});
