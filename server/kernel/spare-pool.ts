// Spare kernels started ahead, as Jupyter's pending-kernel pools do, so that the first run of a new
// notebook does not wait for a kernel to start (docs/decisions/0018-spare-kernels-and-group-commit.md).
//
// A spare runs in a working directory of its own, `<workRoot>/.spare-<random>`: a folder of the
// work root, as the launcher requires, that no notebook id maps to (notebookDirName never starts
// with a dot). When a notebook claims it, that folder is renamed to the notebook's working
// directory. The sandbox bound the folder (its inode) at start, so the kernel keeps working in the
// same folder, now the notebook's; without the sandbox the kernel's cwd follows the rename too.
// The claim-time start-up code (notebook-kernel.ts) registers the files helper and the pip hook on
// the folder as the kernel sees it. A spare is never shared: it is taken out of the pool when
// claimed, and the pool starts the next one.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { CommsOverSubshells, KernelAPI, KernelConnection, type Kernel, type ServerConnection } from '@jupyterlab/services';

/** Spare kernels kept started by default (KERNEL_SPARE_POOL in the server; 0 disables). */
export const DEFAULT_SPARE_POOL_SIZE = 1;
/** Prefix of a spare's working directory under the work root (no notebook directory starts with a dot). */
export const SPARE_DIR_PREFIX = '.spare-';
/** After a spare failed to start, wait this long before starting another. */
const SPARE_RETRY_MS = 10_000;
/** Time a spare may take to start and warm up. */
const SPARE_READY_TIMEOUT_MS = 60_000;

export interface SparePoolDeps {
  size: number;
  workRoot: string;
  settings: () => ServerConnection.ISettings;
  kernelEnv: (workDir: string) => Record<string, string>;
  /** code run silently once the spare answers (the completer warm-up), before it can be claimed */
  warmUpCode: string;
  log: (msg: string) => void;
}

/** Connection options of every kernel of ours (one client, comms on the main shell). */
export function kernelConnectionOptions(model: Kernel.IModel, serverSettings: ServerConnection.ISettings): Kernel.IKernelConnection.IOptions {
  return {
    model,
    serverSettings,
    // we are the only client of this kernel; comms carry the files API (files_helper.py)
    handleComms: true,
    // On ipykernel 7 the library would move each comm target to a kernel subshell (a thread of its
    // own), created asynchronously: the first messages of a comm then go to the main shell and the
    // later ones to the subshell, out of order, and answers went missing. One shell keeps every
    // file operation in order (it waits behind a running cell; docs/decisions/0008).
    commsOverSubshells: CommsOverSubshells.Disabled,
    username: 'ynotebook',
    clientId: randomUUID(),
  };
}

interface Spare {
  dir: string;
  /** resolves with the warm connection, or null when the spare failed or died */
  ready: Promise<KernelConnection | null>;
  conn: KernelConnection | null;
  isDead: boolean;
  /** removes the pool's death watchers (the claimer watches the kernel from then on) */
  unwatch: () => void;
}

/** A claimed spare: its connection, now working in the notebook's directory. */
export interface ClaimedKernel {
  conn: KernelConnection;
}

