// One notebook's kernel on a Kernel Gateway: lazy start, per-notebook working directory,
// death detection, restart, idle cull. Knows nothing of Yjs.
import { readFileSync } from 'node:fs';
import { KernelAPI, KernelConnection, KernelMessage, type Kernel, type ServerConnection } from '@jupyterlab/services';
import { KernelError } from './errors.js';
import { probeGateway, toKernelError, type GatewayEndpoint } from './gateway-connection.js';
import { kernelConnectionOptions, type ClaimedKernel } from './spare-pool.js';
import type { CommChannel, CommReply, KernelAdoption, CompleteResult, ExecuteOptions, InspectResult, ExecuteResult, KernelOutputMessage, KernelOutputMsgType, KernelStatus, NotebookKernel } from './types.js';

/** Time for a started kernel to connect and answer kernel_info. */
export const KERNEL_READY_TIMEOUT_MS = 60_000;
export const DEFAULT_EVAL_TIMEOUT_MS = 10_000;
export const DEFAULT_IDLE_CULL_MS = 60 * 60 * 1000;
/** Default time a comm request (a file chunk, a listing) may wait for the kernel's answer. */
export const DEFAULT_COMM_TIMEOUT_MS = 60_000;
/**
 * How long a completion (or help) request may wait for the kernel's answer. Like execute, it is a
 * shell request: it waits behind a running cell, so past this it gives up with an empty answer
 * (the editor simply shows no suggestions) instead of holding the person's keystrokes.
 */
export const COMPLETE_TIMEOUT_MS = 1_500;
/** The same for a help request (Shift+Tab, inspect_request). */
export const INSPECT_REQUEST_TIMEOUT_MS = 1_500;
/**
 * Completion and help requests sent and not yet answered by one kernel. A long cell holds them
 * in the kernel's queue; past this many, new ones answer empty at once rather than pile up.
 */
export const MAX_PENDING_EDITOR_REQUESTS = 4;
/** Matches of one completion kept (IPython may offer thousands after an import). */
export const MAX_COMPLETE_MATCHES = 1_000;
/** Characters of one help text kept. */
export const MAX_INSPECT_CHARS = 50_000;
/** How long after the kernel finished a comm message its answer may still arrive. */
const COMM_ANSWER_GRACE_MS = 5_000;
/** How long a connection to an auto-restarted (dead for us) kernel may take to settle before we drop it. */
const AUTORESTART_SETTLE_MS = 15_000;

const OUTPUT_MSG_TYPES: ReadonlySet<string> = new Set<KernelOutputMsgType>([
  'stream',
  'display_data',
  'execute_result',
  'error',
  'clear_output',
  'update_display_data',
]);

export interface NotebookKernelDeps {
  notebookId: string;
  workDir: string;
  endpoint: () => GatewayEndpoint;
  settings: () => ServerConnection.ISettings;
  kernelEnv: (workDir: string) => Record<string, string>;
  /** kernelspec to start (external gateways); unset: the gateway's default */
  kernelName?: string;
  /** when set and it returns an error, no kernel is started (KERNEL_SANDBOX=required without bubblewrap) */
  startBlocker?: () => KernelError | null;
  idleCullMs: number;
  log: (msg: string) => void;
  /** several instances (docs/decisions/0020): reconnect to the notebook's kernel another instance started */
  adoption?: KernelAdoption;
  /**
   * A kernel started ahead (spare-pool.ts), its folder already renamed to `workDir`; null when none
   * can be had. Only for a start, never for a restart.
   */
  claimSpare?: (workDir: string) => Promise<ClaimedKernel | null>;
}

type Listener = (s: KernelStatus, detail?: string) => void;

/** The kernel side of the files API (see files_helper.py), installed at every (re)start. */
const FILES_HELPER_SOURCE = readFileSync(new URL('./files_helper.py', import.meta.url), 'utf8');

/**
 * `pip install` in a kernel of the embedded gateway goes to the notebook's own folder (PIP_TARGET,
 * also on PYTHONPATH; see kernel-gateway/kernel_launcher.py). That folder is made by the first
 * install, after the import system has noted it as missing: once it changes, the import caches are
 * dropped so the package imports at once. No-op where YNOTEBOOK_PIP_TARGET is unset (remote gateways).
 */
