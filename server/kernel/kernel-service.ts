import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { KernelAPI, type ServerConnection } from '@jupyterlab/services';
import { DEFAULT_PYTHON_DIR, EmbeddedGateway, venvBinDir, venvPython } from './embedded-gateway.js';
import { KernelError } from './errors.js';
import { makeServerSettings, normalizeGatewayUrl, probeGateway, type GatewayEndpoint } from './gateway-connection.js';
import { kernelEnv, notebookWorkDir, remoteNotebookWorkDir } from './kernel-env.js';
import { DEFAULT_IDLE_CULL_MS, NotebookKernelImpl } from './notebook-kernel.js';
import { resolveSandbox, type SandboxState } from './sandbox.js';
import { COMPLETER_WARM_UP } from './notebook-kernel.js';
import { SparePool } from './spare-pool.js';
import type { KernelServiceOptions, NotebookKernel } from './types.js';

/**
 * One kernel per notebook on one Kernel Gateway: an external one (KERNEL_GATEWAY_URL) or an
 * embedded one started from kernel-gateway/.venv and supervised here.
 */
export class KernelService {
  private readonly kernels = new Map<string, NotebookKernelImpl>();
  private settings: ServerConnection.ISettings;
  private isClosed = false;
  /** spare kernels started ahead (embedded gateway only; none when sparePool is 0) */
  private readonly spares: SparePool | null;

  private constructor(
    private readonly opts: KernelServiceOptions & { idleCullMs: number; pythonDir: string; log: (m: string) => void },
    private readonly endpoint: GatewayEndpoint,
    private readonly embedded: EmbeddedGateway | null,
    private readonly sandboxState: SandboxState | null,
  ) {
    this.settings = makeServerSettings(endpoint);
    const size = opts.sparePool ?? 0;
    // Only where this server starts the kernels: the spare's folder is renamed on our disk.
    this.spares =
      embedded && size > 0 && !sandboxState?.isRefusing
        ? new SparePool({
            size,
            workRoot: opts.workRoot,
            settings: () => this.settings,
            kernelEnv: (dir) => kernelEnv(dir, { venvBin: venvBinDir(opts.pythonDir), isLocal: true }),
            warmUpCode: COMPLETER_WARM_UP,
            log: opts.log,
          })
        : null;
    this.spares?.fill();
  }

  /** Resolves when the spare kernels being started are up (benchmarks, tests). */
  async sparesSettled(): Promise<void> {
    await this.spares?.settled();
  }

  /** Kernel ids of the spare kernels waiting for a notebook (tests, diagnostics). */
  get spareKernelIds(): string[] {
    return this.spares?.spareKernelIds ?? [];
  }

  static async create(options: KernelServiceOptions): Promise<KernelService> {
    const opts = {
      ...options,
      workRoot: path.resolve(options.workRoot),
      idleCullMs: options.idleCullMs ?? DEFAULT_IDLE_CULL_MS,
      pythonDir: path.resolve(options.pythonDir ?? DEFAULT_PYTHON_DIR),
      log: options.log ?? ((m: string) => console.log(`[kernel] ${m}`)),
    };
    mkdirSync(opts.workRoot, { recursive: true });
    let service: KernelService | null = null;
    if (opts.gatewayUrl) {
      const endpoint = { url: normalizeGatewayUrl(opts.gatewayUrl), token: opts.gatewayToken };
      // Not fatal: the app runs without kernels and says why; each execute re-checks.
      try {
        const version = await probeGateway(endpoint);
        opts.log(`using Kernel Gateway at ${endpoint.url} (server ${version})`);
      } catch (err) {
        opts.log(`Kernel Gateway at ${endpoint.url} not usable yet: ${err instanceof Error ? err.message : String(err)}`);
      }
      return new KernelService(opts, endpoint, null, null);
    }
    // probed once, before the gateway starts: its kernelspec is written from the outcome
    const sandbox = resolveSandbox(opts.sandbox, opts.workRoot, opts.log, { python: venvPython(opts.pythonDir), launcher: path.join(opts.pythonDir, 'kernel_launcher.py') });
    const embedded = await EmbeddedGateway.start({
      pythonDir: opts.pythonDir,
      cwd: opts.workRoot,
      log: opts.log,
      onCrash: (detail) => service?.onGatewayLost(detail),
      extraEnv: sandbox.gatewayEnv,
    });
    service = new KernelService(opts, { url: embedded.url, token: embedded.token }, embedded, sandbox.state);
    return service;
  }

  get gatewayUrl(): string {
    return this.endpoint.url;
  }

