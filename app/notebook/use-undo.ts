import { useEffect, useState } from 'react';
import * as Y from 'yjs';
import { cellsOf, metaOf } from '../../common/notebook/model';

/** Edits within this window merge into one undo step (Yjs' default is 500 ms). */
export const UNDO_CAPTURE_TIMEOUT_MS = 600;

/**
 * One Y.UndoManager per open notebook in this browser, over the cells array and the meta map.
 * It tracks only this browser's own changes: transactions with the null origin (structure edits
 * made through common/notebook/model.ts) and those of each live y-monaco binding, which the code
 * editor registers with addTrackedOrigin. Updates from the provider (other people, the kernel, the
 * AI service) carry the provider as origin and are never undone here.
 */
export function useUndo(doc: Y.Doc | null): Y.UndoManager | null {
  const [manager, setManager] = useState<Y.UndoManager | null>(null);
  useEffect(() => {
    if (!doc) return;
    const um = new Y.UndoManager([cellsOf(doc), metaOf(doc)], {
      trackedOrigins: new Set([null]),
      captureTimeout: UNDO_CAPTURE_TIMEOUT_MS,
    });
    setManager(um);
    return () => {
      um.destroy();
      setManager(null);
    };
  }, [doc]);
  return manager;
}
