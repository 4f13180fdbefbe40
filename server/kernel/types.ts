import type { KernelSandboxOptions } from './sandbox.js';

export type KernelStatus = 'starting' | 'idle' | 'busy' | 'restarting' | 'dead' | 'unreachable';

export type KernelOutputMsgType =
  | 'stream'
  | 'display_data'
  | 'execute_result'
  | 'error'
  | 'clear_output'
  | 'update_display_data';

/** An iopub message that becomes (or changes) a cell output; `content` is the nbformat-ish iopub content. */
export interface KernelOutputMessage {
  msg_type: KernelOutputMsgType;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  content: any;
}

export interface ExecuteResult {
  status: 'ok' | 'error' | 'aborted';
  execution_count: number | null;
}

export interface ExecuteOptions {
  onOutput(msg: KernelOutputMessage): void;
  /**
   * Never called today: kernels run with allow_stdin=false, so `input()` raises
   * StdinNotImplementedError as an ordinary error output (docs/decisions/0003-kernel-gateway.md).
   */
  onStdinRequest?(prompt: string): void;
  /** Aborting interrupts the kernel; the execute then resolves with status 'aborted'. */
  signal?: AbortSignal;
}

export interface RemoteKernelOptions {
  /** kernelspec name (KERNEL_SPEC); unset: the gateway's default */
  kernelName?: string;
  /** KERNEL_USERNAME sent with every start (default `ynotebook`) */
  username?: string;
  /** absolute directory on the gateway's host (KERNEL_WORKDIR_ROOT); unset: `notebooks/` under where it starts kernels */
  workDirRoot?: string;
  /** extra KERNEL_* variables for the start request (KERNEL_START_ENV) */
  startEnv?: Record<string, string>;
}

export interface KernelServiceOptions {
  /** External gateway (KERNEL_GATEWAY_URL). Unset: an embedded gateway is started from `pythonDir`. */
  gatewayUrl?: string;
  gatewayToken?: string;
  /** Per-notebook kernel working directory = path.join(workRoot, sanitized notebookId). */
  workRoot: string;
  /** Kernels idle this long are shut down; the next execute starts a new one. Default 1 h. */
  idleCullMs?: number;
  /**
   * Sandbox and limits of the embedded gateway's kernels (ignored with `gatewayUrl`: there they are
   * that gateway's business). Omitted: mode `off`, so library users and tests that kill a kernel by
   * its host pid keep working; the server passes KERNEL_SANDBOX (default `auto`).
   */
  sandbox?: KernelSandboxOptions;
  /**
   * Kernel start options for an external gateway (Enterprise Gateway needs some of them): the
   * kernelspec to start, KERNEL_USERNAME, the directory on the gateway's side under which each
   * notebook's working directory lives (sent as KERNEL_WORKING_DIR), and extra KERNEL_* variables
   * (e.g. KERNEL_NAMESPACE, KERNEL_IMAGE). Ignored by the embedded gateway.
   */
  remoteKernel?: RemoteKernelOptions;
  /**
   * Several instances on one gateway (docs/decisions/0020): how a notebook's kernel started by
   * another instance is found again. Unset: every kernel is started here.
   */
  adoption?: (notebookId: string) => KernelAdoption;
  /**
   * Kernels kept started ahead for new notebooks (embedded gateway only; spare-pool.ts). Omitted:
   * 0, none; the server passes KERNEL_SPARE_POOL (default 1).
   */
  sparePool?: number;
  /** Folder holding requirements.txt, gateway_config.py and .venv. Default `kernel-gateway/`. */
  pythonDir?: string;
  log?: (msg: string) => void;
}

/** How a kernel started by another instance on the same gateway is found and reconnected to. */
export interface KernelAdoption {
  /** the id of the notebook's kernel as its last owner recorded it (null: none) */
  previousKernelId(): Promise<string | null>;
  /** this notebook's kernel is now `kernelId` (recorded for the next owner) */
  kernelChanged(kernelId: string): void;
}

/** What a kernel-side comm answered: its JSON data and its binary buffers. */
export interface CommReply {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
  buffers: Buffer[];
}

/** A comm opened on the kernel, used as request/answer: each request gets exactly one answer. */
export interface CommChannel {
  /** the kernel's answer to the open */
  readonly opened: CommReply;
  /** sends data (and binary buffers) and resolves with the kernel's answer to that message */
  request(data: Record<string, unknown>, buffers?: Uint8Array[], timeoutMs?: number): Promise<CommReply>;
  close(): void;
}

/** The kernel's completions at a cursor (Jupyter's complete_reply); offsets are JS string offsets (UTF-16). */
export interface CompleteResult {
  matches: string[];
  /** the span of `code` the chosen match replaces */
  cursor_start: number;
  cursor_end: number;
  /** IPython's `_jupyter_types_experimental` (type and signature of each match), when it sent them */
  metadata?: Record<string, unknown>;
}

/** The kernel's help for the name at a cursor (Jupyter's inspect_reply): signature and docstring. */
export interface InspectResult {
  found: boolean;
  /** `text/plain` (with IPython's ANSI colours) when found */
  data: { 'text/plain'?: string };
}

export interface NotebookKernel {
  readonly notebookId: string;
  readonly status: KernelStatus;
  /** True while a kernel process exists for this notebook (false before the first execute, after cull/shutdown/death). */
  readonly isRunning: boolean;
  /** Working directory of the kernel, on the kernel's host: absolute with the embedded gateway, relative to the start directory of an external gateway's kernels. */
  readonly workDir: string;
  onStatus(cb: (s: KernelStatus, detail?: string) => void): () => void;
  execute(code: string, opts: ExecuteOptions): Promise<ExecuteResult>;
  evaluateSilently(code: string, timeoutMs?: number): Promise<string>;
  /**
   * Opens a comm to a target registered in the kernel (starting the kernel when none runs) and
   * waits for its answer to the open. Like silent code, it waits behind a running cell.
   */
  openComm(target: string, data: Record<string, unknown>, timeoutMs?: number): Promise<CommChannel>;
  /**
   * Completions at `cursorPos` (a JS string offset into `code`). Never starts a kernel and never
   * fails: with no kernel running, past its deadline (it waits behind a running cell, like any
   * shell request) or on any error, the answer is empty.
   */
  complete(code: string, cursorPos: number, timeoutMs?: number): Promise<CompleteResult>;
  /** Help for the name at `cursorPos` (detail 0: signature and docstring; 1: also the source). Same rules as complete. */
  inspect(code: string, cursorPos: number, detailLevel?: 0 | 1, timeoutMs?: number): Promise<InspectResult>;
  interrupt(): Promise<void>;
  restart(): Promise<void>;
  shutdown(): Promise<void>;
}
