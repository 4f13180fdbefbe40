// One loaded notebook document: the Y.Doc, its awareness, its connections, and its persistence.
// Transport-free: a connection is anything with send(bytes) and close(code).
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { getTitle, initNotebook } from '../../common/notebook/model';
import { checkLayoutTransaction, type LayoutCheck } from '../../common/notebook/layout';
import type { Storage } from '../storage/types';
import { CloseCode } from './close-codes';
import { DEFAULT_SYNC_LIMITS, dropPending, encodeStateWithoutPending, pendingBytes, RateLimiter, type SyncLimits } from './limits';

export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_AUTH = 2;
export const MESSAGE_QUERY_AWARENESS = 3;

/** Compact the update log into a snapshot after this many updates. */
export const COMPACT_AFTER_UPDATES = 500;
/** Largest awareness update accepted (a name, a colour, a cursor: far below this). */
export const MAX_AWARENESS_BYTES = 64 * 1024;
/**
 * How long the awareness remembers the clock of a client id whose connection closed. y-websocket
 * clients send back every presence change they apply, others' included: a late echo of someone's
 * last state must be seen as stale (its clock is not newer), not taken as a new presence. After
 * this the id is forgotten, so ids cycled through connections leave nothing behind.
 */
export const FORGET_RELEASED_ID_MS = 60_000;
/** The layout probe of a room is dropped after this long without a client update (rebuilt at the next). */
export const PROBE_IDLE_MS = 30_000;
/** Retry a failed store this often; the document stays in memory meanwhile. */
export const STORE_RETRY_MS = 2000;
/**
 * The notebooks row (updatedAt, for the list's order) is written at most this often per room;
 * a title change is written at once, and a pending touch is written when the room unloads.
 */
export const TOUCH_INTERVAL_MS = 5000;

/** Origin of transactions that replay stored updates: they are not stored again. */
export const ORIGIN_STORAGE = Symbol('storage');
/**
 * Origin of updates and awareness changes another server instance stored or received (the relay,
 * REDIS_URL): applied and sent to this instance's clients, never stored or published again.
 */
export const ORIGIN_RELAY = Symbol('relay');
/** Origin of the server's own writes (kernel outputs, AI code). */
export const ORIGIN_SERVER = 'server';
/** Origin of client updates tried on the probe document before they reach the real one. */
const ORIGIN_PROBE = Symbol('probe');
/** A WebSocket close reason is at most 123 bytes. */
const MAX_CLOSE_REASON = 120;

export interface SyncConnection {
  send(message: Uint8Array): void;
  /**
   * Sends the answer to a sync step 1 (the document, or what the client lacks of it) and calls
   * `onSent` once it has left the server. The room sends one at a time per connection; the socket
   * layer does not count it against its send buffer limit (a big notebook loads over a slow link).
   * Without it, `send` is used and the answer counts as sent at once.
   */
  sendState?(message: Uint8Array, onSent: () => void): void;
  close(code: number, reason: string): void;
  /** a viewer: receives everything, its document updates are dropped */
  readonly isReadOnly?: boolean;
}

export class MalformedMessageError extends Error {
  readonly code = 'BAD_MESSAGE';
}

type Log = (level: 'info' | 'warn' | 'error', msg: string) => void;

/** Where a room publishes what other instances must apply (server/sync/relay.ts). */
export type RoomPublish = (kind: 'update' | 'awareness', data: Uint8Array) => void;

/** One document update waiting to be stored, and who sent it (its sender is not sent it back). */
interface BatchEntry {
  update: Uint8Array;
  origin: unknown;
}

