// Builds the app once (when its sources changed) and starts the real server in production mode on
// a free port with a temporary DATA_DIR; every browser test file talks to this one server.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
// a plain .mjs script shared with `npm test`
import { buildIfStale } from '../../scripts/build-if-stale.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    baseURL: string;
  }
}

const ROOT = path.resolve(import.meta.dirname, '../..');
export const SERVER_START_TIMEOUT_MS = 60_000;

let server: ChildProcess | null = null;
let dataDir: string | null = null;

export async function setup(project: TestProject) {
  // vitest sets NODE_ENV=test, which would make Vite bundle React's development build
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    buildIfStale();
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ynb-e2e-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/http/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  const logs: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${logs.join('')}`)), SERVER_START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      logs.push(text);
      if (process.env.E2E_SERVER_LOGS) process.stderr.write(text);
      const m = /listening on (http:\/\/\S+)/.exec(logs.join(''));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${logs.join('')}`));
    });
  });
  // keep draining output so the server never blocks on a full pipe
  child.stdout!.resume();
  child.stderr!.resume();
  project.provide('baseURL', url);
}

export async function teardown() {
  const child = server;
  server = null;
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 12_000);
    await exited;
    clearTimeout(timer);
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}
