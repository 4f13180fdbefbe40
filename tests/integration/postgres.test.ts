// What only the PostgreSQL storage has: migrations at boot (idempotent, safe when instances boot
// together), errors that name the server and never the password, boot against a missing server,
// the admin token shared through the database, and "acknowledged means durable" across a kill -9
// of the server and a crash of PostgreSQL itself. The Storage contract both implementations share is
// tests/unit/storage.test.ts; a whole app on PostgreSQL is tests/integration/postgres-app.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { cellsOf, cellSource, notebookToJSON } from '../../common/notebook/model';
import { ADMIN_TOKEN_FILE } from '../../server/access/access';
import { EnvError, readEnv } from '../../server/http/env';
import { MIGRATIONS, openPostgresStorage } from '../../server/storage/postgres';
import { StorageError } from '../../server/storage/types';
import { TEST_ADMIN_TOKEN } from '../support/auth';
import { usePostgres } from '../support/postgres';
import { createNotebook, startTestServer, tempDir, type TestServer } from '../support/server';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { scaled } from '../support/timing';

const postgres = usePostgres();

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(opts: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const s = await startTestServer(opts);
  cleanups.push(() => s.close());
  return s;
}

function client(wsUrl: string, id: string, token?: string): YClient {
  const c = connectClient(wsUrl, id, { token });
  cleanups.push(() => c.destroy());
  return c;
}

async function rows<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const json = (c: YClient) => JSON.stringify(notebookToJSON(c.doc));
const source = (c: YClient) => cellSource(cellsOf(c.doc).get(0)).toString();

describe('migrations', () => {
  it('run at boot once: reopening applies nothing and keeps the data', async () => {
    const url = await postgres().createDatabase('mig');
    const first = await openPostgresStorage(url, { connectRetryMs: 0 });
    await first.createNotebook({ id: 'keep', title: 'kept' });
    expect(await first.migrate()).toEqual([]);
    await first.close();
    const second = await openPostgresStorage(url, { connectRetryMs: 0 });
    cleanups.push(() => second.close());
    expect(await second.migrate()).toEqual([]);
    expect(await second.getNotebook('keep')).toMatchObject({ title: 'kept' });
    const applied = await rows<{ id: number }>(url, 'SELECT id FROM schema_migrations ORDER BY id');
    expect(applied.map((r) => r.id)).toEqual(MIGRATIONS.map((m) => m.id));
  });

  it('instances booting together on an empty database take turns: all start, each step runs once', async () => {
    const url = await postgres().createDatabase('mig');
    const logs: string[] = [];
    const opened = await Promise.all(
      Array.from({ length: 6 }, () => openPostgresStorage(url, { connectRetryMs: 0, log: (_l, m) => logs.push(m) })),
    );
    cleanups.push(() => Promise.all(opened.map((s) => s.close())));
    // exactly one of them applied the schema; the others found it done
    expect(logs.filter((l) => l.includes('applied schema migrations'))).toHaveLength(1);
    const applied = await rows<{ id: number }>(url, 'SELECT id FROM schema_migrations ORDER BY id');
    expect(applied.map((r) => r.id)).toEqual(MIGRATIONS.map((m) => m.id));
    // and every one of them works on the same data
    await opened[0].createNotebook({ id: 'shared', title: 'one' });
    for (const s of opened) expect(await s.getNotebook('shared')).toMatchObject({ title: 'one' });
  });
});

describe('durability', () => {
  it('every session commits synchronously, even where the database is set to synchronous_commit=off', async () => {
    const url = await postgres().createDatabase('sync');
    const db = new URL(url).pathname.slice(1);
    await rows(url, `ALTER DATABASE ${db} SET synchronous_commit = off`);
    expect(await rows(url, 'SHOW synchronous_commit')).toEqual([{ synchronous_commit: 'off' }]);
    const st = await openPostgresStorage(url, { connectRetryMs: 0 });
    cleanups.push(() => st.close());
    // the pool's sessions: what appendUpdate's COMMIT runs under
    const pool = (st as unknown as { pool: pg.Pool }).pool;
    const seen = await Promise.all(Array.from({ length: 3 }, () => pool.query('SHOW synchronous_commit')));
    expect(seen.map((r) => r.rows[0].synchronous_commit)).toEqual(['on', 'on', 'on']);
  });
});

