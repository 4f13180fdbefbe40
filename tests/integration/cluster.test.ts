// Several instances on one machine, the way docker-compose.cluster.yml runs them: two server
// processes on two ports sharing a real PostgreSQL (storage), a real Redis (the relay and the
// notebooks' leases) and one external Kernel Gateway, each with its own DATA_DIR. Clients on
// different instances edit one notebook and converge; presence crosses instances; a kill -9 of both
// loses nothing any client received. Runs belong to the notebook's owner instance: a run asked of
// the other one is forwarded and runs once; when the owner is killed the other takes over within
// LEASE_SECONDS, reconnects to the same kernel (variables survive) and says what was interrupted.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import * as Y from 'yjs';
import { cellsOf, cellSource, findCell, insertCell, notebookToJSON } from '../../common/notebook/model';
import { fetchAsAdmin } from '../support/auth';
import { startFakeOpenAI } from '../support/fake-openai';
import { startExternalGateway, type ExternalGateway } from '../support/gateway';
import { usePostgres } from '../support/postgres';
import { startRedis, type TestRedis } from '../support/redis';
import { createNotebook, postWhenCellArrives, tempDir } from '../support/server';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { scaled } from '../support/timing';

const postgres = usePostgres();
let redis: TestRedis;
let gateway: ExternalGateway;
/** short, so a takeover is quick to test */
const LEASE_SECONDS = 2;
beforeAll(async () => {
  [redis, gateway] = await Promise.all([startRedis(), startExternalGateway()]);
}, 600_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), gateway?.stop()]);
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Instance {
  url: string;
  wsUrl: string;
  proc: ChildProcess;
  /** what the process printed so far */
  output(): string;
}

/** One server process (kill -9 works on it), on PostgreSQL and Redis, with a DATA_DIR of its own. */
function startInstance(databaseUrl: string, port = 0, extraEnv: Record<string, string> = {}): Promise<Instance> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'tests/support/sync-server-process.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      DATA_DIR: tempDir(),
      PORT: String(port),
      HOST: '127.0.0.1',
      KERNEL_GATEWAY_URL: gateway.url,
      KERNEL_GATEWAY_TOKEN: gateway.token,
      LEASE_SECONDS: String(LEASE_SECONDS),
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    let out = '';
    // warnings are on stderr: kept (tests read them) and shown as before
    proc.stderr!.on('data', (d) => {
      out += d;
      process.stderr.write(d);
    });
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ url: m[1], wsUrl: m[1].replace(/^http/, 'ws') + '/sync', proc, output: () => out });
    });
    proc.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

function client(inst: Instance, id: string): YClient {
  const c = connectClient(inst.wsUrl, id);
  cleanups.push(() => c.destroy());
  return c;
}

const json = (c: YClient) => JSON.stringify(notebookToJSON(c.doc));
const allText = (c: YClient) =>
  cellsOf(c.doc)
    .toArray()
    .map((cell) => cellSource(cell).toString())
    .join('\n');

