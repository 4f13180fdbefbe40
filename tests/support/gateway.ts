// Test helper: a real KernelService on a real (embedded) Kernel Gateway with a temporary work root,
// and a separate "remote" Kernel Gateway process for tests of KERNEL_GATEWAY_URL.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { KernelService, type KernelServiceOptions } from '../../server/kernel/index.js';

export interface TestKernelService {
  service: KernelService;
  workRoot: string;
  /** Everything the service logged (tests assert on it instead of printing). */
  logs: string[];
  close(): Promise<void>;
}

export async function createTestKernelService(opts: Partial<KernelServiceOptions> = {}): Promise<TestKernelService> {
  const workRoot = opts.workRoot ?? mkdtempSync(path.join(os.tmpdir(), 'yn-kernel-test-'));
  const logs: string[] = [];
  const service = await KernelService.create({ ...opts, workRoot, log: (m) => logs.push(m) });
  return {
    service,
    workRoot,
    logs,
    async close() {
      await service.close();
      rmSync(workRoot, { recursive: true, force: true });
    },
  };
}

/**
 * One KernelService shared by the tests of a file (one embedded gateway per file), closed after
 * them. Call at the top level of a test file; use the returned getter inside tests.
 */
export function useKernelService(opts: Partial<KernelServiceOptions> = {}): () => TestKernelService {
  let current: TestKernelService | null = null;
  beforeAll(async () => {
    current = await createTestKernelService(opts);
  }, 60_000);
  afterAll(async () => {
    await current?.close();
    current = null;
  }, 30_000);
  return () => {
    if (!current) throw new Error('useKernelService: the service is not started (call it at the top level of the test file)');
    return current;
  };
}

/** Quiets the WebSocket/status chatter that @jupyterlab/services writes to console.debug/log. */
export function silenceJupyterServicesLogs(): void {
  const origDebug = console.debug;
  const origLog = console.log;
  const origWarn = console.warn;
  const isChatter = (a: unknown) => typeof a === 'string' && /^(Starting WebSocket|Kernel: |Connection lost, reconnecting)/.test(a);
  console.debug = (...args: unknown[]) => (isChatter(args[0]) ? undefined : origDebug(...args));
  console.log = (...args: unknown[]) => (isChatter(args[0]) ? undefined : origLog(...args));
  // restart() reconnects the WebSocket on purpose; the library warns about it.
  console.warn = (...args: unknown[]) => (isChatter(args[0]) ? undefined : origWarn(...args));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface ExternalGateway {
  url: string;
  token: string;
  /** the directory the gateway starts its kernels in (its "disk"; not the app's DATA_DIR) */
  root: string;
  stop(): Promise<void>;
}

/**
 * Starts kernel-gateway/start.sh as a separate process with its own root directory, the way a
 * remote gateway runs: the app reaches it only over HTTP and WebSocket. `extraEnv` lets a test give
 * the gateway process secrets a careless deployment would.
 */
export async function startExternalGateway(extraEnv: Record<string, string> = {}): Promise<ExternalGateway> {
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const root = mkdtempSync(path.join(os.tmpdir(), 'yn-remote-gw-'));
  const repo = path.resolve(import.meta.dirname, '../..');
  const gw = spawn(path.join(repo, 'kernel-gateway/start.sh'), [], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: root,
      KG_PORT: String(port),
      KG_AUTH_TOKEN: token,
      ...extraEnv,
    } as unknown as NodeJS.ProcessEnv,
    stdio: 'ignore',
  });
  const exited = new Promise((r) => gw.once('exit', r));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/api/kernelspecs`, { headers: { Authorization: `token ${token}` } }).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline || gw.exitCode !== null) {
      gw.kill('SIGKILL');
      throw new Error('external gateway did not start');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    token,
    root,
    async stop() {
      if (gw.exitCode === null) gw.kill('SIGTERM');
      await exited;
      rmSync(root, { recursive: true, force: true });
    },
  };
}
