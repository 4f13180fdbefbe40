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

export interface SyncLimits {
  maxPendingBytesPerConnection: number;
  maxPendingBytesPerDoc: number;
  maxDocBytes: number;
}

export const DEFAULT_SYNC_LIMITS: SyncLimits = {
  maxPendingBytesPerConnection: MAX_PENDING_BYTES_PER_CONNECTION,
  maxPendingBytesPerDoc: MAX_PENDING_BYTES_PER_DOC,
  maxDocBytes: MAX_DOC_BYTES,
};

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