/** A small seeded random generator: a failing run can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

describe('two instances on PostgreSQL and Redis', () => {
  it('clients on both edit one notebook at random, with disconnects, and converge; a fresh client on either sees every edit once', async () => {
    const databaseUrl = await postgres().createDatabase('cluster');
    const [a, b] = await Promise.all([startInstance(databaseUrl), startInstance(databaseUrl)]);
    const id = await createNotebook(a.url);
    const clients = [client(a, id), client(a, id), client(b, id), client(b, id)];
    await Promise.all(clients.map((c) => c.synced));

    const random = rng(20261125);
    let marker = 0;
    const markers: string[] = [];
    for (let step = 0; step < 240; step++) {
      const c = clients[Math.floor(random() * clients.length)];
      const roll = random();
      if (roll < 0.05 && c.provider.wsconnected) {
        // offline for a while: its edits wait and are sent when it reconnects
        c.provider.disconnect();
        setTimeout(() => c.provider.connect(), 30 + Math.floor(random() * 120));
      } else if (roll < 0.15) {
        const m = `<cell${marker++}>`;
        markers.push(m);
        insertCell(c.doc, Math.floor(random() * (cellsOf(c.doc).length + 1)), { source: m });
      } else {
        const cells = cellsOf(c.doc);
        if (cells.length === 0) continue;
        const text = cellSource(cells.get(Math.floor(random() * cells.length)));
        const m = `<${marker++}>`;
        markers.push(m);
        // between markers (never inside one), so each stays readable whatever lands beside it
        const s = text.toString();
        const bounds = [0, ...[...s.matchAll(/>/g)].map((x) => x.index! + 1)];
        text.insert(bounds[Math.floor(random() * bounds.length)], m);
      }
      if (step % 10 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => clients.every((c) => c.provider.wsconnected), { what: 'every client to reconnect' });
    await waitFor(() => clients.every((c) => json(c) === json(clients[0])), { what: 'the clients of both instances to converge', timeoutMs: scaled(20_000) });

    for (const inst of [a, b]) {
      const fresh = client(inst, id);
      await fresh.synced;
      await waitFor(() => json(fresh) === json(clients[0]), { what: `a fresh client on ${inst.url} to see everything` });
      const seen = allText(fresh).match(/<(cell)?\d+>/g) ?? [];
      expect(seen.sort()).toEqual([...markers].sort());
    }
  });

  it("presence crosses instances: a client on A sees B's person and their cursor, and sees them leave", async () => {
    const databaseUrl = await postgres().createDatabase('presence');
    const [a, b] = await Promise.all([startInstance(databaseUrl), startInstance(databaseUrl)]);
    const id = await createNotebook(a.url);
    const onA = client(a, id);
    const onB = client(b, id);
    await Promise.all([onA.synced, onB.synced]);
    onB.provider.awareness.setLocalState({ user: { name: 'Bob', color: '#3366ff' }, cell: 'x' });
    const seen = await waitFor(() => [...onA.provider.awareness.getStates().values()].find((s) => s.user?.name === 'Bob'), { what: "Bob's presence on A" });
    expect(seen.cell).toBe('x');
    onB.destroy();
    await waitFor(() => ![...onA.provider.awareness.getStates().values()].some((s) => s.user?.name === 'Bob'), { what: 'Bob to leave on A' });
  });

  it('kill -9 of both instances mid-edit: after a restart every update any client received is there, once', async () => {
    const databaseUrl = await postgres().createDatabase('killboth');
    const [a, b] = await Promise.all([startInstance(databaseUrl), startInstance(databaseUrl)]);
    const id = await createNotebook(a.url);
    const writers = [client(a, id), client(b, id)];
    const observers = [client(a, id), client(b, id)];
    await Promise.all([...writers, ...observers].map((c) => c.synced));
    let n = 0;
    const typing = setInterval(() => {
      writers.forEach((w, i) => {
        const text = cellSource(cellsOf(w.doc).get(0));
        text.insert(text.length, `<${i}:${n}>`);
      });
      n++;
    }, 5);
    await waitFor(() => observers.every((o) => allText(o).length > 300), { what: 'edits to flow through both instances' });
    a.proc.kill('SIGKILL');
    b.proc.kill('SIGKILL');
    await Promise.all([a, b].map((i) => new Promise((r) => (i.proc.exitCode !== null || i.proc.signalCode !== null ? r(null) : i.proc.once('exit', r)))));
    clearInterval(typing);
    // what the observers had received: each instance broadcast only what was committed
    const received = observers.map((o) => Y.decodeStateVector(Y.encodeStateVector(o.doc)));
    const receivedMarkers = new Set(observers.flatMap((o) => allText(o).match(/<\d:\d+>/g) ?? []));

    const [a2] = await Promise.all([startInstance(databaseUrl, Number(new URL(a.url).port)), startInstance(databaseUrl, Number(new URL(b.url).port))]);
    const fresh = client(a2, id);
    await fresh.synced;
    const freshSv = Y.decodeStateVector(Y.encodeStateVector(fresh.doc));
    for (const sv of received) {
      for (const [clientId, clock] of sv) expect(freshSv.get(clientId) ?? 0, `updates of client ${clientId}`).toBeGreaterThanOrEqual(clock);
    }
    const restored = allText(fresh);
    for (const m of receivedMarkers) expect(restored).toContain(m);
    // the writers reconnect and send what the servers lack; then everything is there exactly once
    await waitFor(() => [...writers, ...observers].every((c) => json(c) === json(fresh)), { what: 'clients to resync after the restart', timeoutMs: scaled(30_000) });
    const all = allText(fresh).match(/<\d:\d+>/g)!;
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(2 * n);
  });
});

// ---- run ownership (docs/decisions/0020) ----

const gatewayHeaders = () => ({ Authorization: `token ${gateway.token}` });

/** The kernels the shared gateway runs (there is one per notebook, whichever instance asked). */
async function gatewayKernels(): Promise<{ id: string; execution_state: string }[]> {
  return (await fetch(`${gateway.url}/api/kernels`, { headers: gatewayHeaders() })).json();
}

