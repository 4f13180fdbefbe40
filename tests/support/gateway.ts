// Test helper: a real KernelService on a real (embedded) Kernel Gateway with a temporary work root.
import { mkdtempSync, rmSync } from 'node:fs';
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