export class DocRoom {
  readonly doc = new Y.Doc({ gc: true });
  readonly awareness: awarenessProtocol.Awareness;
  /**
   * each connection and the awareness client ids it introduced (at most
   * maxAwarenessClientsPerConnection over its life; they are its own until it closes)
   */
  readonly conns = new Map<SyncConnection, Set<number>>();
  /** who controls each awareness client id: a connection of this room, or another instance (relay) */
  private awarenessOwners = new Map<number, SyncConnection | typeof ORIGIN_RELAY>();
  /** bytes of each presence state held, and their sum (maxAwarenessBytesPerDoc) */
  private awarenessBytes = new Map<number, number>();
  private awarenessBytesTotal = 0;
  /** client ids whose connection closed, and when (oldest first): forgotten after FORGET_RELEASED_ID_MS */
  private releasedIds = new Map<number, number>();
  /**
   * connections whose sync step 1 answer is being made or is not out yet, with the newest state
   * vector received meanwhile (answered next) and how many arrived meanwhile
   */
  private syncAnswers = new Map<SyncConnection, { next: Uint8Array | null; waiting: number }>();
  /** bytes of presence each connection may still set (maxPresenceBytesPerSecond) */
  private presenceRates = new WeakMap<SyncConnection, RateLimiter>();
  /** what was logged about a connection already */
  private warned = new WeakMap<SyncConnection, Set<string>>();
  readonly ready: Promise<void>;
  private chain: Promise<void> = Promise.resolve();
  /**
   * Updates applied to `doc` and not stored yet. They are stored together (group commit: one
   * merged row, one SQLite write) at the next turn of the event loop, then broadcast: what one
   * burst of messages or one run step changes costs one write and one message per sender.
   */
  private batch: BatchEntry[] = [];
  private isCommitScheduled = false;
  /** stored rows that failed, oldest first, with what to broadcast once they are stored */
  private unsaved: { stored: Uint8Array; parts: BatchEntry[] }[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private isDeleted = false;
  private lastSeq = 0;
  private updatesSinceCompact = 0;
  private retainCount = 0;
  private lastTitle = '';
  private lastTouchAt = 0;
  private touchTimer: NodeJS.Timeout | null = null;
  private closed = false;
  readonly limits: SyncLimits;
  /**
   * A second copy of the document: every client update is applied here first and its transaction
   * checked against the layout; only a valid update reaches `doc`. A refused one costs a rebuild of
   * the probe from `doc`; a valid keystroke costs one more small applyUpdate. Built at the first
   * client update that carries anything, and dropped after PROBE_IDLE_MS without one: a notebook
   * that is only read (or only written by the server) holds one copy, not two.
   */
  private probeDoc: Y.Doc | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private lastClientUpdateAt = 0;
  /** true while a client update that the probe already has is applied to `doc` */
  private applyingProbed = false;
  /** running estimate of the encoded document size (see MAX_DOC_BYTES) */
  private docBytes = 0;
  /** bytes of updates per connection that left pending data; cleared when nothing is pending */
  private pendingByConn = new Map<SyncConnection, number>();
  private lastPendingBytes = 0;
  /** connections closed by the room: what they still send is ignored */
  private refused = new WeakSet<SyncConnection>();
  /** set when other instances may hold this notebook too (REDIS_URL) */
  private readonly publish: RoomPublish | null;

  constructor(
    readonly id: string,
    private storage: Storage,
    private log: Log,
    opts: {
      title?: string;
      onLoad?: (doc: Y.Doc) => void;
      limits?: Partial<SyncLimits>;
      publish?: RoomPublish;
      /** awaited before the stored document is read (the relay subscribes there, so nothing published meanwhile is missed) */
      beforeLoad?: () => Promise<void>;
    } = {},
  ) {
    this.limits = { ...DEFAULT_SYNC_LIMITS, ...opts.limits };
    this.publish = opts.publish ?? null;
    this.awareness = new awarenessProtocol.Awareness(this.doc);
    // the server is a peer without a presence of its own
    this.awareness.setLocalState(null);
    this.ready = (opts.beforeLoad ? opts.beforeLoad() : Promise.resolve()).then(() => this.load(opts.title, opts.onLoad));
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
    this.docBytes = (stored.snapshot?.byteLength ?? 0) + stored.updates.reduce((n, u) => n + u.byteLength, 0);
    // snapshots made before decision 0010 could carry pending data: it is not document state
    if (pendingBytes(this.doc) > 0) {
      this.log('warn', `notebook ${this.id}: dropped ${pendingBytes(this.doc)} bytes of stored updates with missing dependencies`);
      dropPending(this.doc);
    }
    this.lastTitle = getTitle(this.doc);
    this.doc.on('update', this.onDocUpdate);
    // a brand-new notebook gets its meta and first cell through the normal (stored) update path
    initNotebook(this.doc, { title });
    onLoad?.(this.doc);
    await this.flushed();
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
    this.chain = this.chain.then(() => this.commitBatch());
    return this.chain;
  }

  private onDocUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin === ORIGIN_STORAGE) return;
    this.docBytes += update.byteLength;
    if (origin === ORIGIN_RELAY) {
      // stored by the instance that received it: only this instance's clients still need it
      if (this.probeDoc) Y.applyUpdate(this.probeDoc, update, origin);
      this.broadcastUpdate(update, origin);
      return;
    }
    // the server's own writes reach the probe here; client updates are there already
    if (!this.applyingProbed && this.probeDoc) Y.applyUpdate(this.probeDoc, update, origin);
    // store first, broadcast after: nobody sees an update that is not on disk
    this.batch.push({ update, origin });
    if (this.isCommitScheduled) return;
    this.isCommitScheduled = true;
    const commit = () => {
      this.isCommitScheduled = false;
      this.chain = this.chain.then(() => this.commitBatch());
    };
    // A client's update is stored once the current callback is done (the other frames of the same
    // socket read join it), so a keystroke waits for nothing else. The server's own writes wait one
    // turn of the event loop, so that the steps of a run (queued, running) or a burst of outputs
    // share one write and one message.
    if (this.conns.has(origin as SyncConnection)) queueMicrotask(commit);
    else setImmediate(commit);
  };

  /** Stores everything applied so far in one write, then broadcasts it. A link of `chain`. */
  private async commitBatch(): Promise<void> {
    if (!this.batch.length) return;
    const parts = this.batch;
    this.batch = [];
    if (this.isDeleted) return;
    const stored = parts.length === 1 ? parts[0].update : Y.mergeUpdates(parts.map((p) => p.update));
    if (this.unsaved.length) {
      // an earlier store failed; keep order by queueing behind it
      this.unsaved.push({ stored, parts });
      return;
    }
    try {
      this.lastSeq = await this.storage.appendUpdate(this.id, stored);
    } catch (err) {
      this.log('error', `STORAGE FAILED for notebook ${this.id}; edits kept in memory, retrying: ${(err as Error).message}`);
      this.unsaved.push({ stored, parts });
      this.scheduleRetry();
      return;
    }
    this.afterStored(parts, stored);
  }

  private afterStored(parts: BatchEntry[], stored: Uint8Array) {
    this.updatesSinceCompact++;
    this.broadcastParts(parts);
    // on disk first, then to the other instances (they do not store it again)
    this.publish?.('update', stored);
    const title = getTitle(this.doc);
    const now = Date.now();
    if (title !== this.lastTitle) {
      this.lastTitle = title;
      this.touch({ title, updatedAt: now });
    } else if (now - this.lastTouchAt >= TOUCH_INTERVAL_MS) {
      this.touch({ updatedAt: now });
    } else if (!this.touchTimer) {
      // the last edit of a burst still moves the notebook up the list, a little later
      this.touchTimer = setTimeout(() => {
        this.touchTimer = null;
        if (!this.closed && !this.isDeleted) this.touch({ updatedAt: Date.now() });
      }, TOUCH_INTERVAL_MS - (now - this.lastTouchAt));
      this.touchTimer.unref?.();
    }
    if (this.updatesSinceCompact >= COMPACT_AFTER_UPDATES) {
      this.chain = this.chain.then(() => this.compact());
    }
  }

  private touch(patch: { title?: string; updatedAt: number }) {
    this.lastTouchAt = patch.updatedAt;
    if (this.touchTimer) clearTimeout(this.touchTimer);
    this.touchTimer = null;
    this.storage.touchNotebook(this.id, patch).catch((err) => this.log('warn', `touch ${this.id}: ${err}`));
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
    while (this.unsaved.length && !this.isDeleted) {
      const { stored, parts } = this.unsaved[0];
      try {
        this.lastSeq = await this.storage.appendUpdate(this.id, stored);
      } catch (err) {
        this.log('error', `STORAGE STILL FAILING for notebook ${this.id} (${this.unsaved.length} updates in memory): ${(err as Error).message}`);
        this.scheduleRetry();
        return;
      }
      this.unsaved.shift();
      this.afterStored(parts, stored);
    }
    this.log('info', `notebook ${this.id}: stored the updates kept in memory`);
  }

  async compact(): Promise<void> {
    if (this.isDeleted) return;
    if (this.unsaved.length) return;
    try {
      // Shared with other instances, the log holds updates this copy may not have received yet:
      // the snapshot is made from what is stored, so compaction never drops one of them.
      const { snapshot, upToSeq } = this.publish ? await this.snapshotFromStorage() : { snapshot: encodeStateWithoutPending(this.doc), upToSeq: this.lastSeq };
      await this.storage.compact(this.id, snapshot, upToSeq);
      this.updatesSinceCompact = 0;
      this.docBytes = snapshot.byteLength;
    } catch (err) {
      this.log('warn', `compaction of ${this.id} failed (the update log is intact): ${(err as Error).message}`);
    }
  }

  private async snapshotFromStorage(): Promise<{ snapshot: Uint8Array; upToSeq: number }> {
    const stored = await this.storage.loadUpdates(this.id);
    const d = new Y.Doc({ gc: true });
    try {
      if (stored.snapshot) Y.applyUpdate(d, stored.snapshot);
      for (const u of stored.updates) Y.applyUpdate(d, u);
      return { snapshot: encodeStateWithoutPending(d), upToSeq: stored.lastSeq };
    } finally {
      d.destroy();
    }
  }

  /** An update or awareness change that another instance published for this notebook. */
  applyRelayed(kind: 'update' | 'awareness', data: Uint8Array): void {
    if (this.closed || this.isDeleted) return;
    if (kind === 'update') {
      Y.applyUpdate(this.doc, data, ORIGIN_RELAY);
      return;
    }
    // another instance applied its own bounds to its connections; here its ids are its own
    let entries: AwarenessEntry[];
    try {
      entries = decodeAwarenessUpdate(data);
    } catch (err) {
      this.log('warn', `notebook ${this.id}: ignored a relayed awareness update: ${(err as Error).message}`);
      return;
    }
    const accepted = entries.filter((e) => {
      const owner = this.awarenessOwners.get(e.clientId);
      if (owner !== undefined && owner !== ORIGIN_RELAY) return false;
      if (e.state === null) this.awarenessOwners.delete(e.clientId);
      else this.awarenessOwners.set(e.clientId, ORIGIN_RELAY);
      return true;
    });
    this.applyAwarenessEntries(accepted, ORIGIN_RELAY);
  }

  /**
   * Re-reads the notebook from storage and applies what this copy lacks (sent to this instance's
   * clients, not stored again): after the relay dropped messages, or when joining late.
   */
  async catchUp(): Promise<void> {
    if (this.closed || this.isDeleted) return;
    const stored = await this.storage.loadUpdates(this.id);
    if (this.closed || this.isDeleted) return;
    const all = [...(stored.snapshot ? [stored.snapshot] : []), ...stored.updates];
    if (all.length) Y.applyUpdate(this.doc, Y.mergeUpdates(all), ORIGIN_RELAY);
  }

  /** Sends stored updates to every connection but their sender; one message per run of one sender. */
  private broadcastParts(parts: BatchEntry[]) {
    for (let i = 0; i < parts.length; ) {
      let j = i + 1;
      while (j < parts.length && parts[j].origin === parts[i].origin) j++;
      const update = j - i === 1 ? parts[i].update : Y.mergeUpdates(parts.slice(i, j).map((p) => p.update));
      this.broadcastUpdate(update, parts[i].origin);
      i = j;
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
    const isFromConnection = this.conns.has(origin as SyncConnection);
    for (const id of removed) {
      this.awarenessBytesTotal -= this.awarenessBytes.get(id) ?? 0;
      this.awarenessBytes.delete(id);
    }
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
    encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed));
    const message = encoding.toUint8Array(encoder);
    for (const conn of this.conns.keys()) safeSend(conn, message);
    // this instance's own clients (and their departures) reach the other instances; timeouts
    // happen on every instance by themselves
    if (this.publish && origin !== ORIGIN_RELAY && (isFromConnection || origin === null)) {
      this.publish('awareness', awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed));
    }
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
    // a connection the room refused may still have frames in flight
    if (this.refused.has(conn)) return;
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
            this.answerSyncStep1(conn, sv);
          } else if (sub === syncProtocol.messageYjsSyncStep2 || sub === syncProtocol.messageYjsUpdate) {
            // a viewer's edits are dropped: never applied, stored or broadcast (its presence still is)
            if (conn.isReadOnly) break;
            const update = decoding.readVarUint8Array(decoder);
            // decode fully before applying, so garbage never reaches the document
            const decoded = Y.decodeUpdate(update);
            // nothing in it (a fresh client's sync step 2): nothing to check, apply or store
            if (decoded.structs.length === 0 && decoded.ds.clients.size === 0) break;
            this.applyClientUpdate(conn, update, decoded.structs.length > 0);
          } else {
            throw new MalformedMessageError(`unknown sync message type ${sub}`);
          }
          break;
        }
        case MESSAGE_AWARENESS: {
          const update = decoding.readVarUint8Array(decoder);
          if (update.length > MAX_AWARENESS_BYTES) throw new MalformedMessageError(`awareness update of ${update.length} bytes is over ${MAX_AWARENESS_BYTES}`);
          this.applyClientAwareness(conn, decodeAwarenessUpdate(update));
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
    const introduced = this.conns.get(conn);
    this.conns.delete(conn);
    this.pendingByConn.delete(conn);
    this.syncAnswers.delete(conn);
    if (!introduced?.size) return;
    awarenessProtocol.removeAwarenessStates(this.awareness, [...introduced], null);
    const now = Date.now();
    for (const id of introduced) {
      // free again: the same client reconnecting takes its own id back with its next change
      this.awarenessOwners.delete(id);
      this.releasedIds.delete(id);
      this.releasedIds.set(id, now);
    }
    this.forgetReleasedIds(now);
  }

  private forgetReleasedIds(now: number): void {
    for (const [id, at] of this.releasedIds) {
      if (now - at < FORGET_RELEASED_ID_MS) break;
      this.releasedIds.delete(id);
      if (!this.awarenessOwners.has(id) && !this.awareness.getStates().has(id)) this.awareness.meta.delete(id);
    }
  }

  /**
   * Answers a sync step 1 with what the client lacks, once everything applied so far is stored (a
   * client never receives state that a crash right now would lose). One answer at a time per
   * connection: a step 1 that arrives while an earlier answer is not out yet waits, and only the
   * newest waiting one is answered (it asks for a superset of what the earlier ones did). A client
   * that keeps asking without reading is closed with SLOW_CONSUMER.
   */
  private answerSyncStep1(conn: SyncConnection, sv: Uint8Array): void {
    const current = this.syncAnswers.get(conn);
    if (current) {
      current.next = sv;
      if (++current.waiting > this.limits.maxSyncStep1Waiting) {
        this.refuse(conn, CloseCode.SLOW_CONSUMER, `sync step 1 sent ${current.waiting} times while the answer to an earlier one was unread`);
      }
      return;
    }
    const answer = { next: null as Uint8Array | null, waiting: 0 };
    this.syncAnswers.set(conn, answer);
    const send = (stateVector: Uint8Array) => {
      this.chain = this.chain.then(async () => {
        // whatever the room applied before this answer is stored first
        while (this.batch.length && !this.isDeleted) await this.commitBatch();
        if (this.syncAnswers.get(conn) !== answer) return;
        const encoder = encoding.createEncoder();
        encoding.writeVarUint(encoder, MESSAGE_SYNC);
        encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep2);
        // only integrated state: pending data of some broken client is nobody else's business
        encoding.writeVarUint8Array(encoder, encodeStateWithoutPending(this.doc, stateVector));
        const message = encoding.toUint8Array(encoder);
        const onSent = () => {
          if (this.syncAnswers.get(conn) !== answer) return;
          if (!answer.next) {
            this.syncAnswers.delete(conn);
            return;
          }
          const next = answer.next;
          answer.next = null;
          answer.waiting = 0;
          send(next);
        };
        try {
          if (conn.sendState) conn.sendState(message, onSent);
          else {
            conn.send(message);
            onSent();
          }
        } catch {
          // a broken connection is cleaned up by its close handler
        }
      });
    };
    send(sv);
  }

  /**
   * A connection's awareness update, cut to what it may do: set or remove the presence of ids it
   * introduced, and introduce new ids within the per-connection and per-document bounds. Entries
   * for someone else's id (another connection's, another instance's, the server's own) are
   * dropped: nobody overwrites or removes another person's presence. A state over
   * maxAwarenessStateBytes, or an id past maxAwarenessClientsPerConnection, closes the connection.
   */
  private applyClientAwareness(conn: SyncConnection, entries: AwarenessEntry[]): void {
    const introduced = this.conns.get(conn);
    if (!introduced) return;
    const accepted: AwarenessEntry[] = [];
    let overDocLimit = 0;
    for (const e of entries) {
      if (e.bytes > this.limits.maxAwarenessStateBytes) {
        this.refuse(conn, CloseCode.LIMIT_EXCEEDED, `presence state of ${e.bytes} bytes is over ${this.limits.maxAwarenessStateBytes}`);
        return;
      }
      const owner = this.awarenessOwners.get(e.clientId);
      // y-websocket clients echo others' entries routinely: dropped without a word
      if ((owner !== undefined && owner !== conn) || e.clientId === this.awareness.clientID) continue;
      if (owner === undefined) {
        // removing an id nobody holds changes nothing, and neither does a state no newer than the
        // last one the id had (an echo after its connection closed): neither claims the id
        if (e.state === null || e.clock <= (this.awareness.meta.get(e.clientId)?.clock ?? -1)) continue;
        // an id is claimed even when the notebook has no room for its state: the bound on ids
        // per connection holds whatever the notebook's presences are
        if (introduced.size >= this.limits.maxAwarenessClientsPerConnection) {
          this.refuse(conn, CloseCode.LIMIT_EXCEEDED, `more than ${this.limits.maxAwarenessClientsPerConnection} presences (awareness client ids) on one connection`);
          return;
        }
        this.awarenessOwners.set(e.clientId, conn);
        this.releasedIds.delete(e.clientId);
        introduced.add(e.clientId);
      }
      const states = this.awareness.getStates();
      const fits =
        e.state === null ||
        ((states.has(e.clientId) || states.size < this.limits.maxAwarenessStatesPerDoc) &&
          this.awarenessBytesTotal - (this.awarenessBytes.get(e.clientId) ?? 0) + e.bytes <= this.limits.maxAwarenessBytesPerDoc);
      if (fits) accepted.push(e);
      else overDocLimit++;
    }
    const bytes = accepted.reduce((n, e) => n + e.bytes, 0);
    if (bytes > 0 && !this.presenceRate(conn).take(bytes)) {
      this.refuse(conn, CloseCode.LIMIT_EXCEEDED, `presence changes over ${this.limits.maxPresenceBytesPerSecond} bytes a second`);
      return;
    }
    // once per connection: a flood must not become a flood of log lines
    if (overDocLimit) this.warnOnce(conn, 'full', `presences dropped: the notebook holds ${this.awareness.getStates().size} (${this.awarenessBytesTotal} bytes), its bound`);
    this.applyAwarenessEntries(accepted, conn);
  }

  private presenceRate(conn: SyncConnection): RateLimiter {
    let rate = this.presenceRates.get(conn);
    if (!rate) {
      const l = this.limits;
      // only bytes are limited here; messages are the socket's bucket's business
      rate = new RateLimiter({ messagesPerSecond: Infinity, messageBurst: Infinity, bytesPerSecond: l.maxPresenceBytesPerSecond, byteBurst: l.maxPresenceByteBurst });
      this.presenceRates.set(conn, rate);
    }
    return rate;
  }

  private warnOnce(conn: SyncConnection, kind: string, msg: string): void {
    const warned = this.warned.get(conn) ?? new Set<string>();
    if (warned.has(kind)) return;
    warned.add(kind);
    this.warned.set(conn, warned);
    this.log('warn', `notebook ${this.id}: ${msg}`);
  }

  /** Applies awareness entries (already allowed) and accounts the bytes of the states it kept. */
  private applyAwarenessEntries(entries: AwarenessEntry[], origin: unknown): void {
    if (!entries.length) return;
    awarenessProtocol.applyAwarenessUpdate(this.awareness, encodeAwarenessEntries(entries), origin);
    for (const e of entries) {
      // an entry older than what the awareness has was not applied
      if (e.state === null || this.awareness.meta.get(e.clientId)?.clock !== e.clock || !this.awareness.getStates().has(e.clientId)) continue;
      this.awarenessBytesTotal += e.bytes - (this.awarenessBytes.get(e.clientId) ?? 0);
      this.awarenessBytes.set(e.clientId, e.bytes);
    }
  }

  /**
   * The notebook was deleted: nothing of it is stored any more, and every connection is closed
   * (4404, "notebook deleted"). Call destroy() after.
   */
  markDeleted(): void {
    this.isDeleted = true;
    this.unsaved = [];
    this.batch = [];
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const conn of [...this.conns.keys()]) {
      try {
        conn.close(CloseCode.NOT_FOUND, 'notebook deleted');
      } catch {
        // already closed
      }
    }
  }

  async destroy(): Promise<void> {
    await this.flushed();
    if (!this.unsaved.length && !this.isDeleted) await this.compact();
    this.closed = true;
    if (this.touchTimer) {
      clearTimeout(this.touchTimer);
      this.touchTimer = null;
      if (!this.isDeleted) await this.storage.touchNotebook(this.id, { updatedAt: Date.now() }).catch(() => undefined);
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.awareness.destroy();
    this.doc.destroy();
    this.dropProbe();
  }

  /**
   * A client's document update: refused when it adds content to a document at MAX_DOC_BYTES or
   * would break the layout (tried on the probe first, so `doc` never sees it); otherwise applied,
   * stored and broadcast, and the pending data it leaves is bounded.
   */
  private applyClientUpdate(conn: SyncConnection, update: Uint8Array, addsContent: boolean): void {
    if (addsContent && this.docBytes + update.byteLength > this.limits.maxDocBytes) {
      const mib = (n: number) => Math.round(n / (1024 * 1024));
      this.refuse(conn, CloseCode.DOC_TOO_LARGE, `notebook is at its size limit (${mib(this.limits.maxDocBytes)} MiB); delete content to make room`);
      return;
    }
    this.lastClientUpdateAt = Date.now();
    const pendingBefore = pendingBytes(this.probe());
    let check = this.tryOnProbe(update);
    if (check.problem && pendingBefore > 0) {
      // the culprit may be pending data of another connection that this update completed
      const contributors = [...this.pendingByConn.keys()].filter((c) => c !== conn);
      this.dropAllPending();
      check = this.tryOnProbe(update);
      if (!check.problem) {
        for (const c of contributors) this.refuse(c, CloseCode.INVALID_LAYOUT, 'updates with missing dependencies were dropped');
      }
    }
    if (check.problem) {
      this.refuse(conn, CloseCode.INVALID_LAYOUT, `update refused: ${check.problem}`);
      return;
    }
    this.applyingProbed = true;
    try {
      Y.applyUpdate(this.doc, update, conn);
    } finally {
      this.applyingProbed = false;
    }
    if (check.duplicates.length) this.removeDuplicateCells(check.duplicates);
    this.boundPending(conn, update.byteLength);
  }

  /** Applies a client update to the probe and checks what its transaction changed. */
  private tryOnProbe(update: Uint8Array): LayoutCheck {
    let result: LayoutCheck = { problem: null, duplicates: [] };
    const onTransaction = (tr: Y.Transaction) => {
      if (tr.origin !== ORIGIN_PROBE) return;
      try {
        result = checkLayoutTransaction(tr);
      } catch (err) {
        result = { problem: `layout check failed: ${(err as Error).message}`, duplicates: [] };
      }
    };
    const probe = this.probe();
    probe.on('afterTransaction', onTransaction);
    try {
      Y.applyUpdate(probe, update, ORIGIN_PROBE);
    } catch (err) {
      result = { problem: `update does not apply: ${(err as Error).message}`, duplicates: [] };
    } finally {
      probe.off('afterTransaction', onTransaction);
    }
    if (result.problem) this.rebuildProbe();
    return result;
  }

  /** The probe took an update that `doc` will not: copy `doc` (pending data included) afresh. */
  private rebuildProbe(): void {
    this.dropProbe();
    this.probe();
  }

  /** The probe, made from `doc` (pending data included) when there is none. */
  private probe(): Y.Doc {
    if (this.probeDoc) return this.probeDoc;
    const probe = newProbe();
    Y.applyUpdate(probe, Y.encodeStateAsUpdate(this.doc));
    this.probeDoc = probe;
    this.probeTimer ??= setTimeout(this.onProbeTimer, PROBE_IDLE_MS);
    this.probeTimer.unref?.();
    return probe;
  }

  private onProbeTimer = () => {
    this.probeTimer = null;
    if (!this.probeDoc) return;
    const idle = Date.now() - this.lastClientUpdateAt;
    if (idle >= PROBE_IDLE_MS) {
      this.dropProbe();
      return;
    }
    this.probeTimer = setTimeout(this.onProbeTimer, PROBE_IDLE_MS - idle);
    this.probeTimer.unref?.();
  };

  private dropProbe(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    this.probeDoc?.destroy();
    this.probeDoc = null;
  }

  /**
   * Copies of a cell inserted with an id another live cell has (two people moving one cell at
   * once) are deleted by the server, keeping the cell that was there first, as one more update
   * that everyone (the sender included) receives.
   */
  private removeDuplicateCells(probeCells: Y.Map<unknown>[]): void {
    const ids = probeCells.map((c) => c._item!.id);
    const cells = this.doc.getArray<Y.Map<unknown>>('cells');
    Y.transact(
      this.doc,
      () => {
        for (const id of ids) {
          const i = cells.toArray().findIndex((c) => c._item !== null && Y.compareIDs(c._item.id, id));
          if (i >= 0) cells.delete(i, 1);
        }
      },
      ORIGIN_SERVER,
    );
    this.log('info', `notebook ${this.id}: removed ${ids.length} inserted cell(s) whose id another cell already had`);
  }

  /** Accounts the pending data an update left; past a bound, drops it all and closes who sent it. */
  private boundPending(conn: SyncConnection, bytes: number): void {
    const pending = pendingBytes(this.doc);
    if (pending === 0) {
      this.pendingByConn.clear();
      this.lastPendingBytes = 0;
      return;
    }
    if (pending > this.lastPendingBytes) this.pendingByConn.set(conn, (this.pendingByConn.get(conn) ?? 0) + bytes);
    this.lastPendingBytes = pending;
    const fromConn = this.pendingByConn.get(conn) ?? 0;
    if (fromConn <= this.limits.maxPendingBytesPerConnection && pending <= this.limits.maxPendingBytesPerDoc) return;
    const contributors = [...this.pendingByConn.keys()];
    this.log(
      'warn',
      `notebook ${this.id}: dropped ${pending} bytes of updates with missing dependencies (this connection: ${fromConn}); closing ${contributors.length} connection(s)`,
    );
    this.dropAllPending();
    // a well-behaved client among them reconnects and re-sends what the server lacks in its sync step 2
    for (const c of contributors) this.refuse(c, CloseCode.PENDING_LIMIT, 'too many updates with missing dependencies');
  }

  private dropAllPending(): void {
    dropPending(this.doc);
    if (this.probeDoc) dropPending(this.probeDoc);
    this.pendingByConn.clear();
    this.lastPendingBytes = 0;
  }

  /** Closes a connection with a named code; what it still sends is ignored. */
  private refuse(conn: SyncConnection, code: number, reason: string): void {
    if (this.refused.has(conn)) return;
    this.refused.add(conn);
    this.log('warn', `notebook ${this.id}: closing a connection (${code}): ${reason}`);
    this.disconnect(conn);
    try {
      conn.close(code, truncateAscii(reason, MAX_CLOSE_REASON));
    } catch {
      // already closed
    }
  }
}