afterEach(async () => {
  // a killed owner leaves its kernels on the gateway: each test starts with none
  for (const k of await gatewayKernels().catch(() => [])) await fetch(`${gateway.url}/api/kernels/${k.id}`, { method: 'DELETE', headers: gatewayHeaders() }).catch(() => undefined);
});

const outputsOf = (c: YClient, cellId: string) => {
  const cell = notebookToJSON(c.doc).cells.find((x) => x.id === cellId);
  return JSON.stringify(cell?.outputs ?? []);
};
const stateOf = (c: YClient, cellId: string) => {
  const cell = findCell(c.doc, cellId);
  const st = cell?.get('execution_state') as { state?: string } | string | undefined;
  return typeof st === 'string' ? st : st?.state ?? 'idle';
};

function killed(inst: Instance): Promise<void> {
  inst.proc.kill('SIGKILL');
  return new Promise((r) => (inst.proc.exitCode !== null || inst.proc.signalCode !== null ? r() : inst.proc.once('exit', () => r())));
}

/** Adds a code cell through a client and runs it through an instance's API. */
async function addAndRun(inst: Instance, c: YClient, id: string, source: string, body: Record<string, unknown> = {}) {
  const cellId = insertCell(c.doc, cellsOf(c.doc).length, { source });
  const res = await postWhenCellArrives(`${inst.url}/api/notebooks/${id}/cells/${cellId}/run`, body, scaled(20_000));
  return { cellId, ...res };
}

