// One NotebookRunner per notebook, on kernels from the kernel service. The kernel service may
// fail to start (no Python environment, unreachable gateway): the app keeps working and every run
// reports why it could not run.
import type { Actor } from '../../common/notebook/types';
import type { RoomManager } from '../sync/rooms';
import type { KernelService } from '../kernel/kernel-service';
import { KernelError } from '../kernel/errors';
import type { CompleteResult, InspectResult } from '../kernel/types';
import { NotebookRunner, type RunOutcome } from './runner';
import { OwnershipError, type NotebookLeases } from './lease';

/** What a run still waiting on an instance that lost its notebook to another one says. */
export const LEASE_LOST_DETAIL = 'This server instance lost the notebook to another instance (it was unreachable for too long); run the cell again.';

type Log = (level: 'info' | 'warn' | 'error', msg: string) => void;

export class ExecutionService {
  private runners = new Map<string, NotebookRunner>();
  private started: Promise<KernelService> | null = null;

  constructor(
    private rooms: RoomManager,
    private createKernels: () => Promise<KernelService>,
    private log: Log,
    /** several instances (REDIS_URL): a notebook's runs belong to the holder of its lease (docs/decisions/0020) */
    private leases: NotebookLeases | null = null,
  ) {
    leases?.onLost((id) => this.onLeaseLost(id));
  }

  /**
   * With leases: makes sure this instance owns the notebook, taking it when no one does. Throws
   * OwnershipError when another instance holds it (requests are forwarded there before this).
   */
  private async ensureOwner(notebookId: string): Promise<void> {
    if (!this.leases || this.leases.isHeld(notebookId)) return;
    let holder;
    try {
      holder = await this.leases.claim(notebookId);
    } catch (err) {
      throw new OwnershipError('LEASE_UNAVAILABLE', `cannot tell which server instance runs this notebook (Redis: ${(err as Error).message}); try again`);
    }
    if (holder) throw new OwnershipError('NOT_OWNER', 'another server instance runs this notebook now; try again', holder);
  }

  /** Another instance took the notebook over: its queue is dropped, its kernel left running for the new owner. */
  private onLeaseLost(notebookId: string): void {
    const r = this.runners.get(notebookId);
    this.runners.delete(notebookId);
    if (!r) return;
    // first let go of the kernel (the runner's interrupt must not reach the new owner's runs)
    void this.started?.then((s) => s.detach(notebookId, LEASE_LOST_DETAIL)).then(
      () => r.interrupt(),
      () => undefined,
    ).finally(() => r.dispose());
  }

  /**
   * After a takeover: reconnects to the notebook's kernel on a shared gateway now, so a run the
   * stopped owner left going is interrupted at once rather than at the next run.
   */
  async attach(notebookId: string): Promise<void> {
    const service = await this.kernels;
    if (service.isEmbedded) return; // the stopped instance's own gateway: nothing to reconnect to
    const r = await this.runner(notebookId);
    await r.kernel.evaluateSilently('None');
  }

  /** The kernel service, started on first use (or by warmUp at boot). */
  get kernels(): Promise<KernelService> {
    if (!this.started) {
      this.started = this.createKernels();
      this.started.catch((err) => this.log('error', `kernel gateway: ${(err as Error).message}`));
    }
    return this.started;
  }

  /** Starts the gateway now so the first run does not wait for it; failures are logged, not thrown. */
  warmUp(): void {
    this.kernels.catch(() => undefined);
  }

  async runner(notebookId: string): Promise<NotebookRunner> {
    await this.ensureOwner(notebookId);
    let r = this.runners.get(notebookId);
    if (!r) {
      let service: KernelService;
      try {
        service = await this.kernels;
      } catch (err) {
        throw err instanceof KernelError ? err : new KernelError('GATEWAY_START_FAILED', (err as Error).message);
      }
      r = this.runners.get(notebookId);
      if (!r) {
        r = new NotebookRunner(notebookId, this.rooms, service.kernelFor(notebookId), this.log);
        this.runners.set(notebookId, r);
      }
    }
    return r;
  }

  async run(notebookId: string, cellId: string, code: string, by: Actor): Promise<RunOutcome> {
    const runner = await this.runner(notebookId);
    return runner.enqueue(cellId, code, by);
  }

  /** Interrupts the running cell (and clears the queue); `by` is recorded on that cell. */
  async interrupt(notebookId: string, by?: Actor): Promise<void> {
    await (await this.runner(notebookId)).interrupt(by);
  }

  /**
   * Completions from the notebook's kernel, beside the run queue (never in it). Answers empty at
   * once when no kernel runs: typing never starts one (nor the gateway).
   */
  async complete(notebookId: string, code: string, cursorPos: number): Promise<CompleteResult> {
    const kernel = await this.runningKernel(notebookId);
    if (!kernel) return { matches: [], cursor_start: cursorPos, cursor_end: cursorPos };
    return kernel.complete(code, cursorPos);
  }

  /** Help (signature, docstring) from the notebook's kernel; same rules as complete. */
  async inspect(notebookId: string, code: string, cursorPos: number, detailLevel: 0 | 1 = 0): Promise<InspectResult> {
    const kernel = await this.runningKernel(notebookId);
    if (!kernel) return { found: false, data: {} };
    return kernel.inspect(code, cursorPos, detailLevel);
  }

  private async runningKernel(notebookId: string) {
    // a runner exists once something ran (or asked for the kernel) in this process
    const r = this.runners.get(notebookId);
    return r?.kernel.isRunning ? r.kernel : null;
  }

  async restart(notebookId: string): Promise<void> {
    await (await this.runner(notebookId)).restart();
  }

  /** The notebook is being deleted: its queue is cleared and its kernel shut down. */
  async forget(notebookId: string): Promise<void> {
    const r = this.runners.get(notebookId);
    this.runners.delete(notebookId);
    if (r) {
      await r.interrupt().catch(() => undefined);
      r.dispose();
    }
    // several instances: the kernel may be one a stopped instance left on the shared gateway
    const recorded = this.leases ? await this.leases.kernelId(notebookId).catch(() => null) : null;
    if (this.started || recorded) {
      try {
        const service = await this.kernels;
        await service.forget(notebookId);
        if (recorded) await service.shutdownById(recorded);
      } catch {
        // no gateway: nothing runs, nothing to remove
      }
    }
    await this.leases?.forget(notebookId).catch((err: Error) => this.log('warn', `forgetting the lease of ${notebookId}: ${err.message}`));
  }

  async close(): Promise<void> {
    for (const r of this.runners.values()) r.dispose();
    this.runners.clear();
    if (!this.started) return;
    try {
      // several instances: the kernels stay on a shared gateway for the instances taking over
      await (await this.started).close({ keepKernels: this.leases !== null });
    } catch {
      // it never started
    }
  }
}
