// Checks that a Y.Doc keeps the notebook layout of model.ts, so that everything reading it
// (cellToJSON, the run route, export, the browser) can rely on it. The sync server runs
// `checkLayoutTransaction` on every client update before it reaches the real document.
//
// What is required is what readers need, no more: clients the project did not write
// (jupyter_ydoc's YNotebook, jupyter-nbmodel-client) write outputs as Y.Map, stream `text` as
// Y.Text (or Y.Array in older jupyter_ydoc), `execution_state` as a plain string, `attachments`,
// and keys we do not know. All of that passes.
import * as Y from 'yjs';
import { CELL_ID_PATTERN } from './model';
import { LEVEL, MAX_NESTING_DEPTH, NBFORMAT_CELL_KEYS, levelsLeft, nestingMessage, nestsDeeperThan } from './nesting';
import { checkStoredTitle } from './title';
import { CELL_TYPES } from './types';

export class LayoutError extends Error {
  readonly code = 'INVALID_LAYOUT';
}

/** Cell keys whose value must keep a given form (other keys are free). */
function checkCellKey(key: string, value: unknown, cellType: unknown): string | null {
  switch (key) {
    case 'id':
      return typeof value === 'string' && CELL_ID_PATTERN.test(value) ? null : 'cell id is not a string of 1-64 [a-zA-Z0-9-_]';
    case 'cell_type':
      return typeof value === 'string' && (CELL_TYPES as readonly string[]).includes(value) ? null : 'cell_type is not code, markdown or raw';
    case 'source':
      return value instanceof Y.Text ? null : 'cell source is not a Y.Text';
    case 'metadata':
      // cellToJSON calls toJSON() on it
      return value === undefined || value instanceof Y.Map ? null : 'cell metadata is not a Y.Map';
    case 'outputs':
      if (value === undefined || value === null) return null;
      if (!(value instanceof Y.Array)) return 'cell outputs is not a Y.Array';
      return cellType === 'code' || cellType === undefined ? checkOutputs(value) : null;
    case 'execution_count':
      return value === undefined || value === null || typeof value === 'number' ? null : 'execution_count is not a number or null';
    case 'prompt':
      return value === undefined || value instanceof Y.Text ? null : 'prompt is not a Y.Text';
    case 'ai':
      return value === undefined || value === null || isPlainObject(value) ? null : 'ai is not an object';
    default:
      // execution_state (ours: an object; Jupyter clients: a string), attachments, anything else
      return null;
  }
}

const REQUIRED_CELL_KEYS = ['id', 'cell_type', 'source'] as const;
const CHECKED_CELL_KEYS = ['id', 'cell_type', 'source', 'metadata', 'outputs', 'execution_count', 'prompt', 'ai'] as const;

/** Why this value cannot be a cell of the `cells` array, or null when it can. */
export function checkCell(cell: unknown): string | null {
  if (!(cell instanceof Y.Map)) return 'a cell is not a Y.Map';
  for (const key of REQUIRED_CELL_KEYS) if (!cell.has(key)) return `a cell has no ${key}`;
  const type = cell.get('cell_type');
  for (const key of CHECKED_CELL_KEYS) {
    const why = checkCellKey(key, cell.get(key), type);
    if (why) return why;
  }
  return null;
}

/** Every output is an nbformat object: a plain object or a Y.Map (Jupyter clients), with an output_type. */
export function checkOutputs(outputs: Y.Array<unknown>): string | null {
  for (const o of outputs) {
    const type = o instanceof Y.Map ? o.get('output_type') : isPlainObject(o) ? (o as Record<string, unknown>).output_type : undefined;
    if (typeof type !== 'string') return 'an output is not an object with an output_type';
  }
  return null;
}

/** Why the `meta` map is unusable, or null. */
export function checkMeta(meta: Y.Map<unknown>): string | null {
  const title = meta.get('title');
  if (title !== undefined && typeof title !== 'string') return 'meta title is not a string';
  for (const key of ['nbformat', 'nbformat_minor']) {
    const v = meta.get(key);
    if (v !== undefined && typeof v !== 'number') return `meta ${key} is not a number`;
  }
  const md = meta.get('metadata');
  if (md !== undefined && !(md instanceof Y.Map) && !isPlainObject(md)) return 'meta metadata is not an object';
  return null;
}

/** Why the title in `meta` may not stay: the API's rename rules (title.ts), or null. */
export function checkMetaTitle(meta: Y.Map<unknown>): string | null {
  const title = meta.get('title');
  if (title === undefined || typeof title !== 'string') return null; // checkMeta's concern
  const checked = checkStoredTitle(title);
  return checked.ok ? null : checked.message;
}

