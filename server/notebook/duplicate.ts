// "Duplicate": a new document with the same cells (ids, sources, outputs, metadata, AI provenance
// and prompts) and the same notebook metadata, built in memory so the caller stores it in one step
// with its record (docs/decisions/0015-home-page-actions.md). What belongs to the original's
// process stays behind: its kernel state, its files revision, and any run or generation in flight.
import * as Y from 'yjs';
import { cellsOf, metaOf } from '../../common/notebook/model';
import type { AiAttempt, AiInfo, ExecutionState } from '../../common/notebook/types';

/** Keys of the meta map that describe the original's kernel and working directory, not its content. */
const NOT_COPIED_META_KEYS = new Set(['kernel', 'files']);
/** AI statuses of a generation still under way: it belongs to the original; the copy's is stopped. */
const ACTIVE_AI = new Set(['generating', 'running', 'fixing', 'answering']);
export const DUPLICATE_STOPPED_DETAIL = 'Stopped: the notebook was duplicated while this was in progress. Regenerate to try again.';

/** A copy of a value as it sits in a Y.Map: Y types are cloned (with their nested types), JSON is deep-copied. */
function copyValue(v: unknown): unknown {
  if (v instanceof Y.AbstractType) return v.clone();
  return v === undefined ? v : structuredClone(v);
}

/**
 * The whole copy, as one Yjs update for `Storage.createNotebook`. Reads `src` synchronously, so it
 * is one consistent state of a live document.
 */
export function duplicateDocState(src: Y.Doc, title: string): Uint8Array {
  const doc = new Y.Doc();
  const now = Date.now();
  doc.transact(() => {
    const meta = metaOf(doc);
    for (const [key, value] of metaOf(src).entries()) {
      if (!NOT_COPIED_META_KEYS.has(key)) meta.set(key, copyValue(value));
    }
    meta.set('title', title);
    const cells = cellsOf(src)
      .toArray()
      .map((cell) => {
        // a detached map cannot be read back, so the copy's values are decided from the original's
        const copy = new Y.Map<unknown>();
        for (const [key, value] of cell.entries()) copy.set(key, copyCellValue(key, value, now));
        return copy;
      });
    cellsOf(doc).push(cells);
  });
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}

/** A cell's value for the copy: no run of it queued or running, no generation under way in it. */
function copyCellValue(key: string, value: unknown, now: number): unknown {
  if (key === 'execution_state') {
    // jupyter_ydoc's plain-string form stays a string
    if (typeof value === 'string') return 'idle';
    const st = value as ExecutionState | undefined;
    if (st && typeof st === 'object' && st.state !== 'idle') return { state: 'idle', since: now } satisfies ExecutionState;
  }
  if (key === 'ai' && value && typeof value === 'object' && !(value instanceof Y.AbstractType)) {
    const ai = value as AiInfo;
    if (ACTIVE_AI.has(ai.status)) {
      const attempts: AiAttempt[] = Array.isArray(ai.attempts)
        ? ai.attempts.map((a) => (a.outcome === null ? { ...a, outcome: 'stopped', finishedAt: now } : a))
        : [];
      return structuredClone({ ...ai, attempts, status: 'stopped', detail: DUPLICATE_STOPPED_DETAIL, finishedAt: now } satisfies AiInfo);
    }
  }
  return copyValue(value);
}
