// Test helper: a throwaway Redis server from Debian's `redis-server` package (installed on demand
// when we are root, as `npm test` does for Chromium), on a free loopback port, no persistence.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianPackage } from '../../scripts/apt-install.mjs';
import { freePort } from './gateway.js';

const REDIS_SERVER = '/usr/bin/redis-server';

export interface TestRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  if (!ensureDebianPackage({ binary: REDIS_SERVER, pkg: 'redis-server', why: 'the tests of several server instances', log: () => undefined })) {
    throw new Error(`${REDIS_SERVER} is missing: install Debian's redis-server package (apt-get install -y redis-server)`);
  }
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yn-redis-'));
  let log = '';
  const proc = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (b: Buffer) => (log += b.toString()));
  proc.stderr.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise((r) => proc.once('exit', r));
  const deadline = Date.now() + 15_000;
  while (!log.includes('Ready to accept connections')) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