/** Every problem of a whole document (for tests, loads and repairs; the sync path uses the incremental check). */
export function checkLayout(doc: Y.Doc): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const cells = doc.getArray('cells');
  cells.forEach((cell, i) => {
    const why = checkCell(cell);
    if (why) problems.push(`cell ${i}: ${why}`);
    else {
      const id = (cell as Y.Map<unknown>).get('id') as string;
      if (seen.has(id)) problems.push(`cell ${i}: duplicate id ${id}`);
      seen.add(id);
    }
  });
  const why = checkMeta(doc.getMap('meta')) ?? checkMetaTitle(doc.getMap('meta'));
  if (why) problems.push(why);
  // the cells array is level 2 of the file (our keys' extra levels are not counted here)
  const deep = nestsDeeperThan(doc.getArray('cells'), MAX_NESTING_DEPTH - 1) || nestsDeeperThan(doc.getMap('meta'), MAX_NESTING_DEPTH);
  if (deep) problems.push(`a value is ${nestingMessage()}`);
  return problems;
}

export interface LayoutCheck {
  /** why the transaction breaks the layout, or null */
  problem: string | null;
  /**
   * Cells this transaction inserted whose id another live cell already has. Two people moving the
   * same cell at once both insert a copy with its id (Y.Array has no move): that is not an attack,
   * and refusing it would lock the later one out (its client re-sends the copy on every reconnect).
   * The caller deletes these copies instead, keeping the cell that was there first.
   */
  duplicates: Y.Map<unknown>[];
}

/**
 * Checks only what a transaction changed: new cells, changed keys of live cells, outputs arrays
 * and `meta`. A keystroke changes one Y.Text and costs a couple of property reads.
 */
export function checkLayoutTransaction(tr: Y.Transaction): LayoutCheck {
  const doc = tr.doc;
  // a root type that only an update created is a plain AbstractType until someone asks for it as
  // an array or map; asking swaps the instance, so compare with both
  const rawCells = doc.share.get('cells');
  const rawMeta = doc.share.get('meta');
  const cells = doc.getArray('cells');
  const meta = doc.getMap('meta');
  let cellsToCheck: Set<Y.Map<unknown>> | null = null;
  let checkIds = false;
  const addCell = (c: Y.Map<unknown>) => (cellsToCheck ??= new Set()).add(c);

  for (const [changedType, keys] of tr.changed) {
    const type = changedType as Y.AbstractType<unknown>;
    if (type === cells || type === rawCells) {
      for (const key of keys) if (key !== null) return { problem: 'the cells array got a map key', duplicates: [] };
      // the cells this transaction inserted (changes inside new types are not listed separately)
      let item = cells._start;
      for (; item !== null; item = item.right) {
        if (item.deleted || item.id.clock < (tr.beforeState.get(item.id.client) ?? 0)) continue;
        if (!(item.content instanceof Y.ContentType)) return { problem: 'a cell is not a Y.Map', duplicates: [] };
        addCell(item.content.type as Y.Map<unknown>);
      }
      checkIds = true;
    } else if (type === (meta as Y.AbstractType<unknown>) || type === rawMeta) {
      // the title only when it changed: a title stored before the rule must not lock out other edits
      const why = checkMeta(meta) ?? (keys.has('title') ? checkMetaTitle(meta) : null);
      if (why) return { problem: why, duplicates: [] };
    } else {
      const item = type._item;
      if (!item || item.deleted) continue;
      if (item.parent === cells) {
        // a live cell whose keys changed
        addCell(type as unknown as Y.Map<unknown>);
        if (keys.has('id')) checkIds = true;
      } else if (item.parentSub === 'outputs' && (item.parent as Y.AbstractType<unknown>)?._item?.parent === cells) {
        const why = type instanceof Y.Array ? checkOutputs(type) : null;
        if (why) return { problem: why, duplicates: [] };
      }
    }
  }

  const deep = checkNewNesting(tr, cells, meta);
  if (deep) return { problem: deep, duplicates: [] };

  if (cellsToCheck) {
    for (const cell of cellsToCheck as Set<Y.Map<unknown>>) {
      const why = checkCell(cell);
      if (why) return { problem: why, duplicates: [] };
    }
  }
  const duplicates: Y.Map<unknown>[] = [];
  if (checkIds) {
    // ids of the cells that were there before this transaction win over the ones it inserted
    const old = new Map<string, number>();
    const inserted: Y.Map<unknown>[] = [];
    const renamed: string[] = [];
    for (let item = cells._start; item !== null; item = item.right) {
      if (item.deleted || !(item.content instanceof Y.ContentType) || !(item.content.type instanceof Y.Map)) continue;
      const cell = item.content.type as Y.Map<unknown>;
      if (item.id.clock >= (tr.beforeState.get(item.id.client) ?? 0)) {
        inserted.push(cell);
        continue;
      }
      const id = cell.get('id') as string;
      old.set(id, (old.get(id) ?? 0) + 1);
      if (tr.changed.get(cell as unknown as Y.AbstractType<Y.YEvent<any>>)?.has('id')) renamed.push(id);
    }
    // an existing cell whose id was changed to another's: only a broken or hostile client does that
    for (const id of renamed) if (old.get(id)! > 1) return { problem: `duplicate cell id ${id}`, duplicates: [] };
    for (const cell of inserted) {
      const id = cell.get('id') as string;
      if (old.has(id)) duplicates.push(cell);
      else old.set(id, 1);
    }
  }
  return { problem: null, duplicates };
}