function newProbe(): Y.Doc {
  const probe = new Y.Doc({ gc: true });
  // root types exist with their real types before any update names them
  probe.getArray('cells');
  probe.getMap('meta');
  return probe;
}

function truncateAscii(s: string, max: number): string {
  const ascii = s.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= max ? ascii : `${ascii.slice(0, max - 3)}...`;
}

/** One entry of an awareness update: a client id, its clock, and its state as sent. */
interface AwarenessEntry {
  clientId: number;
  clock: number;
  /** the state's JSON as received (re-encoded as is) */
  json: string;
  state: unknown;
  /** UTF-8 bytes of `json` */
  bytes: number;
}

/** Every entry of an awareness update must carry a JSON object (or null) so other clients can read it. */
function decodeAwarenessUpdate(update: Uint8Array): AwarenessEntry[] {
  const decoder = decoding.createDecoder(update);
  const len = decoding.readVarUint(decoder);
  const entries: AwarenessEntry[] = [];
  for (let i = 0; i < len; i++) {
    const clientId = decoding.readVarUint(decoder);
    const clock = decoding.readVarUint(decoder);
    const json = decoding.readVarString(decoder);
    const state = JSON.parse(json);
    if (state !== null && (typeof state !== 'object' || Array.isArray(state))) {
      throw new MalformedMessageError('awareness state is not an object');
    }
    entries.push({ clientId, clock, json, state, bytes: Buffer.byteLength(json) });
  }
  return entries;
}

function encodeAwarenessEntries(entries: AwarenessEntry[]): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, entries.length);
  for (const e of entries) {
    encoding.writeVarUint(encoder, e.clientId);
    encoding.writeVarUint(encoder, e.clock);
    encoding.writeVarString(encoder, e.json);
  }
  return encoding.toUint8Array(encoder);
}

function safeSend(conn: SyncConnection, message: Uint8Array) {
  try {
    conn.send(message);
  } catch {
    // a broken connection is cleaned up by its close handler
  }
}
