// How deep a notebook's values may nest (docs/decisions/0025-no-poisoned-notebooks.md). A value
// nested thousands deep is valid JSON and a valid Yjs update, but every recursive reader of it
// (JSON.stringify, structuredClone, Y.Map#toJSON, lib0's decoder in a browser) runs out of stack:
// one such value made a notebook's export fail for ever and its page show no cells. The layout
// check (layout.ts) and the import refuse it; the readers below never recurse past the limit, so a
// notebook stored before the limit existed still exports and renders, with a notice where a value
// was too deep.
//
// Depth is counted as in the notebook's `.ipynb` file, the notebook object being level 1: cells
// are level 2, a cell 3, its metadata 4, an output 5, its `data` 6. Our own cell keys (`ai`, ...)
// and meta keys travel under `metadata.ynotebook` in the file, two levels further down, and count
// so here too: whatever the document holds within the limit exports within it and imports back.
import * as Y from 'yjs';

/** Levels of objects and arrays a notebook may nest, counted from the `.ipynb` file's top object. */
export const MAX_NESTING_DEPTH = 64;

/** Keys of a cell map that are nbformat's own; every other key is ours and rides in metadata. */
export const NBFORMAT_CELL_KEYS: ReadonlySet<string> = new Set(['id', 'cell_type', 'source', 'metadata', 'outputs', 'execution_count', 'attachments']);

/** Level (as in the `.ipynb` file) of the value of a cell's key, of an output, of the notebook's metadata. */
export const LEVEL = {
  /** `cells` */
  cells: 2,
  cell: 3,
  /** cell.metadata, cell.outputs, cell.attachments */
  cellKey: 4,
  /** cell.ai and the other keys of ours: cell.metadata.ynotebook.ai in the file */
  cellExtraKey: 6,
  output: 5,
  /** notebook.metadata */
  notebookMetadata: 2,
  /** meta keys of ours: notebook.metadata.ynotebook.<key> in the file */
  metaExtraKey: 4,
} as const;

/** Levels a value whose top sits at `level` may still nest. */
export const levelsLeft = (level: number): number => MAX_NESTING_DEPTH - level + 1;

export const nestingMessage = (where?: string): string =>
  `nested more than ${MAX_NESTING_DEPTH} levels deep (MAX_NESTING_DEPTH)${where ? ` at ${where}` : ''}`;

/** What replaces a value too deep to keep, where it was. */
export const NESTING_NOTICE = `[removed: this value was nested more than ${MAX_NESTING_DEPTH} levels deep (MAX_NESTING_DEPTH)]`;

/** Objects and arrays, plain or Yjs (a Y.Text is a string; binary data is a leaf). */
export function isContainer(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (v instanceof Y.AbstractType) return !(v instanceof Y.Text);
  return !ArrayBuffer.isView(v);
}

function children(v: object): unknown[] {
  if (v instanceof Y.Map) return [...v.values()];
  if (v instanceof Y.Array || v instanceof Y.XmlFragment) return v.toArray();
  if (v instanceof Y.AbstractType) return [];
  return Array.isArray(v) ? v : Object.values(v);
}

/**
 * True when `value` nests more than `levels` objects or arrays (a scalar nests 0, `{}` 1). Never
 * looks deeper than `levels + 1`, so it costs no more stack than the limit however deep the value.
 */
export function nestsDeeperThan(value: unknown, levels: number): boolean {
  if (!isContainer(value)) return false;
  if (levels <= 0) return true;
  for (const c of children(value as object)) if (nestsDeeperThan(c, levels - 1)) return true;
  return false;
}

/** The keys that lead to the first container past `levels`, or null when there is none. */
export function pathPastDepth(value: unknown, levels: number): (string | number)[] | null {
  if (!isContainer(value)) return null;
  if (levels <= 0) return [];
  const entries: [string | number, unknown][] =
    value instanceof Y.Map ? [...value.entries()] : Array.isArray(value) ? value.map((v, i) => [i, v]) : value instanceof Y.AbstractType ? children(value).map((v, i) => [i, v]) : Object.entries(value as object);
  for (const [k, c] of entries) {
    const p = pathPastDepth(c, levels - 1);
    if (p) return [k, ...p];
  }
  return null;
}

/** `a.b[3].c`; a long path shows its first keys and how many levels it goes on. */
export function describeKeys(keys: (string | number)[], max = 8): string {
  const shown = keys.slice(0, max).reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${k}` : k), '');
  return keys.length <= max ? shown : `${shown}… (${keys.length - max} levels more)`;
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  // a key "__proto__" (JSON.parse makes it an own property) must stay a key, not set the prototype
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/**
 * A plain JSON copy of a document value (Y types included), safe to stringify: containers past
 * `levels` are replaced by `notice` (and `onCut` is called), non-finite numbers become null,
 * BigInts numbers or strings, binary data a short text. Recursion never passes `levels`.
 */
export function toPlainJSON(value: unknown, levels: number, opts: { notice?: string; onCut?: () => void } = {}): unknown {
  const notice = opts.notice ?? NESTING_NOTICE;
  const walk = (v: unknown, left: number): unknown => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        return Number.isFinite(v) ? v : null;
      case 'bigint':
        return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
      case 'object':
        break;
      default:
        return undefined; // undefined, functions: JSON has no place for them
    }
    if (v === null) return null;
    if (v instanceof Y.Text) return v.toString();
    if (ArrayBuffer.isView(v)) return `[binary data: ${v.byteLength} bytes]`;
    if (left <= 0) {
      opts.onCut?.();
      return notice;
    }
    if (Array.isArray(v) || v instanceof Y.Array || v instanceof Y.XmlFragment) {
      return children(v).map((c) => walk(c, left - 1) ?? null);
    }
    const out: Record<string, unknown> = {};
    const entries = v instanceof Y.Map ? [...v.entries()] : v instanceof Y.AbstractType ? [] : Object.entries(v);
    for (const [k, c] of entries) {
      const p = walk(c, left - 1);
      if (p !== undefined) setOwn(out, k, p);
    }
    return out;
  };
  return walk(value, levels);
}
