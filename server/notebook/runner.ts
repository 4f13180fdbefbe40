// Runs cells of one notebook on its shared kernel: a FIFO queue, each cell's execution_state and
// execution_count in the document, and the kernel's messages streamed into the cell's outputs.
// Knows the document and the kernel interface; knows nothing of HTTP.
import type * as Y from 'yjs';
import { cellType, findCell, markFilesChanged, metaOf } from '../../common/notebook/model';
import type { Actor, ExecutionState, KernelState, KernelStatus } from '../../common/notebook/types';
import { ORIGIN_SERVER } from '../sync/room';
import type { RoomManager } from '../sync/rooms';
import type { NotebookKernel } from '../kernel/types';
import { KernelError } from '../kernel/errors';
import { OutputWriter } from './outputs';

export interface RunOutcome {
  status: 'ok' | 'error' | 'aborted' | 'cancelled' | 'kernel-error';
  execution_count: number | null;
  /** for status 'error': the error output's name and value */
  error?: { ename: string; evalue: string };
  message?: string;
  /** for status 'kernel-error': what failed (KernelError's code, e.g. KERNEL_DEAD, GATEWAY_UNREACHABLE) */
  code?: string;
  /** for status 'aborted': who interrupted the run */
  interruptedBy?: Actor;
}

interface QueueItem {
  cellId: string;
  code: string;
  by: Actor;
  resolve(o: RunOutcome): void;
}

export class RunError extends Error {
  constructor(
    readonly code: 'NOT_FOUND' | 'NOT_CODE',
    message: string,
  ) {
    super(message);
  }
}

type Log = (level: 'info' | 'warn' | 'error', msg: string) => void;

/** A kernel busy for less than this is never shown busy (see publishKernelStatus). */
export const BUSY_SHOWN_AFTER_MS = 100;

export class NotebookRunner {
  private queue: QueueItem[] = [];
  private current: QueueItem | null = null;
  private abort: AbortController | null = null;
  /** who interrupted the running cell, once someone did */
  private interruptedBy: Actor | null = null;
  private unsubscribe: () => void;

  constructor(
    readonly notebookId: string,
    private rooms: RoomManager,
    readonly kernel: NotebookKernel,
    private log: Log,
  ) {
    this.unsubscribe = kernel.onStatus((status, detail) => {
      void this.publishKernelStatus(status, detail);
    });
  }

  get isBusy(): boolean {
    return this.current !== null || this.queue.length > 0;
  }

  private async withDoc<T>(fn: (doc: Y.Doc) => T): Promise<T | undefined> {
    const held = await this.rooms.acquire(this.notebookId);
    if (!held) return undefined;
    try {
      return fn(held.room.doc);
    } finally {
      held.release();
    }
  }

  /**
   * busy/idle flip with every execute: a run shorter than BUSY_SHOWN_AFTER_MS writes no kernel
   * status at all (idle -> busy -> idle nets to nothing), a longer one shows busy after that
   * delay. Every other status is written at once.
   */
  async publishKernelStatus(status: KernelStatus, detail?: string): Promise<void> {
    if (status === 'busy' && detail === undefined) {
      this.busyTimer ??= setTimeout(() => {
        this.busyTimer = null;
        if (this.kernel.status === 'busy') void this.writeKernelStatus('busy');
      }, BUSY_SHOWN_AFTER_MS);
      return;
    }
    if (this.busyTimer) {
      clearTimeout(this.busyTimer);
      this.busyTimer = null;
    }
    if (status === 'idle' && detail === undefined) {
      const held = this.rooms.loaded(this.notebookId);
      const shown = held ? (metaOf(held.doc).get('kernel') as KernelState | undefined) : undefined;
      if (shown?.status === 'idle' && !shown.detail) return;
    }
    await this.writeKernelStatus(status, detail);
  }

  private busyTimer: NodeJS.Timeout | null = null;

  private async writeKernelStatus(status: KernelStatus, detail?: string): Promise<void> {
    await this.withDoc((doc) => {
      const state: KernelState = { status, since: Date.now(), ...(detail ? { detail } : {}) };
      doc.transact(() => metaOf(doc).set('kernel', state), ORIGIN_SERVER);
    });
  }

  private async setState(cellId: string) {
    await this.withDoc((doc) => this.setIdle(doc, cellId));
  }

  /** The cell back to idle, with the run's count when it has one: one transaction, one update. */
  private setIdle(doc: Y.Doc, cellId: string, opts: { hasRun?: boolean; interruptedBy?: Actor; executionCount?: number | null } = {}) {
    const cell = findCell(doc, cellId);
    if (!cell) return;
    doc.transact(() => {
      if (opts.executionCount !== undefined) cell.set('execution_count', opts.executionCount);
      const idle: ExecutionState = { state: 'idle', since: Date.now(), ...(opts.interruptedBy ? { interruptedBy: opts.interruptedBy } : {}) };
      cell.set('execution_state', idle);
      // code that ran may have written files: every client's Files list refreshes (same update)
      if (opts.hasRun) markFilesChanged(doc);
    }, ORIGIN_SERVER);
  }

