// A hostile viewer on the sync socket, against the real server in a process of its own (default
// settings) whose resident memory is read from /proc: a client that never reads what it asks for,
// presence floods, spoofed presence and message floods are closed or refused with named codes and
// leave the server's memory flat, while people typing, pasting and adding cells are never closed.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import WebSocket from 'ws';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { Awareness, applyAwarenessUpdate } from 'y-protocols/awareness';
import { cellsOf, cellSource, insertCell } from '../../common/notebook/model';
import { CloseCode } from '../../server/sync/close-codes';
import {
  MAX_AWARENESS_BYTES_PER_DOC,
  MAX_AWARENESS_CLIENTS_PER_CONNECTION,
  MAX_AWARENESS_STATE_BYTES,
  MAX_AWARENESS_STATES_PER_DOC,
  MAX_MESSAGE_BURST,
  MAX_PRESENCE_BYTE_BURST,
} from '../../server/sync/limits';
import { fetchAsAdmin } from '../support/auth';
import { createNotebook, tempDir } from '../support/server';
import { UI_MS, scaled } from '../support/timing';
import { connectClient, waitFor, type YClient } from '../support/yclient';

/** The bound: a hostile socket may not grow the server by this much. */
const MAX_RSS_GROWTH_MB = 100;
/** Size of the notebook the slow reader asks for again and again. */
const NOTEBOOK_MB = 8;

interface ServerProcess {
  url: string;
  wsUrl: string;
  proc: ChildProcess;
  /** what the process printed so far (its log) */
  output(): string;
}

let server: ServerProcess;
const clients: YClient[] = [];
const sockets: RawSocket[] = [];
const timers: NodeJS.Timeout[] = [];

beforeAll(async () => {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.resolve('tests/support/sync-server-process.ts')], {
    env: { ...process.env, DATA_DIR: tempDir(), PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  server = await new Promise<ServerProcess>((resolve, reject) => {
    proc.stderr!.on('data', (d) => (out += d));
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ url: m[1], wsUrl: m[1].replace(/^http/, 'ws') + '/sync', proc, output: () => out });
    });
    proc.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
});

afterAll(async () => {
  for (const t of timers) clearInterval(t);
  for (const c of clients) c.destroy();
  for (const s of sockets) {
    s.ws.terminate();
    s.presence.destroy();
  }
  server?.proc.kill('SIGKILL');
});

/** Resident memory of the server process, in MB (VmRSS of /proc/<pid>/status). */
function rssMb(): number {
  const status = fs.readFileSync(`/proc/${server.proc.pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`the server process is gone: ${server.output().slice(-2000)}`);
  return Number(m[1]) / 1024;
}

/** Samples the server's RSS every 20 ms until stopped; the highest value seen, in MB. */
function watchRss(): { stop(): number } {
  let peak = rssMb();
  const timer = setInterval(() => (peak = Math.max(peak, rssMb())), 20);
  timers.push(timer);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssMb());
    },
  };
}

async function viewerToken(id: string): Promise<string> {
  const res = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/links`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ role: 'viewer' }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { token: string }).token;
}

interface RawSocket {
  ws: WebSocket;
  /** resolves with the close code the client received */
  closed: Promise<number>;
  /** the presences this socket was told about, applied as a y-protocols client would */
  presence: Awareness;
  /** sync step 2 answers received */
  answers: number;
}

/** A raw `ws` client on a notebook: what an attacker writes instead of y-websocket. */
async function rawSocket(id: string, token: string): Promise<RawSocket> {
  const ws = new WebSocket(`${server.wsUrl}/${id}?token=${token}`);
  const presence = new Awareness(new Y.Doc());
  presence.setLocalState(null);
  const s: RawSocket = { ws, closed: new Promise<number>((resolve) => ws.on('close', (code) => resolve(code))), presence, answers: 0 };
  sockets.push(s);
  ws.on('error', () => undefined);
  ws.on('message', (data: Buffer) => {
    const d = decoding.createDecoder(new Uint8Array(data));
    const type = decoding.readVarUint(d);
    if (type === 1) applyAwarenessUpdate(presence, decoding.readVarUint8Array(d), 'server');
    else if (type === 0 && decoding.readVarUint(d) === 1) s.answers++;
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('close', (code) => reject(new Error(`closed before opening: ${code}`)));
  });
  return s;
}