describe('runs of a notebook have one owner instance', () => {
  it('a run asked of B while A owns the notebook runs once on the one kernel, outputs seen on both; a file uploaded on B lands in that kernel', async () => {
    const databaseUrl = await postgres().createDatabase('owner');
    const [a, b] = await Promise.all([startInstance(databaseUrl), startInstance(databaseUrl)]);
    const id = await createNotebook(a.url);
    const onA = client(a, id);
    const onB = client(b, id);
    await Promise.all([onA.synced, onB.synced]);

    // A owns the notebook once it ran something there
    const first = await addAndRun(a, onA, id, 'x = 41\nruns = 0');
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('ok');

    // asked of B: forwarded to A, run there once, on the same kernel
    const second = await addAndRun(b, onB, id, 'runs += 1\nprint("x + 1 =", x + 1, "runs:", runs)');
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ status: 'ok', execution_count: 2 });
    for (const c of [onA, onB]) {
      await waitFor(() => outputsOf(c, second.cellId).includes('x + 1 = 42 runs: 1'), { what: `the output on ${c === onA ? 'A' : 'B'}` });
    }
    expect((await gatewayKernels()).length).toBe(1);
    // credentials are checked before forwarding; a forwarded request is never forwarded again
    const anonymous = await fetch(`${b.url}/api/notebooks/${id}/cells/${second.cellId}/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
    const looped = await fetchAsAdmin(`${b.url}/api/notebooks/${id}/cells/${second.cellId}/run`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-ynotebook-forwarded': 'elsewhere' }, body: '{}' });
    expect(looped.status).toBe(503);
    expect((await looped.json()).error.code).toBe('NOT_OWNER');

    // a file uploaded through B is in the working directory of that kernel (A's)
    const put = await fetchAsAdmin(`${b.url}/api/notebooks/${id}/files/data.csv`, { method: 'PUT', body: 'a,b\n1,2\n' });
    expect(put.status).toBe(201);
    const read = await addAndRun(a, onA, id, "print(open('data.csv').read().splitlines()[1])");
    expect(read.body.status).toBe('ok');
    await waitFor(() => outputsOf(onA, read.cellId).includes('1,2'), { what: 'the uploaded file read by the kernel' });
    const list = await (await fetchAsAdmin(`${b.url}/api/notebooks/${id}/files`)).json();
    expect(list.files.map((f: { path: string }) => f.path)).toEqual(['data.csv']);
    expect((await gatewayKernels()).length).toBe(1);
  });

  it('kill -9 of the owner: the other instance takes over within LEASE_SECONDS, the next run works and the variables survive', async () => {
    const databaseUrl = await postgres().createDatabase('takeover');
    const [a, b] = await Promise.all([startInstance(databaseUrl), startInstance(databaseUrl)]);
    const id = await createNotebook(a.url);
    const onA = client(a, id);
    const onB = client(b, id);
    await Promise.all([onA.synced, onB.synced]);
    const first = await addAndRun(a, onA, id, 'x = 41');
    expect(first.body.status).toBe('ok');
    const [kernel] = await gatewayKernels();

    await killed(a);
    const killedAt = Date.now();
    const next = await addAndRun(b, onB, id, 'print(x + 1)');
    expect(next.status).toBe(200);
    expect(next.body.status).toBe('ok');
    // the lease of the killed owner had to expire first; then the run itself
    expect(Date.now() - killedAt).toBeLessThan(LEASE_SECONDS * 1000 + scaled(5_000));
    await waitFor(() => outputsOf(onB, next.cellId).includes('42'), { what: 'x + 1 from the surviving kernel' });
    // the same kernel, reconnected to: none was started
    expect((await gatewayKernels()).map((k) => k.id)).toEqual([kernel.id]);
  });

  it('a cell running when its owner is killed shows a client on the other instance why it stopped; the loop is interrupted and the kernel kept', async () => {
    const databaseUrl = await postgres().createDatabase('interrupted');
    const [a, b] = await Promise.all([startInstance(databaseUrl), startInstance(databaseUrl)]);
    const id = await createNotebook(a.url);
    const onA = client(a, id);
    const onB = client(b, id);
    await Promise.all([onA.synced, onB.synced]);
    const loop = await addAndRun(a, onA, id, 'import time\nfor i in range(3000):\n    print(i, flush=True)\n    time.sleep(0.05)', { wait: false });
    expect(loop.status).toBe(202);
    await waitFor(() => stateOf(onB, loop.cellId) === 'running' && outputsOf(onB, loop.cellId).includes('3'), { what: 'the loop running, seen on B' });

    await killed(a);
    const killedAt = Date.now();
    // no one asks anything: B notices on its own
    await waitFor(() => stateOf(onB, loop.cellId) === 'idle' && outputsOf(onB, loop.cellId).includes('the server instance running this cell stopped'), {
      what: 'the interrupted reason on B',
      timeoutMs: LEASE_SECONDS * 1000 + 10_000,
    });
    expect(Date.now() - killedAt).toBeLessThan(LEASE_SECONDS * 1000 + scaled(3_000));
    // the loop was interrupted on the kept kernel: i stopped far from the end, and the kernel answers at once
    const after = await addAndRun(b, onB, id, 'print("i =", i)');
    expect(after.body.status).toBe('ok');
    const text = await waitFor(() => /i = (\d+)/.exec(outputsOf(onB, after.cellId)), { what: 'i from the kept kernel' });
    expect(Number(text[1])).toBeGreaterThan(3);
    expect(Number(text[1])).toBeLessThan(2999);
    expect((await gatewayKernels()).length).toBe(1);
  });

  it("a generation asked of B while A owns the notebook runs on A's kernel; both see the code and the output", async () => {
    const fake = await startFakeOpenAI({ model: 'fake-model' });
    cleanups.push(() => fake.close());
    const ai = { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-test-never-shown', OPENAI_MODEL: 'fake-model' };
    const databaseUrl = await postgres().createDatabase('generate');
    const [a, b] = await Promise.all([startInstance(databaseUrl, 0, ai), startInstance(databaseUrl, 0, ai)]);
    const id = await createNotebook(a.url);
    const onA = client(a, id);
    const onB = client(b, id);
    await Promise.all([onA.synced, onB.synced]);
    expect((await addAndRun(a, onA, id, 'x = 41')).body.status).toBe('ok');

    fake.script([{ toolCall: { name: 'run_python', arguments: { code: 'print("answer:", x + 1)' } } }, { content: 'It is 42.' }]);
    const cellId = insertCell(onB.doc, cellsOf(onB.doc).length, { source: '' });
    const gen = await postWhenCellArrives(`${b.url}/api/notebooks/${id}/cells/${cellId}/generate`, { prompt: 'x plus one', wait: true }, scaled(20_000));
    expect(gen.status).toBe(200);
    expect(gen.body.ai.status).toBe('done');
    for (const c of [onA, onB]) {
      await waitFor(() => outputsOf(c, cellId).includes('answer: 42') && cellSource(findCell(c.doc, cellId)!).toString().includes('x + 1'), { what: `the generated cell on ${c === onA ? 'A' : 'B'}` });
    }
    expect((await gatewayKernels()).length).toBe(1);
  });

  it('a graceful stop of the owner (SIGTERM) hands the notebook over at once, its kernel kept', async () => {
    const databaseUrl = await postgres().createDatabase('handover');
    const [a, b] = await Promise.all([startInstance(databaseUrl), startInstance(databaseUrl)]);
    const id = await createNotebook(a.url);
    const onB = client(b, id);
    await onB.synced;
    expect((await addAndRun(a, onB, id, 'x = 41')).body.status).toBe('ok');
    const kernels = await gatewayKernels();
    a.proc.kill('SIGTERM');
    await new Promise((r) => (a.proc.exitCode !== null ? r(null) : a.proc.once('exit', r)));
    expect(a.proc.exitCode).toBe(0);
    const stoppedAt = Date.now();
    const next = await addAndRun(b, onB, id, 'print(x + 1)');
    expect(next.body.status).toBe('ok');
    // the lease was released: no waiting for it to expire
    expect(Date.now() - stoppedAt).toBeLessThan(LEASE_SECONDS * 1000);
    await waitFor(() => outputsOf(onB, next.cellId).includes('42'), { what: 'x + 1 from the kept kernel' });
    expect(await gatewayKernels()).toEqual(kernels.map((k) => expect.objectContaining({ id: k.id })));
  });

  it('an owner whose lease was taken while it was cut off stops using the kernel; its requests go to the new owner', async () => {
    const databaseUrl = await postgres().createDatabase('fenced');
    const [a, b] = await Promise.all([startInstance(databaseUrl), startInstance(databaseUrl)]);
    const id = await createNotebook(a.url);
    const onA = client(a, id);
    const onB = client(b, id);
    await Promise.all([onA.synced, onB.synced]);
    expect((await addAndRun(a, onA, id, 'x = 41')).body.status).toBe('ok');
    // as if A had been paused past its lease: the lease is gone and B takes the notebook
    const r = new Redis(redis.url);
    cleanups.push(() => r.disconnect());
    const before = JSON.parse((await r.get(`ynotebook:lease:${id}`))!);
    await r.del(`ynotebook:lease:${id}`);
    const onNew = await addAndRun(b, onB, id, 'x += 1\nprint(x)');
    expect(onNew.body.status).toBe('ok');
    const after = JSON.parse((await r.get(`ynotebook:lease:${id}`))!);
    expect(after.instance).not.toBe(before.instance);
    expect(after.fence).toBeGreaterThan(before.fence);
    // A finds out at its next renewal; then what reaches A goes to B, on the same kernel
    await waitFor(() => a.output().includes(`lease: lost notebook ${id}`), { what: 'A to notice it lost the notebook' });
    const viaA = await addAndRun(a, onA, id, 'print("x is", x)');
    expect(viaA.body.status).toBe('ok');
    await waitFor(() => outputsOf(onA, viaA.cellId).includes('x is 42'), { what: 'the run asked of A, on the new owner' });
    expect((await gatewayKernels()).length).toBe(1);
    expect(JSON.parse((await r.get(`ynotebook:lease:${id}`))!).instance).toBe(after.instance);
  });

  it("deleting a notebook whose owner was killed waits for its lease, then shuts the kernel it left down", async () => {
    const databaseUrl = await postgres().createDatabase('delete');
    const [a, b] = await Promise.all([startInstance(databaseUrl), startInstance(databaseUrl)]);
    const id = await createNotebook(a.url);
    const onA = client(a, id);
    await onA.synced;
    expect((await addAndRun(a, onA, id, 'x = 41')).body.status).toBe('ok');
    expect((await gatewayKernels()).length).toBe(1);
    await killed(a);
    const res = await fetchAsAdmin(`${b.url}/api/notebooks/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await gatewayKernels()).toEqual([]);
    const r = new Redis(redis.url);
    cleanups.push(() => r.disconnect());
    expect(await r.exists(`ynotebook:lease:${id}`, `ynotebook:kernel:${id}`)).toBe(0);
  });
});