const PIP_TARGET_HOOK = `
def __yn_pip_hook():
    import os, sys, importlib
    target = os.environ.get("YNOTEBOOK_PIP_TARGET")
    ip = get_ipython() if "get_ipython" in globals() else None
    if not target or ip is None:
        return
    if target not in sys.path:
        sys.path.insert(1, target)
    seen = [None]
    def after(*_):
        try:
            mtime = os.stat(target).st_mtime_ns
        except OSError:
            return
        if mtime != seen[0]:
            seen[0] = mtime
            importlib.invalidate_caches()
    ip.events.register("post_run_cell", after)
__yn_pip_hook()
del __yn_pip_hook
def __yn_memory_note():
    import errno, os
    limit = os.environ.get("YNOTEBOOK_MEMORY_MB")
    quota = os.environ.get("YNOTEBOOK_FILES_QUOTA_MB")
    ip = get_ipython() if "get_ipython" in globals() else None
    if not (limit or quota) or ip is None:
        return
    memory_note = "This kernel may use at most %s MiB of memory (KERNEL_MEMORY_MB); free some (del, gc.collect()) or restart the kernel." % limit
    if os.environ.get("YNOTEBOOK_FILES_QUOTA_KIND") == "folder":
        disk_note = "This notebook's folder holds at most %s MiB (FILES_QUOTA_MB); delete some files (the Files panel) to make room." % quota
    else:
        disk_note = "A file this kernel writes may be at most %s MiB (FILES_QUOTA_MB)." % quota
    # one handler (IPython keeps one): the limit a MemoryError or a full disk ran into, said in the output
    def on_limit_error(shell, etype, value, tb, tb_offset=None):
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        import sys
        if limit and issubclass(etype, MemoryError):
            print(memory_note, file=sys.stderr)
        elif quota and getattr(value, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            print(disk_note, file=sys.stderr)
    ip.set_custom_exc((MemoryError, OSError), on_limit_error)
__yn_memory_note()
del __yn_memory_note`;

/**
 * A claimed spare kernel (spare-pool.ts) already works in the notebook's folder, renamed from the
 * spare's: in the sandbox under the spare's path (the bind mount follows the folder), without it
 * under the new path. Enter the new path where it exists, and point pip's target (set by the
 * launcher from the spare's path) at the folder as this kernel sees it.
 */
const SPARE_ENTER_CODE = (workDir: string): string[] => [
  `if __yn_os.path.isdir(${JSON.stringify(workDir)}): __yn_os.chdir(${JSON.stringify(workDir)})`,
  `def __yn_fix_pip_target():
    import os, sys
    old = os.environ.get("YNOTEBOOK_PIP_TARGET")
    new = os.path.join(os.getcwd(), ".ynotebook", "site-packages")
    if not old or old == new:
        return
    for k in ("PIP_TARGET", "YNOTEBOOK_PIP_TARGET"):
        os.environ[k] = new
    os.environ["PYTHONPATH"] = os.pathsep.join(new if p == old else p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep))
    sys.path[:] = [new if p == old else p for p in sys.path]
__yn_fix_pip_target()
del __yn_fix_pip_target`,
];

/**
 * Python run silently after every (re)start: the working directory is set from inside the kernel,
 * so it works with any gateway (remote, Enterprise Gateway) and not only one sharing our disk; the
 * files helper is registered in a namespace of its own, invisible to the notebook's code.
 * JSON string literals are valid Python string literals.
 */
function initCode(workDir: string, isSpare = false): string {
  return [
    'import os as __yn_os',
    ...(isSpare ? SPARE_ENTER_CODE(workDir) : [`__yn_os.makedirs(${JSON.stringify(workDir)}, exist_ok=True)`, `__yn_os.chdir(${JSON.stringify(workDir)})`]),
    'del __yn_os',
    '__yn_ns = {"__name__": "ynotebook_files"}',
    `exec(compile(${JSON.stringify(FILES_HELPER_SOURCE)}, "<ynotebook files>", "exec"), __yn_ns)`,
    // the directory just entered, made absolute: later chdir()s of the notebook's code do not move it
    '__yn_ns["register"](__import__("os").getcwd())',
    'del __yn_ns',
    PIP_TARGET_HOOK,
  ].join('\n');
}

/**
 * Run silently once a kernel is ready: IPython's first completion loads jedi, parso's grammar and
 * the builtins' stubs (a second or more on a busy machine), which would make the first Tab of
 * every new kernel miss COMPLETE_TIMEOUT_MS. Not awaited by the start; an execute waits for it
 * (see `warming`) so that an interrupt never lands in it instead of the cell. Never fails.
 */
export const COMPLETER_WARM_UP = `
def __yn_warm():
    try:
        from IPython.core.completer import provisionalcompleter
        with provisionalcompleter():
            for code in ("pri", "str.up"):
                list(get_ipython().Completer.completions(code, len(code)))
    except Exception:
        pass
__yn_warm()
del __yn_warm`;

/** A standalone ArrayBuffer holding exactly these bytes: the message serializer ignores byteOffset. */
function exactBuffer(b: Uint8Array): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) return b.buffer;
  // a copy (Buffer#slice would share the pool's memory instead)
  return new Uint8Array(b).buffer as ArrayBuffer;
}

