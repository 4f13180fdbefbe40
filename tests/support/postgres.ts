// A throwaway PostgreSQL for the tests of the PostgreSQL storage: Debian's `postgresql` is installed
// when missing (as root), a cluster is made in a temp dir (owned by the `postgres` user when we run
// as root: PostgreSQL refuses to run as root), started on a free loopback port with its socket in
// that dir, and removed after. Each test gets its own database. TEST_DATABASE_URL (a superuser's
// URL) uses an existing server instead: the databases are made there and dropped after.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { ensurePostgres } from '../../scripts/apt-install.mjs';
import { freePort } from './gateway.js';

export interface TestPostgres {
  host: string;
  port: number;
  /** the superuser's password (tests check it never shows in a message) */
  password: string;
  /** a superuser URL of database `db` */
  url(db: string): string;
  /** a new empty database; returns its URL */
  createDatabase(prefix?: string): Promise<string>;
  /** stops PostgreSQL as a crash would (immediate shutdown: no checkpoint); throwaway cluster only */
  crash(): void;
  /** starts it again after crash() (nothing when it runs); throwaway cluster only */
  start(): void;
  stop(): Promise<void>;
}

const isRoot = process.getuid?.() === 0;


/** Runs a PostgreSQL program as the `postgres` user when we are root, else as ourselves. */
function runPg(bin: string, program: string, args: string[]): void {
  const [cmd, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, program), ...args]] : [path.join(bin, program), args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: os.tmpdir() });
  if (r.status !== 0) throw new Error(`${program} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
}

export async function startPostgres(): Promise<TestPostgres> {
  if (process.env.TEST_DATABASE_URL) return useExisting(process.env.TEST_DATABASE_URL);
  const bin = ensurePostgres((m: string) => console.log(`postgres: ${m}`));
  if (!bin) {
    throw new Error(
      'PostgreSQL is missing (the PostgreSQL storage tests need it): install it (sudo apt-get install -y postgresql), ' +
        'run the tests as root on Debian (they install it), or set TEST_DATABASE_URL to a superuser URL of a running server',
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ynb-pg-'));
  const data = path.join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  const pwfile = path.join(dir, 'pw');
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (isRoot) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  // password (scram) over TCP, as a real deployment; the socket in `dir` trusts the local user
  runPg(bin, 'initdb', ['-D', data, '-U', 'postgres', '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-sync']);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=32MB`;
  let isRunning = false;
  const start = () => {
    if (isRunning) return;
    runPg(bin, 'pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60', '-o', opts, 'start']);
    isRunning = true;
  };
  const stopNow = () => {
    if (!isRunning) return;
    isRunning = false;
    try {
      runPg(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already gone
    }
  };
  // a test run that dies must not leave a postmaster behind
  const onExit = () => {
    stopNow();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  start();
  const host = '127.0.0.1';
  const url = (db: string) => `postgres://postgres:${password}@${host}:${port}/${db}`;
  let n = 0;
  return {
    host,
    port,
    password,
    url,
    async createDatabase(prefix = 'ynb') {
      const name = `${prefix}_${process.pid}_${++n}`;
      const c = new pg.Client({ connectionString: url('postgres') });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return url(name);
    },
    crash: stopNow,
    start,
    async stop() {
      process.off('exit', onExit);
      onExit();
    },
  };
}

async function useExisting(adminUrl: string): Promise<TestPostgres> {
  const base = new URL(adminUrl);
  const made: string[] = [];
  let n = 0;
  const url = (db: string) => {
    const u = new URL(adminUrl);
    u.pathname = `/${db}`;
    return u.toString();
  };
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>) => {
    const c = new pg.Client({ connectionString: url('postgres') });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const unsupported = () => {
    throw new Error('crash()/start() need the throwaway cluster (unset TEST_DATABASE_URL)');
  };
  return {
    host: base.hostname,
    port: Number(base.port || 5432),
    password: decodeURIComponent(base.password),
    url,
    async createDatabase(prefix = 'ynb') {
      const name = `${prefix}_${process.pid}_${Date.now()}_${++n}`;
      await admin((c) => c.query(`CREATE DATABASE ${name}`));
      made.push(name);
      return url(name);
    },
    crash: unsupported,
    start: unsupported,
    async stop() {
      await admin(async (c) => {
        for (const db of made.splice(0)) await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      });
    },
  };
}

/**
 * A PostgreSQL for the tests of one file, started before them and removed after. Call at the top
 * level; use the getter inside hooks and tests.
 */
export function usePostgres(): () => TestPostgres {
  let current: TestPostgres | null = null;
  // installing Debian's package (a fresh machine) takes longer than the default hook timeout
  beforeAll(async () => {
    current = await startPostgres();
  }, 600_000);
  afterAll(async () => {
    await current?.stop();
    current = null;
  });
  return () => {
    if (!current) throw new Error('usePostgres: not started (call it at the top level of the test file)');
    return current;
  };
}