function isAbsentOrEmpty(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

export class SparePool {
  private spares: Spare[] = [];
  private isClosed = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: SparePoolDeps) {
    // spares of an earlier process (killed before it could remove them) hold nothing of value
    try {
      for (const name of readdirSync(deps.workRoot)) {
        if (name.startsWith(SPARE_DIR_PREFIX)) rmSync(path.join(deps.workRoot, name), { recursive: true, force: true });
      }
    } catch {
      // no work root yet
    }
  }

  get size(): number {
    return this.deps.size;
  }

  /** Kernel ids of the spares (tests and diagnostics). */
  get spareKernelIds(): string[] {
    return this.spares.map((s) => s.conn?.id).filter((id): id is string => Boolean(id));
  }

  /** Resolves when every spare of the pool has started (or failed); for benchmarks and tests. */
  async settled(): Promise<void> {
    await Promise.all(this.spares.map((s) => s.ready));
  }

  /** Starts spares until the pool is full. */
  fill(): void {
    if (this.isClosed || this.retryTimer) return;
    while (this.spares.length < this.deps.size) this.spares.push(this.startSpare());
  }

  private startSpare(): Spare {
    const dir = path.join(this.deps.workRoot, `${SPARE_DIR_PREFIX}${randomBytes(8).toString('hex')}`);
    const spare: Spare = { dir, conn: null, isDead: false, ready: Promise.resolve(null), unwatch: () => undefined };
    spare.ready = this.bringUp(spare).catch((err: unknown) => {
      if (spare.isDead) return null;
      this.deps.log(`spare kernel did not start: ${err instanceof Error ? err.message : String(err)}`);
      this.discard(spare);
      if (!this.isClosed && !this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.fill();
        }, SPARE_RETRY_MS);
        this.retryTimer.unref();
      }
      return null;
    });
    return spare;
  }

  private async bringUp(spare: Spare): Promise<KernelConnection | null> {
    const t0 = Date.now();
    mkdirSync(spare.dir, { recursive: true });
    const body = { env: this.deps.kernelEnv(spare.dir) } as unknown as Kernel.IKernelOptions;
    const model = await KernelAPI.startNew(body, this.deps.settings());
    const conn = new KernelConnection(kernelConnectionOptions(model, this.deps.settings()));
    spare.conn = conn;
    if (this.isClosed || spare.isDead) {
      this.discard(spare);
      return null;
    }
    const onDeath = (_: unknown, s: Kernel.Status) => {
      if (s === 'dead' || s === 'restarting' || s === 'autorestarting') this.onSpareDied(spare);
    };
    const onConnection = (_: unknown, cs: Kernel.ConnectionStatus) => {
      if (cs === 'disconnected') this.onSpareDied(spare);
    };
    conn.statusChanged.connect(onDeath);
    conn.connectionStatusChanged.connect(onConnection);
    spare.unwatch = () => {
      conn.statusChanged.disconnect(onDeath);
      conn.connectionStatusChanged.disconnect(onConnection);
    };
    const deadline = new Promise<never>((_, reject) => {
      setTimeout(() => reject(new Error(`not ready within ${SPARE_READY_TIMEOUT_MS} ms`)), SPARE_READY_TIMEOUT_MS).unref();
    });
    await Promise.race([conn.info, deadline]);
    const t1 = Date.now();
    const future = conn.requestExecute({ code: this.deps.warmUpCode, silent: true, store_history: false, allow_stdin: false, stop_on_error: false }, true);
    await Promise.race([future.done, deadline]);
    if (spare.isDead) return null;
    this.deps.log(`spare kernel ${conn.id} ready in ${Date.now() - t0} ms (started in ${t1 - t0} ms, warm-up ${Date.now() - t1} ms)`);
    return conn;
  }

  private onSpareDied(spare: Spare): void {
    if (spare.isDead) return;
    this.deps.log(`spare kernel ${spare.conn?.id ?? '(starting)'} died; starting another`);
    this.discard(spare);
    this.fill();
  }

  /** Shuts a spare down and removes its folder; it leaves the pool. */
  private discard(spare: Spare): void {
    spare.isDead = true;
    this.spares = this.spares.filter((s) => s !== spare);
    const conn = spare.conn;
    spare.conn = null;
    if (conn) {
      const id = conn.id;
      conn.dispose();
      KernelAPI.shutdownKernel(id, this.deps.settings()).catch(() => undefined);
    }
    rmSync(spare.dir, { recursive: true, force: true });
  }

  /**
   * Hands a spare to the notebook whose working directory is `workDir` (a folder of the work root
   * that is absent or empty: a kernel that worked there before left files, and those are kept by
   * starting a kernel the ordinary way). The folder is renamed to `workDir`. Resolves with null
   * when no spare can be had; the caller starts a kernel itself.
   */
  async claim(workDir: string): Promise<ClaimedKernel | null> {
    if (this.isClosed || path.dirname(path.resolve(workDir)) !== path.resolve(this.deps.workRoot)) return null;
    if (!isAbsentOrEmpty(workDir)) return null;
    // the oldest spare is the furthest along
    const spare = this.spares[0];
    if (!spare) return null;
    // never shared: out of the pool before anything else can ask
    this.spares.shift();
    const conn = await spare.ready;
    if (!conn || spare.isDead || this.isClosed) {
      if (!spare.isDead) this.discard(spare);
      this.fill();
      return null;
    }
    try {
      rmdirSync(workDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') {
        // files appeared meanwhile: back into the pool, unused
        this.spares.unshift(spare);
        return null;
      }
    }
    try {
      renameSync(spare.dir, workDir);
    } catch (err) {
      this.deps.log(`could not hand spare kernel ${conn.id} to ${workDir}: ${(err as Error).message}`);
      mkdirSync(workDir, { recursive: true });
      this.discard(spare);
      this.fill();
      return null;
    }
    spare.unwatch();
    spare.conn = null;
    this.deps.log(`spare kernel ${conn.id} claimed for ${path.basename(workDir)}`);
    this.fill();
    return { conn };
  }

  /** Shuts every spare down (at server shutdown); one still starting is shut down when it answers. */
  async close(): Promise<void> {
    this.isClosed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const spares = this.spares.splice(0);
    await Promise.allSettled(
      spares.map(async (s) => {
        s.isDead = true;
        s.unwatch();
        const conn = s.conn;
        s.conn = null;
        if (conn) {
          const id = conn.id;
          conn.dispose();
          await KernelAPI.shutdownKernel(id, this.deps.settings()).catch(() => undefined);
        }
        rmSync(s.dir, { recursive: true, force: true });
      }),
    );
  }
}
