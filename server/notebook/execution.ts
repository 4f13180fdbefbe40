// One NotebookRunner per notebook, on kernels from the kernel service. The kernel service may
// fail to start (no Python environment, unreachable gateway): the app keeps working and every run
// reports why it could not run.
import type { Actor } from '../../common/notebook/types';
import type { RoomManager } from '../sync/rooms';
import type { KernelService } from '../kernel/kernel-service';
import { KernelError } from '../kernel/errors';
import type { CompleteResult, InspectResult } from '../kernel/types';
import { NotebookRunner, type RunOutcome } from './runner';

type Log = (level: 'info' | 'warn' | 'error', msg: string) => void;

export class ExecutionService {
  private runners = new Map<string, NotebookRunner>();
  private started: Promise<KernelService> | null = null;

  constructor(
    private rooms: RoomManager,
    private createKernels: () => Promise<KernelService>,
    private log: Log,
  ) {}

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
    if (!this.started) return;
    try {
      await (await this.started).forget(notebookId);
    } catch {
      // no gateway: nothing runs, nothing to remove
    }
  }

  async close(): Promise<void> {
    for (const r of this.runners.values()) r.dispose();
    this.runners.clear();
    if (!this.started) return;
    try {
      await (await this.started).close();
    } catch {
      // it never started
    }
  }
}
