// Memory and size bounds of a synced notebook (docs/decisions/0010-sync-bounds-and-layout-validation.md).
import * as Y from 'yjs';

/**
 * Bytes of updates from one connection that left data with missing dependencies (Yjs pending
 * structs and delete sets) on the server. A client that reconnects after a crash of the server
 * can send a few edits before its sync step 2 fills the gap: that is kilobytes, not megabytes.
 */
export const MAX_PENDING_BYTES_PER_CONNECTION = 1024 * 1024;
/** Bytes of pending data one document holds from all its connections together. */
export const MAX_PENDING_BYTES_PER_DOC = 4 * 1024 * 1024;
/**
 * Encoded size of a document. Tracked as a running estimate: the stored bytes at load, plus every
 * update since, reset to the exact size at each compaction (deletions count until then). Past it,
 * client updates that add content are refused; deletions still pass, so people can make room.
 * The server's own writes (outputs) are bounded by common/notebook/limits.ts instead.
 */
export const MAX_DOC_BYTES = 256 * 1024 * 1024;


// Per-connection bounds (docs/decisions/0024-per-socket-bounds.md): what one socket may make the
// server hold or do, whoever is at the other end.

/**
 * Bytes queued for one socket (ws.bufferedAmount) past which the next message closes it with
 * SLOW_CONSUMER instead of being queued. The one document answer in flight (the sync step 2 of a
 * sync step 1) does not count, so a big notebook still loads over a slow link; a message is always
 * queued while the buffer is under the limit, so a reader may be one largest frame
 * (MAX_MESSAGE_BYTES, a collaborator's big paste) behind, and then some, before it is dropped.
 */
export const MAX_SEND_BUFFER_BYTES = 16 * 1024 * 1024;
/**
 * Sync step 1 messages a connection may send while the answer to an earlier one is not out yet.
 * They are coalesced (only the newest is answered, once the earlier answer has left), so this
 * bounds no memory: past it the client is closed with SLOW_CONSUMER, as it keeps asking for the
 * document without reading it. y-websocket sends one per connection (more only with
 * `resyncInterval`).
 */
export const MAX_SYNC_STEP1_WAITING = 16;
/**
 * Awareness client ids one connection may introduce over its life. y-websocket uses one; a few
 * more leave room for a client that renews its id. An id belongs to the connection that introduced
 * it until that connection closes: no other connection can set or remove its presence.
 */
export const MAX_AWARENESS_CLIENTS_PER_CONNECTION = 4;
/**
 * Bytes of one presence state (its JSON). Ours is a name, a colour, a cell id and a cursor: a few
 * hundred bytes; JupyterLab's adds an identity and the current document's cursors.
 */
export const MAX_AWARENESS_STATE_BYTES = 16 * 1024;
/**
 * Bytes of presence states a connection may set per second (its own ids only: the echoes of
 * others' states that y-websocket sends back are dropped before they count), and the burst. Every
 * change is sent to every connection, so this is what one connection can make each reader receive.
 * A cursor moving with a held key is ~60 small states a second, a few KiB.
 */
export const MAX_PRESENCE_BYTES_PER_SECOND = 256 * 1024;
export const MAX_PRESENCE_BYTE_BURST = 1024 * 1024;
/** Presences one document holds. Past it (or MAX_AWARENESS_BYTES_PER_DOC), new ones are ignored. */
export const MAX_AWARENESS_STATES_PER_DOC = 500;
/** Bytes of the presence states one document holds together (every newcomer receives them all). */
export const MAX_AWARENESS_BYTES_PER_DOC = 2 * 1024 * 1024;
/**
 * Messages per second a connection may send on average, and the burst it may send at once. A
 * person typing sends two per keystroke (the edit and the cursor); a held key, about sixty a
 * second; a script that adds a thousand cells one transaction at a time, a thousand at once.
 * Past the burst the connection is closed with LIMIT_EXCEEDED.
 */
export const MAX_MESSAGES_PER_SECOND = 500;
export const MAX_MESSAGE_BURST = 5000;
/**
 * Bytes per second a connection may send on average, and the burst: four pastes of the largest
 * frame (MAX_MESSAGE_BYTES, 16 MiB) at once.
 */