const syncStep1 = (sv: Uint8Array) => {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 0);
  encoding.writeVarUint(enc, 0);
  encoding.writeVarUint8Array(enc, sv);
  return encoding.toUint8Array(enc);
};

function awarenessMessage(entries: Array<{ clientId: number; clock: number; state: unknown }>): Uint8Array {
  const inner = encoding.createEncoder();
  encoding.writeVarUint(inner, entries.length);
  for (const e of entries) {
    encoding.writeVarUint(inner, e.clientId);
    encoding.writeVarUint(inner, e.clock);
    encoding.writeVarString(inner, JSON.stringify(e.state));
  }
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 1);
  encoding.writeVarUint8Array(enc, encoding.toUint8Array(inner));
  return encoding.toUint8Array(enc);
}

const QUERY_AWARENESS = new Uint8Array([3]);

/**
 * The server's presence states as one socket sees them: it asks for all of them (query awareness)
 * and then for the document (sync step 1), whose answer comes after the first reply. A socket's
 * messages are handled in order, so what it sent before has been handled.
 */
async function queryAwareness(s: RawSocket): Promise<Map<number, { [k: string]: unknown }>> {
  const seen = s.answers;
  s.ws.send(QUERY_AWARENESS);
  s.ws.send(syncStep1(new Uint8Array([0])));
  await waitFor(() => s.answers > seen, { what: 'the answers', timeoutMs: UI_MS });
  return s.presence.getStates();
}
const json = (state: unknown) => JSON.stringify(state);

/** A notebook of about `mb` MB of code, written by a client and on the server when this returns. */
async function bigNotebook(mb: number): Promise<string> {
  const id = await createNotebook(server.url, 'Big');
  const writer = connectClient(server.wsUrl, id);
  clients.push(writer);
  await writer.synced;
  const cellCount = mb * 64;
  const line = 'x = "' + 'abcdefghijklmnop'.repeat(6) + '"\n';
  const source = line.repeat(Math.ceil(16 * 1024 / line.length));
  for (let i = 0; i < cellCount; i += 16) {
    writer.doc.transact(() => {
      for (let k = i; k < i + 16; k++) insertCell(writer.doc, cellsOf(writer.doc).length, { source: `# ${k}\n${source}` });
    });
  }
  const check = connectClient(server.wsUrl, id);
  clients.push(check);
  await waitFor(() => cellsOf(check.doc).length > cellCount, { what: 'the big notebook on the server', timeoutMs: UI_MS });
  check.destroy();
  return id;
}

/** Counts the server's log lines that say a connection was closed with `code`. */
const closedWith = (code: number) => server.output().split(`closing a connection (${code})`).length - 1;

