// Loads, shares and unloads DocRooms. A room is loaded once per notebook, however many clients
// and server-side jobs use it, and unloaded some time after the last of them leaves.
import type { Storage } from '../storage/types';
import type { Relay, RelayMessage } from './relay';
import { DocRoom } from './room';

/** Unload a document this long after its last client leaves and no job holds it. */
export const UNLOAD_AFTER_MS = 30_000;

type Log = (level: 'info' | 'warn' | 'error', msg: string) => void;

export class RoomManager {
  private rooms = new Map<string, DocRoom>();
  private unloadTimers = new Map<string, NodeJS.Timeout>();
  /** the relay subscription of each loaded room (REDIS_URL) */
  private unsubscribes = new Map<DocRoom, () => Promise<void>>();

  constructor(
    private storage: Storage,
    private log: Log,
    private opts: { unloadAfterMs?: number; onLoad?: (doc: import('yjs').Doc, notebookId: string) => void; relay?: Relay } = {},
  ) {
    // messages published while the relay was away are lost: catch up from storage
    opts.relay?.onResubscribed(() => {
      for (const room of this.rooms.values()) {
        room.ready.then(() => room.catchUp()).catch((err) => this.log('warn', `catching up ${room.id}: ${(err as Error).message}`));
      }
    });
  }

  /**
   * A new room; with a relay, subscribed to the notebook's channel before its stored state is read,
   * and what arrives before it is loaded is applied right after.
   */
  private makeRoom(id: string, title: string): DocRoom {
    const relay = this.opts.relay;
    const hook = this.opts.onLoad;
    const onLoad = hook ? (doc: import('yjs').Doc) => hook(doc, id) : undefined;
    if (!relay) return new DocRoom(id, this.storage, this.log, { title, onLoad });
    const early: RelayMessage[] = [];
    let isLive = false;
    const room: DocRoom = new DocRoom(id, this.storage, this.log, {
      title,
      onLoad,
      publish: (kind, data) => relay.publish(id, kind, data),
      beforeLoad: async () => {
        const unsubscribe = await relay.subscribe(id, (m) => (isLive ? room.applyRelayed(m.kind, m.data) : early.push(m)));
        this.unsubscribes.set(room, unsubscribe);
      },
    });
    room.ready.then(
      () => {
        isLive = true;
        for (const m of early.splice(0)) room.applyRelayed(m.kind, m.data);
      },
      () => this.unsubscribe(room),
    );
    return room;
  }

  private unsubscribe(room: DocRoom): void {
    const unsubscribe = this.unsubscribes.get(room);
    this.unsubscribes.delete(room);
    unsubscribe?.().catch((err) => this.log('warn', `relay unsubscribe ${room.id}: ${(err as Error).message}`));
  }

  /** The loaded room of a notebook; loads it from storage first if needed. Null for unknown ids. */
  async get(id: string): Promise<DocRoom | null> {
    let room = this.rooms.get(id);
    if (!room) {
      const rec = await this.storage.getNotebook(id);
      if (!rec) return null;
      room = this.rooms.get(id);
      if (!room) {
        room = this.makeRoom(id, rec.title);
        this.rooms.set(id, room);
        room.ready.catch((err) => {
          this.log('error', `could not load notebook ${id}: ${(err as Error).message}`);
          if (this.rooms.get(id) === room) this.rooms.delete(id);
        });
      }
    }
    this.cancelUnload(id);
    await room.ready;
    return room;
  }

  /** Loaded rooms only (for tests and metrics). */
  loaded(id: string): DocRoom | undefined {
    return this.rooms.get(id);
  }

  /** The ids of the loaded rooms (the takeover watch of server/notebook/takeover.ts goes through them). */
  loadedIds(): string[] {
    return [...this.rooms.keys()];
  }

  /** Holds a room loaded while a server-side job uses it. */
  async acquire(id: string): Promise<{ room: DocRoom; release: () => void } | null> {
    const room = await this.get(id);
    if (!room) return null;
    const release = room.retain();
    return {
      room,
      release: () => {
        release();
        this.maybeUnload(id);
      },
    };
  }

  /** Call after a connection or a job leaves a room. */
  maybeUnload(id: string): void {
    const room = this.rooms.get(id);
    if (!room || !room.isIdle || this.unloadTimers.has(id)) return;
    const timer = setTimeout(() => {
      this.unloadTimers.delete(id);
      if (this.rooms.get(id) !== room || !room.isIdle) return;
      if (room.hasUnsaved) {
        // never drop edits: keep it in memory until storage works again
        this.maybeUnload(id);
        return;
      }
      this.rooms.delete(id);
      this.unsubscribe(room);
      room.destroy().catch((err) => this.log('warn', `unloading ${id}: ${(err as Error).message}`));
    }, this.opts.unloadAfterMs ?? UNLOAD_AFTER_MS);
    timer.unref?.();
    this.unloadTimers.set(id, timer);
  }

  private cancelUnload(id: string) {
    const t = this.unloadTimers.get(id);
    if (t) {
      clearTimeout(t);
      this.unloadTimers.delete(id);
    }
  }

  /** Drops a deleted notebook's room: its connections close, nothing more of it is stored. */
  async evict(id: string): Promise<void> {
    this.cancelUnload(id);
    const room = this.rooms.get(id);
    if (!room) return;
    this.rooms.delete(id);
    this.unsubscribe(room);
    room.markDeleted();
    await room.destroy().catch((err) => this.log('warn', `evicting ${id}: ${(err as Error).message}`));
  }

  async closeAll(): Promise<void> {
    for (const t of this.unloadTimers.values()) clearTimeout(t);
    this.unloadTimers.clear();
    const rooms = [...this.rooms.values()];
    this.rooms.clear();
    for (const room of rooms) this.unsubscribe(room);
    await Promise.all(rooms.map((r) => r.destroy().catch(() => undefined)));
  }
}
