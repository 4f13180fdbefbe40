import { useEffect, useState, useSyncExternalStore } from 'react';
import type * as Y from 'yjs';
import { cellsOf, metaOf, getTitle, type YCell } from '../../common/notebook/model';

/** An event adding more cells than this remounts the whole list instead of inserting each one. */
export const BULK_INSERT_CELLS = 50;

export interface CellList {
  cells: YCell[];
  /**
   * Bumps when many cells arrive at once (first sync of a big notebook, an import). Used as the
   * list's key, the browser gets one inserted subtree instead of a thousand insertions, each of
   * which Remix's route discovery MutationObserver would answer by scanning the whole list.
   */
  generation: number;
}

/**
 * The list of cell maps, re-rendered only when the array itself changes (insert, delete, move).
 * Edits inside a cell are observed by that cell's own component, so typing re-renders one cell,
 * not a thousand.
 */
export function useCells(doc: Y.Doc | null): CellList {
  const [list, setList] = useState<CellList>(() => ({ cells: doc ? cellsOf(doc).toArray() : [], generation: 0 }));
  useEffect(() => {
    if (!doc) return;
    const array = cellsOf(doc);
    setList((prev) => ({ cells: array.toArray(), generation: prev.generation + 1 }));
    const onChange = (event: Y.YArrayEvent<YCell>) => {
      let inserted = 0;
      for (const op of event.changes.delta) if (op.insert) inserted += (op.insert as unknown[]).length;
      setList((prev) => ({
        cells: array.toArray(),
        generation: inserted > BULK_INSERT_CELLS ? prev.generation + 1 : prev.generation,
      }));
    };
    array.observe(onChange);
    return () => array.unobserve(onChange);
  }, [doc]);
  return list;
}

/** Subscribes to a Y.Map's own keys (not its children) and returns a snapshot of chosen keys. */
export function useYMapValue<T>(map: Y.Map<unknown> | null | undefined, key: string): T | undefined {
  return useSyncExternalStore(
    (onChange) => {
      if (!map) return () => {};
      const handler = (event: Y.YMapEvent<unknown>) => {
        if (event.keysChanged.has(key)) onChange();
      };
      map.observe(handler);
      return () => map.unobserve(handler);
    },
    () => map?.get(key) as T | undefined,
    () => map?.get(key) as T | undefined,
  );
}

/** The current string of a Y.Text, re-rendering on every change to it. */
export function useYText(text: Y.Text | null | undefined): string {
  const [value, setValue] = useState(() => text?.toString() ?? '');
  useEffect(() => {
    if (!text) {
      setValue('');
      return;
    }
    const refresh = () => setValue(text.toString());
    refresh();
    text.observe(refresh);
    return () => text.unobserve(refresh);
  }, [text]);
  return value;
}

/** A Y.Array's items, re-rendering whenever it changes. */
export function useYArray<T>(array: Y.Array<T> | null | undefined): T[] {
  const [items, setItems] = useState<T[]>(() => array?.toArray() ?? []);
  useEffect(() => {
    if (!array) {
      setItems([]);
      return;
    }
    const refresh = () => setItems(array.toArray());
    refresh();
    array.observe(refresh);
    return () => array.unobserve(refresh);
  }, [array]);
  return items;
}

export function useTitle(doc: Y.Doc | null): string | null {
  const [title, setTitle] = useState<string | null>(() => (doc ? getTitle(doc) : null));
  useEffect(() => {
    if (!doc) return;
    const meta = metaOf(doc);
    const refresh = () => setTitle(meta.has('title') ? getTitle(doc) : null);
    refresh();
    meta.observe(refresh);
    return () => meta.unobserve(refresh);
  }, [doc]);
  return title;
}