describe('a viewer that does not read', () => {
  it('asking for a big notebook again and again is answered once and closed with SLOW_CONSUMER; memory stays flat', async () => {
    const id = await bigNotebook(NOTEBOOK_MB);
    const token = await viewerToken(id);
    const before = rssMb();
    const rss = watchRss();
    const logsBefore = closedWith(CloseCode.SLOW_CONSUMER);
    const s = await rawSocket(id, token);
    s.ws.pause();
    const fromScratch = syncStep1(Y.encodeStateVector(new Y.Doc()));
    for (let i = 0; i < 100; i++) s.ws.send(fromScratch);
    await waitFor(() => closedWith(CloseCode.SLOW_CONSUMER) > logsBefore, { what: 'the server to close the slow reader', timeoutMs: UI_MS });
    const peak = rss.stop();
    console.info(`sync step 1 flood on a ${NOTEBOOK_MB} MB notebook: server RSS ${before.toFixed(0)} MB -> peak ${peak.toFixed(0)} MB`);
    expect(peak - before).toBeLessThan(MAX_RSS_GROWTH_MB);
    // once it reads, it gets what was queued, then the close frame with the named code
    s.ws.resume();
    expect(await s.closed).toBe(CloseCode.SLOW_CONSUMER);
  });

  it('while others work, it is closed with SLOW_CONSUMER once its send buffer is full; the others go on', async () => {
    const id = await createNotebook(server.url, 'Busy');
    const token = await viewerToken(id);
    const editor = connectClient(server.wsUrl, id);
    const reader = connectClient(server.wsUrl, id, { token });
    clients.push(editor, reader);
    await Promise.all([editor.synced, reader.synced]);
    let othersClosed = 0;
    for (const c of [editor, reader]) c.provider.on('connection-close', () => othersClosed++);
    const before = rssMb();
    const rss = watchRss();
    const logsBefore = closedWith(CloseCode.SLOW_CONSUMER);
    const s = await rawSocket(id, token);
    s.ws.pause();
    // the editor pastes 1 MiB and takes it back, again and again: each paste reaches every
    // connection, and the document stays small, so what the server holds is what it queues
    const text = cellSource(cellsOf(editor.doc).get(0));
    const chunk = 'y'.repeat(1024 * 1024);
    let pasted = 0;
    for (; pasted < 64 && closedWith(CloseCode.SLOW_CONSUMER) === logsBefore; pasted++) {
      text.insert(0, chunk);
      text.delete(0, chunk.length);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => closedWith(CloseCode.SLOW_CONSUMER) > logsBefore, { what: 'the server to close the slow reader', timeoutMs: UI_MS });
    const peak = rss.stop();
    console.info(`slow reader while ${pasted} MiB were pasted and taken back: server RSS ${before.toFixed(0)} MB -> peak ${peak.toFixed(0)} MB`);
    expect(peak - before).toBeLessThan(MAX_RSS_GROWTH_MB);
    s.ws.resume();
    expect(await s.closed).toBe(CloseCode.SLOW_CONSUMER);
    // the others were never dropped, and the reader that reads has the editor's last word
    text.insert(0, 'the end');
    await waitFor(() => cellSource(cellsOf(reader.doc).get(0)).toString() === text.toString(), { what: "the editor's text at the reader", timeoutMs: UI_MS });
    expect(othersClosed).toBe(0);
    expect(editor.provider.wsconnected && reader.provider.wsconnected).toBe(true);
  });
});

