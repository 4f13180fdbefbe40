// Several instances (docs/decisions/0020): when the instance that owned a notebook stops (killed,
// crashed, cut off), its lease expires and nobody renews it. Each instance watches the notebooks it
// has loaded: one whose document still shows a run or a generation in progress while no one holds
// its lease is taken over here: the lease is claimed, what was running is marked interrupted with a
// visible reason, and the kernel (still on a shared gateway) is reconnected to, which interrupts a
// run the stopped owner left going. Its variables survive.
import type { RoomManager } from '../sync/rooms';
import type { ExecutionService } from './execution';
import type { NotebookLeases } from './lease';
import { hasActiveWork, INSTANCE_STOPPED, resetInterruptedWork } from './recover';

type Log = (level: 'info' | 'warn' | 'error', msg: string) => void;

export interface TakeoverOptions {
  rooms: RoomManager;
  leases: NotebookLeases;
  execution: ExecutionService;
  log: Log;
  /** how often the loaded notebooks are looked at (LEASE_MS/2) */
  intervalMs: number;
}

export class TakeoverWatch {
  private timer: NodeJS.Timeout | null = null;
  private checking = new Set<string>();

  constructor(private opts: TakeoverOptions) {}

  start(): void {
    this.timer ??= setInterval(() => {
      for (const id of this.opts.rooms.loadedIds()) void this.check(id);
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes the notebook over when it shows work in progress and no instance holds it. Never throws. */
  async check(notebookId: string): Promise<boolean> {
    const { rooms, leases, log } = this.opts;
    if (this.checking.has(notebookId) || leases.isHeld(notebookId)) return false;
    this.checking.add(notebookId);
    try {
      const room = rooms.loaded(notebookId);
      if (!room) return false;
      await room.ready;
      if (!hasActiveWork(room.doc)) return false;
      // the claim succeeds only when no instance holds the lease: a live owner keeps its notebook
      if ((await leases.holder(notebookId)) || !(await leases.claimNew(notebookId))) return false;
      const held = await rooms.acquire(notebookId);
      if (!held) return false;
      try {
        const fixed = resetInterruptedWork(held.room.doc, INSTANCE_STOPPED);
        log('warn', `took notebook ${notebookId} over from a stopped instance (fence ${leases.fence(notebookId)}): ${fixed} cell state(s) marked interrupted`);
      } finally {
        held.release();
      }
      if (await leases.kernelId(notebookId)) {
        await this.opts.execution.attach(notebookId).catch((err) => log('warn', `reconnecting to the kernel of ${notebookId}: ${(err as Error).message}`));
      }
      return true;
    } catch (err) {
      log('warn', `takeover check of ${notebookId}: ${(err as Error).message}`);
      return false;
    } finally {
      this.checking.delete(notebookId);
    }
  }
}