export const MAX_BYTES_PER_SECOND = 16 * 1024 * 1024;
export const MAX_BYTE_BURST = 64 * 1024 * 1024;

export interface SyncLimits {
  maxPendingBytesPerConnection: number;
  maxPendingBytesPerDoc: number;
  maxDocBytes: number;
  maxSyncStep1Waiting: number;
  maxAwarenessClientsPerConnection: number;
  maxAwarenessStateBytes: number;
  maxAwarenessStatesPerDoc: number;
  maxAwarenessBytesPerDoc: number;
  maxPresenceBytesPerSecond: number;
  maxPresenceByteBurst: number;
}

export const DEFAULT_SYNC_LIMITS: SyncLimits = {
  maxPendingBytesPerConnection: MAX_PENDING_BYTES_PER_CONNECTION,
  maxPendingBytesPerDoc: MAX_PENDING_BYTES_PER_DOC,
  maxDocBytes: MAX_DOC_BYTES,
  maxSyncStep1Waiting: MAX_SYNC_STEP1_WAITING,
  maxAwarenessClientsPerConnection: MAX_AWARENESS_CLIENTS_PER_CONNECTION,
  maxAwarenessStateBytes: MAX_AWARENESS_STATE_BYTES,
  maxAwarenessStatesPerDoc: MAX_AWARENESS_STATES_PER_DOC,
  maxAwarenessBytesPerDoc: MAX_AWARENESS_BYTES_PER_DOC,
  maxPresenceBytesPerSecond: MAX_PRESENCE_BYTES_PER_SECOND,
  maxPresenceByteBurst: MAX_PRESENCE_BYTE_BURST,
};

/**
 * Two token buckets, messages and bytes, refilled continuously. take() answers whether a message
 * of `bytes` fits; a refused message takes nothing.
 */
export class RateLimiter {
  private messages: number;
  private bytes: number;
  private at: number;

  constructor(
    private readonly opts = {
      messagesPerSecond: MAX_MESSAGES_PER_SECOND,
      messageBurst: MAX_MESSAGE_BURST,
      bytesPerSecond: MAX_BYTES_PER_SECOND,
      byteBurst: MAX_BYTE_BURST,
    },
    private readonly now: () => number = () => performance.now(),
  ) {
    this.messages = opts.messageBurst;
    this.bytes = opts.byteBurst;
    this.at = now();
  }

  take(bytes: number): boolean {
    const t = this.now();
    const seconds = Math.max(0, t - this.at) / 1000;
    this.at = t;
    this.messages = Math.min(this.opts.messageBurst, this.messages + seconds * this.opts.messagesPerSecond);
    this.bytes = Math.min(this.opts.byteBurst, this.bytes + seconds * this.opts.bytesPerSecond);
    if (this.messages < 1 || this.bytes < bytes) return false;
    this.messages -= 1;
    this.bytes -= bytes;
    return true;
  }
}

/** Bytes of data a document holds that waits for missing dependencies (not part of its state). */
export function pendingBytes(doc: Y.Doc): number {
  return (doc.store.pendingStructs?.update.byteLength ?? 0) + (doc.store.pendingDs?.byteLength ?? 0);
}

/**
 * Forgets the pending data. It was never integrated, so nothing of the document is lost; a client
 * that still has those edits sends them again in its sync step 2 after reconnecting.
 */
export function dropPending(doc: Y.Doc): void {
  doc.store.pendingStructs = null;
  doc.store.pendingDs = null;
}

/**
 * The document's state as an update, without pending data. Y.encodeStateAsUpdate appends pending
 * structs: a snapshot or a sync step 2 built with it carried every unresolvable update to storage
 * and to each new client (twenty 15 MiB ones made the notebook unsyncable).
 */
export function encodeStateWithoutPending(doc: Y.Doc, stateVector?: Uint8Array): Uint8Array {
  const { pendingStructs, pendingDs } = doc.store;
  if (!pendingStructs && !pendingDs) return Y.encodeStateAsUpdate(doc, stateVector);
  dropPending(doc);
  try {
    return Y.encodeStateAsUpdate(doc, stateVector);
  } finally {
    doc.store.pendingStructs = pendingStructs;
    doc.store.pendingDs = pendingDs;
  }
}
