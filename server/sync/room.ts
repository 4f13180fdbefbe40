// One loaded notebook document: the Y.Doc, its awareness, its connections, and its persistence.
// Transport-free: a connection is anything with send(bytes) and close(code).
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { getTitle, initNotebook } from '../../common/notebook/model';
import type { Storage } from '../storage/types';

export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_AUTH = 2;
export const MESSAGE_QUERY_AWARENESS = 3;

/** Compact the update log into a snapshot after this many updates. */
export const COMPACT_AFTER_UPDATES = 500;
/** Largest awareness update accepted (a name, a colour, a cursor: far below this). */
export const MAX_AWARENESS_BYTES = 64 * 1024;
/** Retry a failed store this often; the document stays in memory meanwhile. */
export const STORE_RETRY_MS = 2000;

/** Origin of transactions that replay stored updates: they are not stored again. */
export const ORIGIN_STORAGE = Symbol('storage');
/** Origin of the server's own writes (kernel outputs, AI code). */
export const ORIGIN_SERVER = 'server';

export interface SyncConnection {
  send(message: Uint8Array): void;
  close(code: number, reason: string): void;
}

export class MalformedMessageError extends Error {
  readonly code = 'BAD_MESSAGE';
}

type Log = (level: 'info' | 'warn' | 'error', msg: string) => void;