describe('presence (awareness)', () => {
  it('a flood of presences is bounded per connection and per notebook and closed with LIMIT_EXCEEDED; memory stays flat', async () => {
    const id = await createNotebook(server.url, 'Presence flood');
    const token = await viewerToken(id);
    const alice = connectClient(server.wsUrl, id);
    clients.push(alice);
    await alice.synced;
    // y-websocket sends back every presence change it applies, the flood's included: echoes of
    // others' ids are dropped, never counted against Alice's own bound
    const aliceCloses: number[] = [];
    alice.provider.on('connection-close', (e: CloseEvent | null) => aliceCloses.push(e?.code ?? 0));
    alice.provider.awareness.setLocalState({ user: { name: 'Alice', color: '#cc3333' } });
    const observer = await rawSocket(id, token);
    const hasAlice = (states: Map<number, unknown>) => [...states.values()].some((state) => json(state).includes('Alice'));
    for (const deadline = Date.now() + UI_MS; !hasAlice(await queryAwareness(observer)); ) {
      if (Date.now() > deadline) throw new Error("timed out waiting for Alice's presence at the server");
      await new Promise((r) => setTimeout(r, 20));
    }
    const before = rssMb();
    const rss = watchRss();
    const pad = (n: number) => 'p'.repeat(n);
    const justUnder = MAX_AWARENESS_STATE_BYTES - 200;

    // one state over the per-state bound closes at once
    const big = await rawSocket(id, token);
    big.ws.send(awarenessMessage([{ clientId: 7_000_000, clock: 1, state: { user: { name: pad(MAX_AWARENESS_STATE_BYTES) } } }]));
    expect(await big.closed).toBe(CloseCode.LIMIT_EXCEEDED);

    // sockets that each hold as many presences as they may, as big as they may: the notebook keeps
    // at most its bound, and Alice's presence, there before, stays
    const holders = await Promise.all(Array.from({ length: 40 }, () => rawSocket(id, token)));
    let nextId = 8_000_000;
    for (const h of holders) {
      for (let k = 0; k < MAX_AWARENESS_CLIENTS_PER_CONNECTION; k++) h.ws.send(awarenessMessage([{ clientId: nextId++, clock: 1, state: { user: { name: pad(justUnder) } } }]));
    }
    await Promise.all(holders.map((h) => queryAwareness(h)));
    const held = await queryAwareness(observer);
    const heldBytes = [...held.values()].reduce((n, state) => n + Buffer.byteLength(json(state)), 0);
    expect(held.size).toBeLessThanOrEqual(MAX_AWARENESS_STATES_PER_DOC);
    expect(heldBytes).toBeLessThanOrEqual(MAX_AWARENESS_BYTES_PER_DOC);
    expect(hasAlice(held)).toBe(true);
    for (const h of holders) expect(h.ws.readyState).toBe(WebSocket.OPEN);

    // sockets that keep introducing new ids are closed at the first one past the bound
    const flooders = await Promise.all(Array.from({ length: 40 }, () => rawSocket(id, token)));
    for (const f of flooders) {
      for (let k = 0; k < 250; k++) f.ws.send(awarenessMessage([{ clientId: nextId++, clock: 1, state: { user: { name: pad(justUnder) } } }]));
    }
    const codes = await Promise.all(flooders.map((f) => f.closed));
    expect(codes).toEqual(flooders.map(() => CloseCode.LIMIT_EXCEEDED));
    const after = await queryAwareness(observer);
    const peak = rss.stop();
    console.info(`presence flood (${nextId - 8_000_000} ids of ${justUnder} bytes): server RSS ${before.toFixed(0)} MB -> peak ${peak.toFixed(0)} MB`);
    expect(peak - before).toBeLessThan(MAX_RSS_GROWTH_MB);
    expect(after.size).toBeLessThanOrEqual(MAX_AWARENESS_STATES_PER_DOC);
    for (const h of holders) h.ws.close();
    // the flood came and went past Alice, who stays connected and present
    expect(hasAlice(await queryAwareness(observer))).toBe(true);
    expect(aliceCloses).toEqual([]);
    expect(alice.provider.wsconnected).toBe(true);
  });

  it('a connection that changes its presence faster than the budget is closed with LIMIT_EXCEEDED', async () => {
    const id = await createNotebook(server.url, 'Presence rate');
    const s = await rawSocket(id, await viewerToken(id));
    const state = { user: { name: 'p'.repeat(MAX_AWARENESS_STATE_BYTES - 200) } };
    // one id, its own, a new 16 KiB state each time: 4 MiB at once, over the burst
    for (let clock = 1; clock <= (4 * MAX_PRESENCE_BYTE_BURST) / MAX_AWARENESS_STATE_BYTES; clock++) s.ws.send(awarenessMessage([{ clientId: 9_200_000, clock, state }]));
    expect(await s.closed).toBe(CloseCode.LIMIT_EXCEEDED);
  });

  it("a viewer cannot overwrite or remove another person's presence", async () => {
    const id = await createNotebook(server.url, 'Spoof');
    const token = await viewerToken(id);
    const alice = connectClient(server.wsUrl, id);
    const carol = connectClient(server.wsUrl, id, { token });
    clients.push(alice, carol);
    await Promise.all([alice.synced, carol.synced]);
    const aliceId = alice.provider.awareness.clientID;
    alice.provider.awareness.setLocalState({ user: { name: 'Alice', color: '#cc3333' }, cellId: 'first' });
    const aliceAtCarol = () => carol.provider.awareness.getStates().get(aliceId) as { user?: { name?: string }; cellId?: string } | undefined;
    await waitFor(() => aliceAtCarol()?.user?.name === 'Alice', { what: "Alice's presence at Carol" });

    const mallory = await rawSocket(id, token);
    const clock = alice.provider.awareness.meta.get(aliceId)!.clock;
    mallory.ws.send(awarenessMessage([{ clientId: aliceId, clock: clock + 10, state: { user: { name: 'Mallory', color: '#000000' }, cellId: 'phish' } }]));
    mallory.ws.send(awarenessMessage([{ clientId: aliceId, clock: clock + 20, state: null }]));
    // the server's copy: what every newcomer gets
    const seen = await queryAwareness(mallory);
    expect(seen.get(aliceId)).toMatchObject({ user: { name: 'Alice' }, cellId: 'first' });

    // Alice moves on; Carol sees her own next state (a spoofed, higher clock would have hidden it)
    alice.provider.awareness.setLocalStateField('cellId', 'second');
    await waitFor(() => aliceAtCarol()?.cellId === 'second', { what: "Alice's next presence at Carol" });
    expect(aliceAtCarol()?.user?.name).toBe('Alice');
    // dropped, not closed: a reconnecting client may race its old connection for its own id
    expect(mallory.ws.readyState).toBe(WebSocket.OPEN);
    mallory.ws.close();
  });

  it('people who left do not come back through late echoes of their presence, and the echoing client is not charged for them', async () => {
    const id = await createNotebook(server.url, 'Echo');
    const token = await viewerToken(id);
    const observer = await rawSocket(id, token);
    const people = Array.from({ length: 2 * MAX_AWARENESS_CLIENTS_PER_CONNECTION }, (_, i) => ({ clientId: 9_100_000 + i, clock: 3, state: { user: { name: `left-${i}` } } }));
    const sockets = await Promise.all(people.map(() => rawSocket(id, token)));
    people.forEach((p, i) => sockets[i].ws.send(awarenessMessage([p])));
    await Promise.all(sockets.map((s) => queryAwareness(s)));
    let seen = await queryAwareness(observer);
    expect(people.filter((p) => seen.has(p.clientId))).toHaveLength(people.length);
    for (const s of sockets) s.ws.close();
    await Promise.all(sockets.map((s) => s.closed));
    for (const deadline = Date.now() + UI_MS; ; await new Promise((r) => setTimeout(r, 20))) {
      seen = await queryAwareness(observer);
      if (!people.some((p) => seen.has(p.clientId))) break;
      if (Date.now() > deadline) throw new Error('timed out waiting for the people who left to disappear');
    }
    // what a y-websocket client sends back when it applies someone's presence just as they leave
    const echoer = await rawSocket(id, token);
    for (const p of people) echoer.ws.send(awarenessMessage([p]));
    seen = await queryAwareness(echoer);
    expect(people.filter((p) => seen.has(p.clientId))).toEqual([]);
    expect(echoer.ws.readyState).toBe(WebSocket.OPEN);
    echoer.ws.close();
  });
});