  /**
   * Queues `code` to run as cell `cellId` (the code the requester saw, which may differ from the
   * document if their last keystrokes are still in flight). Resolves when the run ends.
   */
  async enqueue(cellId: string, code: string, by: Actor): Promise<RunOutcome> {
    const held = await this.rooms.acquire(this.notebookId);
    if (!held) throw new RunError('NOT_FOUND', 'notebook not found');
    try {
      const cell = findCell(held.room.doc, cellId);
      if (!cell) throw new RunError('NOT_FOUND', `cell ${cellId} not found`);
      if (cellType(cell) !== 'code') throw new RunError('NOT_CODE', `cell ${cellId} is not a code cell`);
      const outcome = new Promise<RunOutcome>((resolve) => {
        this.queue.push({ cellId, code, by, resolve });
      });
      held.room.doc.transact(() => {
        cell.set('execution_state', { state: 'queued', by, since: Date.now() } satisfies ExecutionState);
      }, ORIGIN_SERVER);
      void this.pump(held);
      const result = await outcome;
      // whoever waited for the run sees it in the document once answered: stored and broadcast first
      await held.room.flushed();
      return result;
    } finally {
      held.release();
    }
  }

  private pumping = false;

  private async pump(_held: unknown): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) {
        this.current = item;
        const outcome = await this.runOne(item).catch((err): RunOutcome => {
          this.log('error', `run ${this.notebookId}/${item!.cellId}: ${(err as Error).stack}`);
          return { status: 'kernel-error', execution_count: null, message: (err as Error).message };
        });
        this.current = null;
        item.resolve(outcome);
        // as Jupyter does: an error cancels what was queued behind it
        if (outcome.status !== 'ok') this.cancelQueued(outcome.status === 'error' ? 'an earlier cell failed' : 'run stopped');
      }
    } finally {
      this.pumping = false;
    }
  }

  private async runOne(item: QueueItem): Promise<RunOutcome> {
    const held = await this.rooms.acquire(this.notebookId);
    if (!held) return { status: 'cancelled', execution_count: null, message: 'notebook gone' };
    const doc = held.room.doc;
    const writer = new OutputWriter(doc, item.cellId, ORIGIN_SERVER);
    let error: RunOutcome['error'];
    let executionCount: number | null | undefined;
    try {
      if (!findCell(doc, item.cellId)) return { status: 'cancelled', execution_count: null, message: 'cell deleted' };
      // one transaction: running, no count, outputs cleared
      doc.transact(() => {
        const cell = findCell(doc, item.cellId)!;
        cell.set('execution_state', { state: 'running', by: item.by, since: Date.now() } satisfies ExecutionState);
        cell.set('execution_count', null);
        writer.clear();
      }, ORIGIN_SERVER);
      // as Jupyter does: an empty cell's run clears it and takes no execution count
      if (!item.code.trim()) return { status: 'ok', execution_count: null };
      this.abort = new AbortController();
      this.interruptedBy = null;
      try {
        const reply = await this.kernel.execute(item.code, {
          signal: this.abort.signal,
          onOutput: (msg) => {
            if (msg.msg_type === 'error') error = { ename: String(msg.content?.ename), evalue: String(msg.content?.evalue) };
            writer.handle(msg);
          },
        });
        writer.finish();
        // written with the idle state below, in one transaction
        executionCount = reply.execution_count;
        const by = reply.status === 'aborted' ? this.interruptedBy : null;
        return { status: reply.status, execution_count: reply.execution_count, ...(error ? { error } : {}), ...(by ? { interruptedBy: by } : {}) };
      } catch (err) {
        writer.finish();
        const message = err instanceof KernelError ? err.message : `kernel failure: ${(err as Error).message}`;
        const code = err instanceof KernelError ? err.code : 'KERNEL_FAILURE';
        // The failure is the cell's output: whoever looks at the cell sees why it did not run. The
        // message is said once: renderers (ours, JupyterLab, nbconvert) show the traceback, and
        // ours adds "ename: evalue" under a traceback that lacks the ename; an internal code as
        // ename would show the message twice, once behind "KERNEL_DEAD:". The code stays in the
        // run's answer (RunOutcome.code) for programs.
        writer.handle({ msg_type: 'error', content: { ename: '', evalue: message, traceback: [message] } });
        return { status: 'kernel-error', execution_count: null, message, code };
      }
    } finally {
      this.abort = null;
      const interruptedBy = this.interruptedBy ?? undefined;
      this.interruptedBy = null;
      this.setIdle(doc, item.cellId, { hasRun: true, interruptedBy, executionCount });
      held.release();
    }
  }

  private cancelQueued(reason: string) {
    const dropped = this.queue.splice(0);
    // loaded while a run waits in the queue (enqueue holds the room): idle before the answer
    const room = this.rooms.loaded(this.notebookId);
    for (const item of dropped) {
      if (room) this.setIdle(room.doc, item.cellId);
      else void this.setState(item.cellId);
      item.resolve({ status: 'cancelled', execution_count: null, message: reason });
    }
  }

  /**
   * Stops the running cell and clears the queue, as Jupyter's interrupt does. `by` is kept on the
   * interrupted cell (execution_state.interruptedBy) so everyone sees who stopped it.
   */
  async interrupt(by?: Actor): Promise<void> {
    this.cancelQueued('interrupted');
    // the execute turns the abort into a kernel interrupt, or skips the code if the kernel is
    // still starting
    if (this.current && this.abort) {
      if (by && !this.interruptedBy) this.interruptedBy = by;
      this.abort.abort();
    }
  }

  /** Restarts the kernel: variables are gone, outputs stay. */
  async restart(): Promise<void> {
    this.cancelQueued('kernel restarted');
    await this.kernel.restart();
  }

  dispose(): void {
    if (this.busyTimer) clearTimeout(this.busyTimer);
    this.busyTimer = null;
    this.unsubscribe();
  }
}