describe('errors name the server, never the password', () => {
  it('a wrong password, an unknown database: IO at once, with host and port', async () => {
    const p = postgres();
    const wrong = p.url('postgres').replace(`:${p.password}@`, ':not-the-password-x9@');
    const err = await openPostgresStorage(wrong.replace('/postgres', '/whatever'), { connectRetryMs: 10_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err.code).toBe('IO');
    expect(err.message).toContain(`127.0.0.1:${p.port}`);
    expect(err.message).toMatch(/password authentication failed/);
    expect(err.message).not.toContain('not-the-password-x9');

    const t0 = Date.now();
    const noDb = await openPostgresStorage(p.url('no_such_database'), { connectRetryMs: 10_000 }).catch((e) => e);
    expect(Date.now() - t0, 'not retried: waiting does not create a database').toBeLessThan(scaled(5_000));
    expect(noDb).toMatchObject({ code: 'IO' });
    expect(noDb.message).toContain('no_such_database');
    expect(noDb.message).not.toContain(p.password);
  });

  it('an unreachable server is retried for a while, saying so, then fails naming it', async () => {
    const port = await closedPort();
    const logs: string[] = [];
    const t0 = Date.now();
    const err = await openPostgresStorage(`postgres://ynb:hunter2-secret@127.0.0.1:${port}/ynb`, { connectRetryMs: 1_500, log: (_l, m) => logs.push(m) }).catch((e) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    expect(err).toMatchObject({ code: 'IO' });
    expect(err.message).toContain(`PostgreSQL at postgres://ynb@127.0.0.1:${port}/ynb is unreachable`);
    expect(err.message).not.toContain('hunter2');
    expect(logs.join('\n')).toContain(`waiting for PostgreSQL at postgres://ynb@127.0.0.1:${port}/ynb`);
    expect(logs.join('\n')).not.toContain('hunter2');
  });

  it('a server that comes up while boot waits is used', async () => {
    const p = postgres();
    const url = await p.createDatabase('late');
    p.crash();
    try {
      const opening = openPostgresStorage(url, { connectRetryMs: 30_000 });
      await new Promise((r) => setTimeout(r, 1_500));
      p.start();
      const st = await opening;
      cleanups.push(() => st.close());
      await st.createNotebook({ id: 'late', title: 'after the wait' });
      expect(await st.getNotebook('late')).toMatchObject({ title: 'after the wait' });
    } finally {
      p.start();
    }
  });

  it('DATABASE_URL is checked at boot: a bad one names the variable and never echoes the value', () => {
    const bad = ['s3cr3t-pw:x', 'mysql://u:s3cr3t-pw@db/app', 'postgres://u:s3cr3t-pw@db', 'not a url s3cr3t-pw'];
    for (const v of bad) {
      let err: unknown;
      try {
        readEnv({ NODE_ENV: 'test', DATABASE_URL: v });
      } catch (e) {
        err = e;
      }
      expect(err, v).toBeInstanceOf(EnvError);
      expect((err as Error).message).toContain('DATABASE_URL');
      expect((err as Error).message).not.toContain('s3cr3t');
    }
    expect(readEnv({ NODE_ENV: 'test', DATABASE_URL: 'postgresql://u:p@db.internal:5433/app?sslmode=require' }).DATABASE_URL).toBe('postgresql://u:p@db.internal:5433/app?sslmode=require');
    expect(readEnv({ NODE_ENV: 'test', DATABASE_URL: '' }).DATABASE_URL).toBeUndefined();
  });

  it('`npm run serve` with a wrong password stops at once with exit code 2 and a message naming the server', async () => {
    const p = postgres();
    const url = p.url('postgres').replace(`:${p.password}@`, ':wrong-secret-77@');
    const proc = spawn(process.execPath, ['--import', 'tsx', path.resolve('server/http/main.ts')], {
      env: { ...process.env, DATABASE_URL: url, DATA_DIR: tempDir(), PORT: '0', ADMIN_TOKEN: TEST_ADMIN_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const code = await new Promise((r) => proc.once('exit', r));
    expect(code).toBe(2);
    expect(out).toContain(`Storage unavailable`);
    expect(out).toContain(`postgres://postgres@127.0.0.1:${p.port}/postgres`);
    expect(out).not.toContain('wrong-secret-77');
  });
});

describe('the admin token with DATABASE_URL', () => {
  it('is made once and kept in the database: every instance accepts it, none writes DATA_DIR/admin-token; ADMIN_TOKEN still wins', async () => {
    const url = await postgres().createDatabase('adm');
    const [dirA, dirB] = [tempDir(), tempDir()];
    const a = await server({ dataDir: dirA, env: { DATABASE_URL: url, ADMIN_TOKEN: '' } });
    const b = await server({ dataDir: dirB, env: { DATABASE_URL: url, ADMIN_TOKEN: '' } });
    expect(a.adminToken).toBe(b.adminToken);
    expect([a.isAdminTokenNew, b.isAdminTokenNew]).toEqual([true, false]);
    expect(a.adminToken).not.toBe(TEST_ADMIN_TOKEN);
    for (const d of [dirA, dirB]) expect(fs.existsSync(path.join(d, ADMIN_TOKEN_FILE))).toBe(false);
    // a notebook made through one instance is listed by the other, with the same admin token
    const made = await fetch(`${a.url}/api/notebooks`, { method: 'POST', headers: { authorization: `Bearer ${a.adminToken}`, 'content-type': 'application/json' }, body: '{"title":"on A"}' });
    expect(made.status).toBe(201);
    const list = await fetch(`${b.url}/api/notebooks`, { headers: { authorization: `Bearer ${a.adminToken}` } });
    expect(((await list.json()) as { notebooks: { title: string }[] }).notebooks.map((n) => n.title)).toEqual(['on A']);

    const c = await server({ env: { DATABASE_URL: url } });
    expect(c.adminToken).toBe(TEST_ADMIN_TOKEN);
    expect((await fetch(`${c.url}/api/notebooks`, { headers: { authorization: `Bearer ${a.adminToken}` } })).status).toBe(401);
  });
});

describe('crash safety on PostgreSQL', () => {
  let procs: ChildProcess[] = [];
  afterEach(() => {
    for (const p of procs.splice(0)) p.kill('SIGKILL');
  });

  function spawnServer(databaseUrl: string, port = 0): Promise<{ url: string; proc: ChildProcess }> {
    // a fresh DATA_DIR each time: after the crash everything must come from PostgreSQL
    const p = spawn(process.execPath, ['--import', 'tsx', path.resolve('tests/support/sync-server-process.ts')], {
      env: { ...process.env, DATABASE_URL: databaseUrl, DATA_DIR: tempDir(), PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    procs.push(p);
    return new Promise((resolve, reject) => {
      let out = '';
      p.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve({ url: m[1], proc: p });
      });
      p.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
    });
  }

  it('kill -9 of the server mid-edit loses nothing a client received, and duplicates nothing', async () => {
    const databaseUrl = await postgres().createDatabase('kill');
    const first = await spawnServer(databaseUrl);
    const port = Number(new URL(first.url).port);
    const wsUrl = first.url.replace(/^http/, 'ws') + '/sync';
    const id = await createNotebook(first.url);
    const writers = [0, 1, 2].map(() => client(wsUrl, id));
    const observer = client(wsUrl, id);
    await Promise.all([...writers, observer].map((c) => c.synced));

    let n = 0;
    const typing = setInterval(() => {
      writers.forEach((w, i) => {
        const text = cellSource(cellsOf(w.doc).get(0));
        text.insert(text.length, `<${i}:${n}>`);
      });
      n++;
    }, 5);
    await waitFor(() => source(observer).length > 300, { what: 'edits to flow' });
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    // everything the observer had received before the crash: the server broadcasts only after COMMIT
    const received = source(observer);
    const receivedSv = Y.decodeStateVector(Y.encodeStateVector(observer.doc));
    clearInterval(typing);

    await spawnServer(databaseUrl, port);
    const fresh = client(wsUrl, id);
    await fresh.synced;
    const freshSv = Y.decodeStateVector(Y.encodeStateVector(fresh.doc));
    for (const [clientId, clock] of receivedSv) {
      expect(freshSv.get(clientId) ?? 0, `updates of client ${clientId}`).toBeGreaterThanOrEqual(clock);
    }
    const restored = source(fresh);
    for (const t of received.match(/<\d:\d+>/g)!) expect(restored).toContain(t);

    await waitFor(() => [...writers, observer].every((c) => json(c) === json(fresh)), { what: 'clients to resync after the restart', timeoutMs: scaled(20_000) });
    const all = source(fresh).match(/<\d:\d+>/g)!;
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(3 * n);
  });

  it('PostgreSQL crashing under a running server: edits wait in memory (not broadcast), are stored when it is back, and survive a restart', async () => {
    const p = postgres();
    const databaseUrl = await p.createDatabase('pgcrash');
    const s = await server({ env: { DATABASE_URL: databaseUrl } });
    const id = await createNotebook(s.url);
    const a = client(s.wsUrl, id);
    const b = client(s.wsUrl, id);
    await Promise.all([a.synced, b.synced]);
    const text = cellSource(cellsOf(a.doc).get(0));
    text.insert(0, 'before;');
    await waitFor(() => source(b) === 'before;', { what: 'the first edit to reach b' });

    p.crash();
    try {
      text.insert(text.length, 'during;');
      await waitFor(() => s.logs.some((l) => l.includes('STORAGE FAILED')), { what: 'a loud log line', timeoutMs: scaled(15_000) });
      await new Promise((r) => setTimeout(r, 300));
      // not committed, so not broadcast
      expect(source(b)).toBe('before;');
    } finally {
      p.start();
    }
    await waitFor(() => source(b) === 'before;during;', { what: 'the retried store and its broadcast', timeoutMs: scaled(15_000) });
    expect(s.logs.join('\n')).not.toContain(p.password);
    await s.close();

    const again = await server({ env: { DATABASE_URL: databaseUrl } });
    const c = client(again.wsUrl, id);
    await c.synced;
    expect(source(c)).toBe('before;during;');
  });
});