describe('message rate', () => {
  it('a burst past the bucket is closed with LIMIT_EXCEEDED', async () => {
    const id = await createNotebook(server.url, 'Rate');
    const s = await rawSocket(id, await viewerToken(id));
    // permission messages (type 2) are ignored by the server: only the rate limit can stop these
    const auth = new Uint8Array([2, 0]);
    for (let i = 0; i < MAX_MESSAGE_BURST * 2; i++) s.ws.send(auth);
    expect(await s.closed).toBe(CloseCode.LIMIT_EXCEEDED);
  });

  it('people typing fast, pasting big and adding a thousand cells are never closed', async () => {
    const id = await createNotebook(server.url, 'Busy people');
    const alice = connectClient(server.wsUrl, id);
    const bob = connectClient(server.wsUrl, id);
    clients.push(alice, bob);
    await Promise.all([alice.synced, bob.synced]);
    const refusalsBefore = closedWith(CloseCode.LIMIT_EXCEEDED) + closedWith(CloseCode.SLOW_CONSUMER);
    const closes: number[] = [];
    for (const c of [alice, bob]) c.provider.on('connection-close', (e: CloseEvent | null) => closes.push(e?.code ?? 0));
    alice.provider.awareness.setLocalState({ user: { name: 'Alice', color: '#cc3333' } });
    const text = cellSource(cellsOf(alice.doc).get(0));

    // a held key and a fast typist: one edit and one cursor move per key, 1500 keys as fast as
    // the script runs, in bursts of 30 (a key repeat's second)
    for (let k = 0; k < 1500; k++) {
      text.insert(text.length, String.fromCharCode(97 + (k % 26)));
      alice.provider.awareness.setLocalStateField('cursor', text.length);
      if (k % 30 === 29) await new Promise((r) => setTimeout(r, 5));
    }
    // a big paste (a 15 MiB file)
    text.insert(text.length, `\n${'0'.repeat(15 * 1024 * 1024)}`);
    // a thousand cells, one transaction each (a script or an agent adding them one by one)
    for (let i = 0; i < 1000; i++) insertCell(bob.doc, cellsOf(bob.doc).length, { source: `print(${i})` });

    const bobText = () => cellSource(cellsOf(bob.doc).get(0)).length;
    await waitFor(() => bobText() === text.length && cellsOf(alice.doc).length === 1001, { what: 'both to converge', timeoutMs: scaled(60_000) });
    expect(closes).toEqual([]);
    expect(alice.provider.wsconnected && bob.provider.wsconnected).toBe(true);
    expect(closedWith(CloseCode.LIMIT_EXCEEDED) + closedWith(CloseCode.SLOW_CONSUMER)).toBe(refusalsBefore);
  }, scaled(120_000));
});