/** The code point offset (Jupyter's cursor_pos, protocol 5.2+) of a JS (UTF-16) string offset. */
export function toCodePointOffset(text: string, utf16Offset: number): number {
  let n = 0;
  for (let i = 0; i < Math.min(utf16Offset, text.length); i++) {
    const c = text.charCodeAt(i);
    // a surrogate pair is one code point: count its high half only
    if (!(c >= 0xdc00 && c <= 0xdfff && i > 0 && isHighSurrogate(text.charCodeAt(i - 1)))) n++;
  }
  return n;
}

/** The JS (UTF-16) string offset of a code point offset into `text`. */
export function toUtf16Offset(text: string, codePointOffset: number): number {
  let i = 0;
  for (let n = 0; n < codePointOffset && i < text.length; n++) i += isHighSurrogate(text.charCodeAt(i)) && i + 1 < text.length ? 2 : 1;
  return i;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function toBuffers(list: readonly (ArrayBuffer | ArrayBufferView)[] | undefined): Buffer[] {
  return (list ?? []).map((b) => (ArrayBuffer.isView(b) ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : Buffer.from(b)));
}

export class NotebookKernelImpl implements NotebookKernel {
  readonly notebookId: string;
  readonly workDir: string;
  private conn: KernelConnection | null = null;
  private isReady = false;
  private startPromise: Promise<KernelConnection> | null = null;
  private _status: KernelStatus = 'idle';
  private listeners = new Set<Listener>();
  /** Rejecters of requests waiting on the current kernel; called when it dies or restarts. */
  private inflight = new Set<(err: KernelError) => void>();
  private isRestartExpected = false;
  /**
   * The current kernel was a spare: the gateway would restart it with the spare's (renamed away)
   * folder, so a restart starts a new kernel instead.
   */
  private isClaimedSpare = false;
  /**
   * The completer warm-up after a (re)start, until the kernel has run it. An execute waits for it
   * before sending its code: an interrupt meanwhile then skips the code, instead of interrupting
   * the warm-up and leaving the cell to run.
   */
  private warming: Promise<void> | null = null;
  /** completion and help requests the kernel has not answered yet */
  private pendingEditorRequests = 0;
  private cullTimer: NodeJS.Timeout | null = null;
  private isClosed = false;
  /** ids of the kernels this object connected to (run ownership, docs/decisions/0020) */
  private usedKernelIds = new Set<string>();

  constructor(private readonly deps: NotebookKernelDeps) {
    this.notebookId = deps.notebookId;
    this.workDir = deps.workDir;
  }

  get status(): KernelStatus {
    return this._status;
  }

  get isRunning(): boolean {
    return this.conn !== null && this.isReady;
  }

  /** Gateway id of the current kernel, if any (for tests and diagnostics). */
  get kernelId(): string | null {
    return this.conn?.id ?? null;
  }

  onStatus(cb: Listener): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private setStatus(s: KernelStatus, detail?: string): void {
    if (s === this._status && detail === undefined) return;
    this._status = s;
    for (const cb of [...this.listeners]) {
      try {
        cb(s, detail);
      } catch (err) {
        this.deps.log(`kernel status listener threw: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  // ---- lifecycle -------------------------------------------------------------------------

  private ensureKernel(): Promise<KernelConnection> {
    if (this.isClosed) return Promise.reject(new KernelError('CLOSED', 'the kernel service is closed'));
    if (this.conn && this.isReady) return Promise.resolve(this.conn);
    if (!this.startPromise) {
      this.startPromise = this.startKernel().finally(() => {
        this.startPromise = null;
      });
    }
    return this.startPromise;
  }

  private async startKernel(): Promise<KernelConnection> {
    this.clearCull();
    const blocked = this.deps.startBlocker?.();
    if (blocked) {
      this.setStatus('dead', blocked.message);
      throw blocked;
    }
    this.setStatus('starting');
    const fail = (err: KernelError): never => {
      this.setStatus(err.code === 'GATEWAY_UNREACHABLE' ? 'unreachable' : 'dead', err.message);
      throw err;
    };
    // run ownership (docs/decisions/0020): the kernel another instance left on this gateway comes
    // before a spare (spares exist only on an embedded gateway, adoption only on a shared one)
    const adopted = this.deps.adoption ? await this.adoptableKernel() : null;
    // a spare kernel started ahead, its completer already warm; its folder is this notebook's now
    const claimed = adopted || this.isClosed ? null : await this.deps.claimSpare?.(this.workDir).catch(() => null);
    if (claimed) {
      const conn = claimed.conn;
      this.conn = conn;
      this.isReady = false;
      this.isClaimedSpare = true;
      this.wire(conn);
      try {
        await this.runInit(conn, true);
      } catch (err) {
        if (this.conn === conn) {
          this.conn = null;
          this.disposeRemote(conn);
        }
        return fail(err instanceof KernelError ? err : toKernelError(err, 'KERNEL_START_FAILED', 'starting a kernel'));
      }
      this.isReady = true;
      this.deps.log(`kernel ${conn.id} (a spare) started for notebook ${this.notebookId}`);
      this.usedKernelIds.add(conn.id);
      this.deps.adoption?.kernelChanged(conn.id);
      this.setStatus('idle');
      this.scheduleCull();
      return conn;
    }
    this.isClaimedSpare = false;
    try {
      await probeGateway(this.deps.endpoint());
    } catch (err) {
      fail(toKernelError(err, 'KERNEL_START_FAILED', 'starting a kernel'));
    }
    let model: Kernel.IModel | null = adopted;
    const adoptedId = model?.id;
    if (!model) {
      try {
        // `env` is always sent: without it Kernel Gateway hands the kernel its whole environment.
        const body = { ...(this.deps.kernelName ? { name: this.deps.kernelName } : {}), env: this.deps.kernelEnv(this.workDir) } as unknown as Kernel.IKernelOptions;
        model = await KernelAPI.startNew(body, this.deps.settings());
      } catch (err) {
        return fail(toKernelError(err, 'KERNEL_START_FAILED', 'starting a kernel'));
      }
    }
    const conn = new KernelConnection(kernelConnectionOptions(model, this.deps.settings()));
    this.conn = conn;
    this.isReady = false;
    this.wire(conn);
    try {
      await this.waitReady(conn);
      await this.runInit(conn);
    } catch (err) {
      if (this.conn === conn) {
        this.conn = null;
        this.disposeRemote(conn);
      }
      return fail(err instanceof KernelError ? err : toKernelError(err, 'KERNEL_START_FAILED', 'starting a kernel'));
    }
    this.isReady = true;
    this.warmCompleter(conn);
    this.deps.log(`kernel ${conn.id} ${model.id === adoptedId ? 'adopted' : 'started'} for notebook ${this.notebookId}`);
    this.usedKernelIds.add(conn.id);
    this.deps.adoption?.kernelChanged(conn.id);
    this.setStatus('idle');
    this.scheduleCull();
    return conn;
  }

  // ---- run ownership across instances (docs/decisions/0020) ----
  /**
   * The kernel the notebook's previous owner instance recorded, when the gateway still has it: its
   * variables survive the takeover. A run that owner left going is interrupted (nobody reads its
   * outputs any more, and the next run would wait behind it). Null: start a new kernel.
   */
  private async adoptableKernel(): Promise<Kernel.IModel | null> {
    const id = await this.deps.adoption?.previousKernelId().catch(() => null);
    // one this object used before is dead for us (death, restart gone wrong): never take it back
    if (!id || this.usedKernelIds.has(id)) return null;
    try {
      const model = await KernelAPI.getKernelModel(id, this.deps.settings());
      if (!model) return null;
      if (model.execution_state === 'busy') await KernelAPI.interruptKernel(id, this.deps.settings()).catch(() => undefined);
      return model;
    } catch {
      return null;
    }
  }

  /**
   * Stops using the kernel without shutting it down: another instance owns the notebook now and
   * reconnects to it. Requests waiting on it fail with `detail`.
   */
  detach(detail: string): void {
    const conn = this.conn;
    this.clearCull();
    this.conn = null;
    this.isReady = false;
    if (!conn) return;
    this.rejectInflight(new KernelError('KERNEL_DEAD', detail));
    conn.dispose();
  }
  // ---- end run ownership ----

  private wire(conn: KernelConnection): void {
    conn.statusChanged.connect((_sender, s) => {
      if (conn !== this.conn) return;
      switch (s) {
        case 'busy':
        case 'idle':
          if (this.isReady && !this.isRestartExpected) this.setStatus(s);
          break;
        case 'restarting':
        case 'autorestarting':
          // Our own restart() announces itself; anything else is the server noticing that the
          // kernel process died (and restarting it, without our working directory or state).
          if (!this.isRestartExpected) {
            // Unrequested 'restarting' only comes from an iopub status, after which the library
            // reconnects by itself (see handleDeath).
            this.handleDeath(conn, 'The kernel died unexpectedly (killed, crashed or out of memory).', true);
          }
          break;
        case 'dead':
          this.handleDeath(conn, 'The kernel is dead.');
          break;
        default:
          break;
      }
    });
    conn.connectionStatusChanged.connect((_sender, cs) => {
      if (conn === this.conn && cs === 'disconnected') this.handleDeath(conn, 'Lost the connection to the kernel.');
    });
  }

  /** The gateway lost all its kernels (the embedded gateway crashed). */
  notifyGatewayLost(detail: string): void {
    if (this.conn) this.handleDeath(this.conn, detail);
  }

  private handleDeath(conn: KernelConnection, detail: string, isAutorestarting = false): void {
    if (conn !== this.conn) return;
    this.conn = null;
    this.isReady = false;
    this.clearCull();
    this.deps.log(`kernel ${conn.id} of notebook ${this.notebookId}: ${detail}`);
    this.rejectInflight(new KernelError('KERNEL_DEAD', `${detail} Its variables are lost; restart the kernel and run the cells again.`));
    this.setStatus('dead', detail);
    // An auto-restarted kernel would run in the wrong directory: remove it, start fresh next time.
    if (!isAutorestarting) {
      this.disposeRemote(conn);
      return;
    }
    // @jupyterlab/services reconnects right after 'autorestarting' and leaves the promise of that
    // reconnect unhandled: disposing the connection before it settles would surface as an
    // unhandled rejection. So let it connect to the restarted kernel, then remove both.
    let isDone = false;
    const finish = () => {
      if (isDone) return;
      isDone = true;
      conn.connectionStatusChanged.disconnect(onConnection);
      setTimeout(() => this.disposeRemote(conn), 0);
    };
    const onConnection = (_sender: unknown, cs: string) => {
      if (cs === 'connected') finish();
    };
    conn.connectionStatusChanged.connect(onConnection);
    setTimeout(finish, AUTORESTART_SETTLE_MS).unref();
  }

  private rejectInflight(err: KernelError): void {
    const rejecters = [...this.inflight];
    this.inflight.clear();
    for (const reject of rejecters) reject(err);
  }

  private disposeRemote(conn: KernelConnection): void {
    const id = conn.id;
    conn.dispose();
    KernelAPI.shutdownKernel(id, this.deps.settings()).catch(() => {
      /* already gone, or gateway down: nothing to clean */
    });
  }

  private async waitReady(conn: KernelConnection): Promise<void> {
    await this.track(conn.info, KERNEL_READY_TIMEOUT_MS, 'the kernel did not answer kernel_info');
  }

  private async runInit(conn: KernelConnection, isSpare = false): Promise<void> {
    const future = conn.requestExecute(
      { code: initCode(this.workDir, isSpare), silent: true, store_history: false, allow_stdin: false, stop_on_error: false },
      true,
    );
    const reply = await this.track(future.done, KERNEL_READY_TIMEOUT_MS, 'the kernel did not run its start-up code');
    if (reply.content.status !== 'ok') {
      const c = reply.content as KernelMessage.IReplyErrorContent;
      throw new KernelError('KERNEL_START_FAILED', `could not enter the working directory ${this.workDir}: ${c.ename}: ${c.evalue}`);
    }
  }

  private warmCompleter(conn: KernelConnection): void {
    try {
      const future = conn.requestExecute({ code: COMPLETER_WARM_UP, silent: true, store_history: false, allow_stdin: false, stop_on_error: false }, true);
      // a kernel that dies or restarts meanwhile: nothing to warm (disposed futures reject)
      const warming: Promise<void> = future.done.then(
        () => undefined,
        () => undefined,
      );
      this.warming = warming;
      void warming.then(() => {
        if (this.warming === warming) this.warming = null;
      });
    } catch {
      // the connection went away: nothing to warm
    }
  }

  /** Races a promise with the death of the kernel (and an optional deadline). */
  private track<T>(p: Promise<T>, timeoutMs?: number, timeoutWhat?: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      const rejecter = (err: KernelError) => {
        if (timer) clearTimeout(timer);
        reject(err);
      };
      this.inflight.add(rejecter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.inflight.delete(rejecter);
          reject(new KernelError('TIMEOUT', `${timeoutWhat ?? 'kernel request'} within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      p.then(
        (v) => {
          if (timer) clearTimeout(timer);
          this.inflight.delete(rejecter);
          resolve(v);
        },
        (err: unknown) => {
          if (timer) clearTimeout(timer);
          this.inflight.delete(rejecter);
          reject(err instanceof KernelError ? err : new KernelError('KERNEL_DEAD', `kernel request failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
        },
      );
    });
  }

  // ---- idle cull ------------------------------------------------------------------------

  private clearCull(): void {
    if (this.cullTimer) clearTimeout(this.cullTimer);
    this.cullTimer = null;
  }

  private scheduleCull(): void {
    this.clearCull();
    if (!this.conn || this.deps.idleCullMs <= 0 || !Number.isFinite(this.deps.idleCullMs)) return;
    this.cullTimer = setTimeout(() => {
      this.cullTimer = null;
      if (this.inflight.size > 0 || this.startPromise || this.warming || !this.conn) return this.scheduleCull();
      this.deps.log(`culling kernel of notebook ${this.notebookId} after ${this.deps.idleCullMs} ms idle`);
      this.stopKernel('culled after being idle; it starts again on the next run').catch(() => {});
    }, this.deps.idleCullMs);
    this.cullTimer.unref();
  }

  // ---- public operations ----------------------------------------------------------------

  async execute(code: string, opts: ExecuteOptions): Promise<ExecuteResult> {
    const conn = await this.ensureKernel();
    if (this.warming) await this.warming;
    // interrupted while the kernel was starting (or warming its completer): the code never runs
    if (opts.signal?.aborted) return { status: 'aborted', execution_count: null };
    this.clearCull();
    let isAborted = false;
    const onAbort = () => {
      isAborted = true;
      this.interrupt().catch((err: unknown) => this.deps.log(`interrupt on abort failed: ${String(err)}`));
    };
    let onConnIopub: ((sender: unknown, msg: KernelMessage.IIOPubMessage) => void) | null = null;
    try {
      // allow_stdin=false: input() raises StdinNotImplementedError instead of waiting forever.
      const future = conn.requestExecute({ code, silent: false, store_history: true, allow_stdin: false, stop_on_error: true }, true);
      const forward = (msg: KernelMessage.IIOPubMessage) => {
        try {
          opts.onOutput({ msg_type: msg.header.msg_type as KernelOutputMsgType, content: msg.content } satisfies KernelOutputMessage);
        } catch (err) {
          this.deps.log(`onOutput threw: ${err instanceof Error ? err.message : String(err)}`);
        }
      };
      future.onIOPub = (msg) => {
        const t = msg.header.msg_type;
        // updates come through the connection-wide signal below, exactly once
        if (!OUTPUT_MSG_TYPES.has(t) || t === 'update_display_data') return;
        forward(msg);
      };
      // @jupyterlab/services routes update_display_data to the future that first displayed the id
      // (often an earlier cell's, long finished); the connection's signal sees every one of them.
      const requestId = future.msg.header.msg_id;
      onConnIopub = (_: unknown, msg: KernelMessage.IIOPubMessage) => {
        if (msg.header.msg_type === 'update_display_data' && msg.parent_header && (msg.parent_header as { msg_id?: string }).msg_id === requestId) forward(msg);
      };
      conn.iopubMessage.connect(onConnIopub);
      if (opts.signal) {
        if (opts.signal.aborted) onAbort();
        else opts.signal.addEventListener('abort', onAbort, { once: true });
      }
      const reply = (await this.track(future.done)) as KernelMessage.IExecuteReplyMsg;
      const content = reply.content;
      // `obj?` and `help()`-like pages come as a payload of the reply, not on iopub; they are the
      // cell's output, as JupyterLab shows them
      const payload = content.status === 'ok' ? (content as { payload?: unknown }).payload : undefined;
      if (Array.isArray(payload)) {
        for (const p of payload as { source?: unknown; data?: unknown }[]) {
          if (p?.source !== 'page' || typeof p.data !== 'object' || p.data === null) continue;
          try {
            opts.onOutput({ msg_type: 'display_data', content: { data: p.data, metadata: {} } });
          } catch (err) {
            this.deps.log(`onOutput threw: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
      }
      // 'abort' is an older spelling of 'aborted' that the message types still allow.
      const status: ExecuteResult['status'] =
        content.status === 'ok' ? 'ok' : isAborted || content.status !== 'error' ? 'aborted' : 'error';
      return { status, execution_count: content.execution_count ?? null };
    } finally {
      if (onConnIopub) conn.iopubMessage.disconnect(onConnIopub);
      opts.signal?.removeEventListener('abort', onAbort);
      this.scheduleCull();
    }
  }

  async evaluateSilently(code: string, timeoutMs = DEFAULT_EVAL_TIMEOUT_MS): Promise<string> {
    const conn = await this.ensureKernel();
    this.clearCull();
    try {
      const future = conn.requestExecute({ code, silent: true, store_history: false, allow_stdin: false, stop_on_error: false }, true);
      let stdout = '';
      future.onIOPub = (msg) => {
        if (msg.header.msg_type === 'stream') {
          const c = msg.content as KernelMessage.IStreamMsg['content'];
          if (c.name === 'stdout') stdout += c.text;
        }
      };
      let reply: KernelMessage.IExecuteReplyMsg;
      try {
        reply = (await this.track(future.done, timeoutMs, 'silent evaluation did not finish')) as KernelMessage.IExecuteReplyMsg;
      } catch (err) {
        future.dispose();
        throw err;
      }
      if (reply.content.status === 'error') {
        const c = reply.content as KernelMessage.IReplyErrorContent;
        throw new KernelError('EVAL_FAILED', `${c.ename}: ${c.evalue}`);
      }
      if (reply.content.status !== 'ok') throw new KernelError('EVAL_FAILED', `evaluation ${reply.content.status}`);
      return stdout;
    } finally {
      this.scheduleCull();
    }
  }

  async openComm(target: string, data: Record<string, unknown>, timeoutMs = DEFAULT_COMM_TIMEOUT_MS): Promise<CommChannel> {
    const conn = await this.ensureKernel();
    this.clearCull();
    const comm = conn.createComm(target);
    let isClosed = false;
    // One answer per message: the kernel replies with a comm_msg whose parent is our message. It is
    // matched by parent id on the comm itself, since ipykernel may publish the request's "idle"
    // status before the answer (then the request's future is already done).
    const waiting = new Map<string, (reply: CommReply) => void>();
    comm.onMsg = (msg) => {
      const parentId = (msg.parent_header as { msg_id?: string } | undefined)?.msg_id;
      const resolve = parentId ? waiting.get(parentId) : undefined;
      if (!resolve) return;
      waiting.delete(parentId!);
      resolve({ data: msg.content.data, buffers: toBuffers(msg.buffers) });
    };
    const ask = (send: () => Kernel.IShellFuture, what: string, timeout: number): Promise<CommReply> => {
      const future = send();
      const id = future.msg.header.msg_id;
      const answered = new Promise<CommReply>((resolve, reject) => {
        waiting.set(id, resolve);
        // handled, yet no answer even a while after: the kernel-side helper is missing or broke
        future.done.then(
          () => {
            setTimeout(() => {
              if (!waiting.delete(id)) return;
              reject(new KernelError('COMM_FAILED', `the kernel gave no answer to ${what} (its files helper is not running)`));
            }, COMM_ANSWER_GRACE_MS).unref();
          },
          () => undefined, // death and timeouts come through track()
        );
      });
      return this.track(answered, timeout, `the kernel did not answer ${what}`).catch((err: unknown) => {
        waiting.delete(id);
        throw err;
      });
    };
    try {
      const opened = await ask(() => comm.open(data as never), `opening ${target}`, timeoutMs);
      return {
        opened,
        request: (body, buffers, t = timeoutMs) => {
          if (isClosed || comm.isDisposed) return Promise.reject(new KernelError('COMM_FAILED', 'the comm is closed'));
          return ask(() => comm.send(body as never, undefined, buffers?.map(exactBuffer), true), `${target} ${String(body.op ?? 'request')}`, t);
        },
        close: () => {
          if (isClosed) return;
          isClosed = true;
          if (!comm.isDisposed && !conn.isDisposed) {
            try {
              comm.close();
            } catch {
              // the kernel is gone: nothing to close
            }
          }
          this.scheduleCull();
        },
      };
    } catch (err) {
      isClosed = true;
      try {
        if (!comm.isDisposed && !conn.isDisposed) comm.close();
      } catch {
        // the kernel is gone
      }
      this.scheduleCull();
      throw err;
    }
  }

  async complete(code: string, cursorPos: number, timeoutMs = COMPLETE_TIMEOUT_MS): Promise<CompleteResult> {
    const empty: CompleteResult = { matches: [], cursor_start: cursorPos, cursor_end: cursorPos };
    const reply = await this.editorRequest('complete_request', { code, cursor_pos: toCodePointOffset(code, cursorPos) }, timeoutMs);
    const c = reply as Partial<KernelMessage.ICompleteReplyMsg['content']> | null;
    if (!c || c.status !== 'ok' || !Array.isArray(c.matches)) return empty;
    const matches = c.matches.filter((m): m is string => typeof m === 'string').slice(0, MAX_COMPLETE_MATCHES);
    const result: CompleteResult = {
      matches,
      cursor_start: typeof c.cursor_start === 'number' ? toUtf16Offset(code, c.cursor_start) : cursorPos,
      cursor_end: typeof c.cursor_end === 'number' ? toUtf16Offset(code, c.cursor_end) : cursorPos,
    };
    // IPython's types and signatures of the matches, in their order; cut like the matches
    const types = (c.metadata as { _jupyter_types_experimental?: unknown } | undefined)?._jupyter_types_experimental;
    if (Array.isArray(types)) result.metadata = { _jupyter_types_experimental: types.slice(0, MAX_COMPLETE_MATCHES) };
    return result;
  }

  async inspect(code: string, cursorPos: number, detailLevel: 0 | 1 = 0, timeoutMs = INSPECT_REQUEST_TIMEOUT_MS): Promise<InspectResult> {
    const reply = await this.editorRequest('inspect_request', { code, cursor_pos: toCodePointOffset(code, cursorPos), detail_level: detailLevel }, timeoutMs);
    const c = reply as Partial<KernelMessage.IInspectReplyMsg['content']> | null;
    const text = c?.status === 'ok' && c.found ? (c.data as Record<string, unknown> | undefined)?.['text/plain'] : undefined;
    if (typeof text !== 'string') return { found: false, data: {} };
    const cut = text.length > MAX_INSPECT_CHARS ? `${text.slice(0, MAX_INSPECT_CHARS)}\n[help cut to ${MAX_INSPECT_CHARS} characters]` : text;
    return { found: true, data: { 'text/plain': cut } };
  }

  /**
   * A shell request for the editor (complete, inspect), straight to the kernel: never through the
   * run queue, never starting a kernel. Resolves with the reply's content, or null when there is
   * no kernel, too many requests wait already, the deadline passed or anything failed.
   */
  private async editorRequest(msgType: 'complete_request' | 'inspect_request', content: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    const conn = this.conn;
    if (!conn || !this.isReady || conn.isDisposed || this.isRestartExpected) return null;
    if (this.pendingEditorRequests >= MAX_PENDING_EDITOR_REQUESTS) return null;
    let future: Kernel.IShellFuture;
    try {
      const msg = KernelMessage.createMessage({ msgType, channel: 'shell', username: conn.username, session: conn.clientId, content } as never);
      future = conn.sendShellMessage(msg as never, true, true);
    } catch {
      return null;
    }
    // counted until the kernel answers (it may do so after we gave up) or the connection goes
    this.pendingEditorRequests++;
    const answered = future.done.finally(() => {
      this.pendingEditorRequests--;
    });
    answered.catch(() => undefined);
    try {
      const reply = await this.track(answered, timeoutMs, `the kernel did not answer ${msgType}`);
      return (reply as KernelMessage.IShellMessage).content;
    } catch {
      return null;
    }
  }

  async interrupt(): Promise<void> {
    const conn = this.conn;
    if (!conn || conn.isDisposed) return;
    try {
      await conn.interrupt();
    } catch (err) {
      throw toKernelError(err, 'GATEWAY_ERROR', 'interrupting the kernel');
    }
  }

  async restart(): Promise<void> {
    if (this.startPromise) await this.startPromise.catch(() => {});
    const conn = this.conn;
    if (!conn || !this.isReady || conn.isDisposed || this.isClaimedSpare) {
      // Nothing running (never started, culled, dead), or a former spare (see isClaimedSpare): a
      // fresh kernel is the restart.
      if (conn && this.isClaimedSpare && this.isReady) {
        this.clearCull();
        this.isRestartExpected = true;
        this.setStatus('restarting');
        this.rejectInflight(new KernelError('KERNEL_RESTARTED', 'The kernel was restarted while this was running.'));
        this.conn = null;
        this.isReady = false;
        this.disposeRemote(conn);
        this.isRestartExpected = false;
      }
      if (conn) {
        this.conn = null;
        this.disposeRemote(conn);
      }
      await this.ensureKernel();
      return;
    }
    this.clearCull();
    this.isRestartExpected = true;
    this.setStatus('restarting');
    this.rejectInflight(new KernelError('KERNEL_RESTARTED', 'The kernel was restarted while this was running.'));
    try {
      await this.track(conn.restart(), KERNEL_READY_TIMEOUT_MS, 'the kernel did not restart');
      await this.waitReady(conn);
      await this.runInit(conn);
      this.warmCompleter(conn);
      this.isRestartExpected = false;
      this.setStatus('idle');
      this.scheduleCull();
    } catch (err) {
      this.isRestartExpected = false;
      this.deps.log(`restart of kernel ${conn.id} failed (${err instanceof Error ? err.message : String(err)}); starting a new one`);
      if (this.conn === conn) {
        this.conn = null;
        this.isReady = false;
        this.disposeRemote(conn);
      }
      await this.ensureKernel();
    }
  }

  async shutdown(): Promise<void> {
    await this.stopKernel('shut down; it starts again on the next run');
  }

  private async stopKernel(detail: string): Promise<void> {
    if (this.startPromise) await this.startPromise.catch(() => {});
    const conn = this.conn;
    this.clearCull();
    if (!conn) return;
    this.conn = null;
    this.isReady = false;
    this.rejectInflight(new KernelError('KERNEL_DEAD', `The kernel was ${detail.split(';')[0]}.`));
    try {
      await conn.shutdown();
    } catch {
      this.disposeRemote(conn);
    }
    this.setStatus('idle', detail);
  }

  async close(): Promise<void> {
    await this.stopKernel('closed').catch(() => {});
    this.isClosed = true;
    this.listeners.clear();
  }
}