/**
 * Whether what this transaction inserted nests deeper than MAX_NESTING_DEPTH, counted from the top
 * of the notebook as its `.ipynb` would (nesting.ts). Looks at the new items only (a keystroke: one
 * string item, no walk), and at their ancestors once per transaction, so a value built one level
 * per update is caught at the level that crosses the limit.
 */
export function checkNewNesting(tr: Y.Transaction, cells: Y.Array<unknown>, meta: Y.Map<unknown>): string | null {
  const levels = new Map<Y.AbstractType<unknown>, number>();
  const levelOf = (type: Y.AbstractType<unknown>): number => {
    // iterative: a document stored before the limit may hold a chain thousands deep
    const chain: Y.AbstractType<unknown>[] = [];
    let t: Y.AbstractType<unknown> | null = type;
    let base = 0;
    while (t) {
      const known = levels.get(t);
      if (known !== undefined) {
        base = known;
        break;
      }
      chain.push(t);
      const item: Y.Item | null = t._item;
      if (!item) {
        base = t === (cells as Y.AbstractType<unknown>) ? LEVEL.cells : 1;
        levels.set(t, base);
        chain.pop();
        break;
      }
      t = item.parent as Y.AbstractType<unknown> | null;
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const item = chain[i]._item!;
      base = base + 1 + extraLevels(item.parent as Y.AbstractType<unknown>, item.parentSub);
      levels.set(chain[i], base);
    }
    return levels.get(type) ?? base;
  };
  const extraLevels = (parent: Y.AbstractType<unknown>, key: string | null): number => {
    if (key === null) return 0;
    // ours travel under metadata.ynotebook in the file: two levels more there
    if (parent === (meta as Y.AbstractType<unknown>)) return key === 'metadata' ? 0 : 2;
    if (parent._item?.parent === cells && !NBFORMAT_CELL_KEYS.has(key)) return 2;
    return 0;
  };
  const where = (parent: Y.AbstractType<unknown>, key: string | null): string => {
    let t: Y.AbstractType<unknown> | null = parent;
    let k = key;
    for (let i = 0; t?._item && i < MAX_NESTING_DEPTH * 2; i++) {
      if (t._item.parent === cells) {
        const id = (t as Y.Map<unknown>).get('id');
        return `in cell ${typeof id === 'string' ? id : '?'}${k ? ` ${k}` : ''}`;
      }
      k = t._item.parentSub;
      t = t._item.parent as Y.AbstractType<unknown> | null;
    }
    return t === (meta as Y.AbstractType<unknown>) && k ? `in meta ${k}` : '';
  };
  const refuse = (parent: Y.AbstractType<unknown>, key: string | null) => `a value is ${nestingMessage()} ${where(parent, key)}`.trim();

  for (const [client, after] of tr.afterState) {
    const before = tr.beforeState.get(client) ?? 0;
    if (after <= before) continue;
    const structs = tr.doc.store.clients.get(client) ?? [];
    for (let i = structs.length - 1; i >= 0 && structs[i].id.clock + structs[i].length > before; i--) {
      const item = structs[i];
      if (!(item instanceof Y.Item) || item.deleted) continue;
      const content = item.content;
      let values: unknown[];
      if (content instanceof Y.ContentAny || content instanceof Y.ContentJSON) values = content.arr;
      else if (content instanceof Y.ContentEmbed) values = [content.embed];
      else if (content instanceof Y.ContentFormat) values = [content.value];
      else if (content instanceof Y.ContentType) {
        const type = content.type as Y.AbstractType<unknown>;
        if (type instanceof Y.Text) continue; // a string in the file; its embeds are items of their own
        if (levelOf(type) > MAX_NESTING_DEPTH) return refuse(item.parent as Y.AbstractType<unknown>, item.parentSub);
        continue;
      } else continue;
      const parent = item.parent as Y.AbstractType<unknown>;
      const top = levelOf(parent) + 1 + extraLevels(parent, item.parentSub);
      for (const v of values) if (nestsDeeperThan(v, levelsLeft(top))) return refuse(parent, item.parentSub);
    }
  }
  return null;
}

function isPlainObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Y.AbstractType) && !(v instanceof Uint8Array);
}