export class DocRoom {
  readonly doc = new Y.Doc({ gc: true });
  readonly awareness: awarenessProtocol.Awareness;
  /** each connection and the awareness client ids it controls */
  readonly conns = new Map<SyncConnection, Set<number>>();
  readonly ready: Promise<void>;
  private chain: Promise<void> = Promise.resolve();
  private unsaved: Uint8Array[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private lastSeq = 0;
  private updatesSinceCompact = 0;
  private retainCount = 0;
  private lastTitle = '';
  private closed = false;

  constructor(
    readonly id: string,
    private storage: Storage,
    private log: Log,
    opts: { title?: string; onLoad?: (doc: Y.Doc) => void } = {},
  ) {
    this.awareness = new awarenessProtocol.Awareness(this.doc);
    // the server is a peer without a presence of its own
    this.awareness.setLocalState(null);
    this.ready = this.load(opts.title, opts.onLoad);
    this.awareness.on('update', this.onAwarenessUpdate);
  }

  private async load(title?: string, onLoad?: (doc: Y.Doc) => void): Promise<void> {
    const stored = await this.storage.loadUpdates(this.id);
    Y.transact(
      this.doc,
      () => {
        if (stored.snapshot) Y.applyUpdate(this.doc, stored.snapshot);
        for (const u of stored.updates) Y.applyUpdate(this.doc, u);
      },
      ORIGIN_STORAGE,
    );
    this.lastSeq = stored.lastSeq;
    this.updatesSinceCompact = stored.updates.length;
    this.lastTitle = getTitle(this.doc);
    this.doc.on('update', this.onDocUpdate);
    // a brand-new notebook gets its meta and first cell through the normal (stored) update path
    initNotebook(this.doc, { title });
    onLoad?.(this.doc);
    await this.chain;
  }

  /** Keeps the room loaded while a server-side job (a run, a generation) uses it. */
  retain(): () => void {
    this.retainCount++;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.retainCount--;
      }
    };
  }

  get isIdle(): boolean {
    return this.conns.size === 0 && this.retainCount === 0;
  }

  get hasUnsaved(): boolean {
    return this.unsaved.length > 0;
  }

  /** Resolves when every update so far is durable (or has failed and is queued for retry). */
  flushed(): Promise<void> {
    return this.chain;
  }

  private onDocUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin === ORIGIN_STORAGE) return;
    // store first, broadcast after: nobody sees an update that is not on disk
    this.chain = this.chain.then(() => this.persistAndBroadcast(update, origin));
  };

  private async persistAndBroadcast(update: Uint8Array, origin: unknown): Promise<void> {
    if (this.unsaved.length) {
      // an earlier store failed; keep order by queueing behind it
      this.unsaved.push(update);
      return;
    }
    try {
      this.lastSeq = await this.storage.appendUpdate(this.id, update);
    } catch (err) {
      this.log('error', `STORAGE FAILED for notebook ${this.id}; edits kept in memory, retrying: ${(err as Error).message}`);
      this.unsaved.push(update);
      this.scheduleRetry();
      return;
    }
    this.afterStored(update, origin);
  }

  private afterStored(update: Uint8Array, origin: unknown) {
    this.updatesSinceCompact++;
    this.broadcastUpdate(update, origin);
    const title = getTitle(this.doc);
    const patch = title !== this.lastTitle ? { title, updatedAt: Date.now() } : { updatedAt: Date.now() };
    this.lastTitle = title;
    this.storage.touchNotebook(this.id, patch).catch((err) => this.log('warn', `touch ${this.id}: ${err}`));
    if (this.updatesSinceCompact >= COMPACT_AFTER_UPDATES) {
      this.chain = this.chain.then(() => this.compact());
    }
  }

  private scheduleRetry() {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.chain = this.chain.then(() => this.retryUnsaved());
    }, STORE_RETRY_MS);
    this.retryTimer.unref?.();
  }

  private async retryUnsaved(): Promise<void> {
    while (this.unsaved.length) {
      const update = this.unsaved[0];
      try {
        this.lastSeq = await this.storage.appendUpdate(this.id, update);
      } catch (err) {
        this.log('error', `STORAGE STILL FAILING for notebook ${this.id} (${this.unsaved.length} updates in memory): ${(err as Error).message}`);
        this.scheduleRetry();
        return;
      }
      this.unsaved.shift();
      this.afterStored(update, null);
    }
    this.log('info', `notebook ${this.id}: stored the updates kept in memory`);
  }

  async compact(): Promise<void> {
    if (this.unsaved.length) return;
    const snapshot = Y.encodeStateAsUpdate(this.doc);
    try {
      await this.storage.compact(this.id, snapshot, this.lastSeq);
      this.updatesSinceCompact = 0;
    } catch (err) {
      this.log('warn', `compaction of ${this.id} failed (the update log is intact): ${(err as Error).message}`);
    }
  }

  private broadcastUpdate(update: Uint8Array, origin: unknown) {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_SYNC);
    syncProtocol.writeUpdate(encoder, update);
    const message = encoding.toUint8Array(encoder);
    for (const conn of this.conns.keys()) {
      // the sender already has it
      if (conn !== origin) safeSend(conn, message);
    }
  }

  private onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ) => {
    const changed = added.concat(updated, removed);
    const controlled = origin ? this.conns.get(origin as SyncConnection) : undefined;
    if (controlled) {
      for (const id of added) controlled.add(id);
      for (const id of removed) controlled.delete(id);
    }
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
    encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed));
    const message = encoding.toUint8Array(encoder);
    for (const conn of this.conns.keys()) safeSend(conn, message);
  };

  /** Adds a connection once the document is loaded: sends sync step 1 and the current awareness. */
  async connect(conn: SyncConnection): Promise<void> {
    await this.ready;
    this.conns.set(conn, new Set());
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_SYNC);
    syncProtocol.writeSyncStep1(encoder, this.doc);
    safeSend(conn, encoding.toUint8Array(encoder));
    const states = this.awareness.getStates();
    if (states.size > 0) {
      const enc = encoding.createEncoder();
      encoding.writeVarUint(enc, MESSAGE_AWARENESS);
      enc && encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...states.keys()]));
      safeSend(conn, encoding.toUint8Array(enc));
    }
  }

  /**
   * Handles one message from a connection. Throws MalformedMessageError for anything that is not
   * a well-formed y-websocket message; the document is untouched in that case.
   */
  handleMessage(conn: SyncConnection, message: Uint8Array): void {
    let reply: Uint8Array | null = null;
    try {
      const decoder = decoding.createDecoder(message);
      const type = decoding.readVarUint(decoder);
      switch (type) {
        case MESSAGE_SYNC: {
          const sub = decoding.readVarUint(decoder);
          if (sub === syncProtocol.messageYjsSyncStep1) {
            const sv = decoding.readVarUint8Array(decoder);
            Y.decodeStateVector(sv);
            // answer once everything applied so far is stored: a client never receives state
            // that a crash right now would lose
            this.chain = this.chain.then(() => {
              const encoder = encoding.createEncoder();
              encoding.writeVarUint(encoder, MESSAGE_SYNC);
              encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep2);
              encoding.writeVarUint8Array(encoder, Y.encodeStateAsUpdate(this.doc, sv));
              safeSend(conn, encoding.toUint8Array(encoder));
            });
          } else if (sub === syncProtocol.messageYjsSyncStep2 || sub === syncProtocol.messageYjsUpdate) {
            const update = decoding.readVarUint8Array(decoder);
            // decode fully before applying, so garbage never reaches the document
            Y.decodeUpdate(update);
            Y.applyUpdate(this.doc, update, conn);
          } else {
            throw new MalformedMessageError(`unknown sync message type ${sub}`);
          }
          break;
        }
        case MESSAGE_AWARENESS: {
          const update = decoding.readVarUint8Array(decoder);
          checkAwarenessUpdate(update);
          awarenessProtocol.applyAwarenessUpdate(this.awareness, update, conn);
          break;
        }
        case MESSAGE_QUERY_AWARENESS: {
          const encoder = encoding.createEncoder();
          encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
          encoding.writeVarUint8Array(
            encoder,
            awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()]),
          );
          reply = encoding.toUint8Array(encoder);
          break;
        }
        case MESSAGE_AUTH:
          // permission messages go server -> client only
          break;
        default:
          throw new MalformedMessageError(`unknown message type ${type}`);
      }
    } catch (err) {
      if (err instanceof MalformedMessageError) throw err;
      throw new MalformedMessageError(`malformed message: ${(err as Error).message}`);
    }
    if (reply) safeSend(conn, reply);
  }

  disconnect(conn: SyncConnection): void {
    const controlled = this.conns.get(conn);
    this.conns.delete(conn);
    if (controlled && controlled.size) {
      awarenessProtocol.removeAwarenessStates(this.awareness, [...controlled], null);
    }
  }

  async destroy(): Promise<void> {
    await this.chain;
    if (!this.unsaved.length) await this.compact();
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.awareness.destroy();
    this.doc.destroy();
  }
}

/** Every entry of an awareness update must carry a JSON object (or null) so other clients can read it. */
function checkAwarenessUpdate(update: Uint8Array) {
  if (update.length > MAX_AWARENESS_BYTES) throw new MalformedMessageError(`awareness update of ${update.length} bytes is over ${MAX_AWARENESS_BYTES}`);
  const decoder = decoding.createDecoder(update);
  const len = decoding.readVarUint(decoder);
  for (let i = 0; i < len; i++) {
    decoding.readVarUint(decoder); // clientID
    decoding.readVarUint(decoder); // clock
    const state = JSON.parse(decoding.readVarString(decoder));
    if (state !== null && (typeof state !== 'object' || Array.isArray(state))) {
      throw new MalformedMessageError('awareness state is not an object');
    }
  }
}

function safeSend(conn: SyncConnection, message: Uint8Array) {
  try {
    conn.send(message);
  } catch {
    // a broken connection is cleaned up by its close handler
  }
}
