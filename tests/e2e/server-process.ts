// Starts the real server (production build) as a child process on a free port with a temporary
// DATA_DIR. The global setup starts the shared one; a test that needs other settings (a model
// endpoint) starts its own with `extraEnv`.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEST_ADMIN_TOKEN } from '../support/auth';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const SERVER_START_TIMEOUT_MS = 60_000;

export interface AppServer {
  url: string;
  logs: string[];
  close(): Promise<void>;
}

/** The test runner's environment without model settings: a server gets those only when asked. */
function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('OPENAI_')) delete env[key];
  return env;
}

export async function startAppServer(opts: { extraEnv?: Record<string, string> } = {}): Promise<AppServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ynb-e2e-'));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'server/http/main.ts'], {
    cwd: ROOT,
    env: { ...baseEnv(), NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...opts.extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 12_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
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
    return { url, logs, close };
  } catch (err) {
    await close();
    throw err;
  }
}