  /**
   * Connection settings for @jupyterlab/services on the same gateway, for in-process benchmarks
   * and diagnostics. Holds the token: never send it anywhere.
   */
  get serverSettings(): ServerConnection.ISettings {
    return this.settings;
  }

  /** True when this service started the gateway itself. */
  get isEmbedded(): boolean {
    return this.embedded !== null;
  }

  /**
   * Whether this server's kernels run in the bubblewrap sandbox (docs/decisions/0009-kernel-sandbox.md),
   * for the UI's "not sandboxed" badge. `null` with an external gateway (KERNEL_GATEWAY_URL): there
   * the sandbox is that gateway's business and this server cannot tell.
   */
  get sandbox(): Readonly<SandboxState> | null {
    return this.sandboxState;
  }

  /** pid of the embedded gateway process (tests, diagnostics). */
  get embeddedGatewayPid(): number | undefined {
    return this.embedded?.pid;
  }

  kernelFor(notebookId: string): NotebookKernel {
    if (this.isClosed) throw new KernelError('CLOSED', 'the kernel service is closed');
    let k = this.kernels.get(notebookId);
    if (!k) {
      // An external gateway's disk is not ours: there the directory is relative to where the
      // gateway starts kernels (its own root), never a path of this server's DATA_DIR.
      const remote = this.opts.remoteKernel ?? {};
      const workDir = this.embedded ? notebookWorkDir(this.opts.workRoot, notebookId) : remoteNotebookWorkDir(notebookId, remote.workDirRoot);
      if (this.embedded) mkdirSync(workDir, { recursive: true });
      const venvBin = venvBinDir(this.opts.pythonDir);
      const isLocal = this.embedded !== null;
      k = new NotebookKernelImpl({
        notebookId,
        workDir,
        endpoint: () => this.endpoint,
        settings: () => this.settings,
        kernelEnv: (dir) =>
          kernelEnv(dir, isLocal ? { venvBin, isLocal } : { isLocal, username: remote.username, extra: remote.startEnv }),
        kernelName: isLocal ? undefined : remote.kernelName,
        startBlocker: this.sandboxState?.isRefusing
          ? () => new KernelError('SANDBOX_UNAVAILABLE', `Kernels are not started: ${this.sandboxState!.reason}.`)
          : undefined,
        idleCullMs: this.opts.idleCullMs,
        log: this.opts.log,
        adoption: this.opts.adoption?.(notebookId), // run ownership (docs/decisions/0020)
        claimSpare: this.spares ? (dir) => this.spares!.claim(dir) : undefined,
      });
      this.kernels.set(notebookId, k);
    }
    return k;
  }

  /**
   * The notebook is deleted: its kernel is shut down and, with the embedded gateway, its working
   * directory removed. (An external gateway's files stay on its side: its operator's business.)
   */
  async forget(notebookId: string): Promise<void> {
    const k = this.kernels.get(notebookId);
    this.kernels.delete(notebookId);
    await k?.close().catch(() => undefined);
    if (this.embedded) rmSync(notebookWorkDir(this.opts.workRoot, notebookId), { recursive: true, force: true });
  }

  // ---- run ownership across instances (docs/decisions/0020) ----
  /** Another instance owns the notebook now: stop using its kernel, never shut it down. */
  detach(notebookId: string, detail: string): void {
    const k = this.kernels.get(notebookId);
    this.kernels.delete(notebookId);
    k?.detach(detail);
  }

  /** Shuts a kernel of this gateway down by its id (a deleted notebook's, left by a stopped instance). */
  async shutdownById(kernelId: string): Promise<void> {
    await KernelAPI.shutdownKernel(kernelId, this.settings).catch(() => undefined);
  }
  // ---- end run ownership ----

  private onGatewayLost(detail: string): void {
    for (const k of this.kernels.values()) k.notifyGatewayLost(`${detail}.`);
    // a spare's connection notices on its own, and the pool starts another
  }

  /**
   * `keepKernels` (several instances on an external gateway, docs/decisions/0020): the kernels are
   * left running for the instance that takes their notebooks over.
   */
  async close(opts: { keepKernels?: boolean } = {}): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    const keep = opts.keepKernels === true && this.embedded === null;
    await Promise.allSettled(
      [...this.kernels.values()]
        .map((k) => (keep ? k.detach('Interrupted: the server instance running this was stopped; run it again.') : k.close()))
        .concat(this.spares ? [this.spares.close()] : []),
    );
    this.kernels.clear();
    await this.embedded?.stop();
  }
}
