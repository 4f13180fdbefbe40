// Child processes of the benchmarks (run with tsx), driven over Node's IPC channel: the parent
// calls a named command and gets its result. Every child is killed when the parent exits.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export interface Child {
  pid: number;
  /** what the child sent first ({ready: true, ...}) */
  ready: Promise<Record<string, unknown>>;
  call<T = unknown>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T>;
  /** resolves when the process has exited */
  exited: Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function startChild(file: string, opts: { env?: Record<string, string>; nodeArgs?: string[]; readyTimeoutMs?: number } = {}): Child {
  const proc = fork(path.join(here, file), [], {
    execArgv: [...(opts.nodeArgs ?? []), '--import', 'tsx'],
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(proc);
  let seq = 0;
  const waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  let onReady!: (v: Record<string, unknown>) => void;
  let onReadyFail!: (e: Error) => void;
  const ready = new Promise<Record<string, unknown>>((res, rej) => ((onReady = res), (onReadyFail = rej)));
  const readyTimer = setTimeout(() => onReadyFail(new Error(`${file}: not ready after ${opts.readyTimeoutMs ?? 60_000} ms`)), opts.readyTimeoutMs ?? 60_000);
  proc.on('message', (m: any) => {
    if (m?.ready) {
      clearTimeout(readyTimer);
      onReady(m);
    } else if (typeof m?.id === 'number') {
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.error) w?.reject(new Error(`${file}: ${m.error}`));
      else w?.resolve(m.result);
    }
  });
  const exited = new Promise<void>((resolve) =>
    proc.on('exit', () => {
      children.delete(proc);
      clearTimeout(readyTimer);
      onReadyFail(new Error(`${file} exited`));
      for (const w of waiting.values()) w.reject(new Error(`${file} exited`));
      waiting.clear();
      resolve();
    }),
  );
  ready.catch(() => undefined);
  return {
    pid: proc.pid!,
    ready,
    exited,
    call<T>(cmd: string, args?: unknown, timeoutMs = 120_000): Promise<T> {
      const id = ++seq;
      return new Promise<T>((resolve, reject) => {
        const t = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${file}: ${cmd} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, {
          resolve: (v) => (clearTimeout(t), resolve(v)),
          reject: (e) => (clearTimeout(t), reject(e)),
        });
        proc.send({ id, cmd, args });
      });
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** In a child: answer the parent's calls with `handlers`, then say ready with `info`. */
export function serve(handlers: Record<string, (args: any) => unknown>, info: Record<string, unknown> = {}): void {
  process.on('message', async (m: any) => {
    try {
      const h = handlers[m.cmd];
      if (!h) throw new Error(`no command ${m.cmd}`);
      process.send!({ id: m.id, result: await h(m.args) });
    } catch (err) {
      process.send!({ id: m.id, error: (err as Error).stack ?? String(err) });
    }
  });
  // the parent gone (killed, crashed): do not outlive it
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true, ...info });
}

/** Memory of this process after a full collection (start node with --expose-gc). */
export function memory(): { rss: number; heapUsed: number; external: number; arrayBuffers: number } {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}
