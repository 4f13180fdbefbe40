// The one place that knows the Y.Doc layout of a notebook. Both the browser and the server use it,
// so a cell inserted by a person and a cell inserted by the AI service have the same shape.
// Layout (mirrors jupyter_ydoc's YNotebook):
//   doc.getArray('cells'): Y.Map per cell { id, cell_type, source: Y.Text, metadata: Y.Map,
//                          outputs: Y.Array<Output> (code), execution_count (code),
//                          execution_state (ours), ai (ours), prompt: Y.Text (ours, AI cells) }
//   doc.getMap('meta'):    { nbformat, nbformat_minor, metadata, title, kernel (ours) }
import * as Y from 'yjs';
import { LEVEL, NESTING_NOTICE, levelsLeft, nestsDeeperThan, toPlainJSON } from './nesting';
import { TRUNCATION_METADATA_KEY } from './limits';
import type {
  AiInfo,
  CellJSON,
  CellType,
  ExecutionState,
  KernelState,
  NotebookJSON,
  Output,
} from './types';

export const NBFORMAT = 4;
export const NBFORMAT_MINOR = 5;
export const DEFAULT_TITLE = 'Untitled notebook';
export const MAX_TITLE_LENGTH = 200;

export const DEFAULT_NOTEBOOK_METADATA = {
  kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
  language_info: { name: 'python' },
};

export type YCell = Y.Map<unknown>;

/**
 * An output as stored in the document. Stream outputs are a Y.Map whose `text` is a Y.Text, so a
 * growing stream appends a few bytes instead of rewriting the whole output; every other output is
 * a plain nbformat object. `outputsToJSON` gives plain nbformat outputs either way.
 */
export type YOutput = Output | Y.Map<unknown>;

export function outputToY(o: Output): YOutput {
  if (o.output_type !== 'stream') return o;
  const m = new Y.Map<unknown>();
  m.set('output_type', 'stream');
  m.set('name', o.name);
  const text = new Y.Text();
  if (o.text) text.insert(0, typeof o.text === 'string' ? o.text : String(o.text));
  m.set('text', text);
  return m;
}

/**
 * An output nested past MAX_NESTING_DEPTH (only a document stored before the limit holds one)
 * shows as this notice; everything readers do with outputs (render, compare, stringify) recurses.
 */
const TOO_DEEP_OUTPUT: Output = {
  output_type: 'display_data',
  data: { 'text/plain': `Output not shown: ${NESTING_NOTICE.slice(1, -1).replace(/^removed: /, '')}.` },
  metadata: { [TRUNCATION_METADATA_KEY]: true },
};

export function outputsToJSON(arr: Y.Array<YOutput> | undefined): Output[] {
  if (!arr) return [];
  return arr.toArray().map((o) => {
    if (nestsDeeperThan(o, levelsLeft(LEVEL.output))) return structuredClone(TOO_DEEP_OUTPUT);
    return (o instanceof Y.AbstractType ? o.toJSON() : o) as Output;
  });
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** An nbformat 4.5 cell id: 1-64 chars of [a-zA-Z0-9-_]. */
export function newCellId(): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  let id = '';
  for (const b of bytes) id += ID_ALPHABET[b % ID_ALPHABET.length];
  return id;
}

export const CELL_ID_PATTERN = /^[a-zA-Z0-9-_]{1,64}$/;

export function cellsOf(doc: Y.Doc): Y.Array<YCell> {
  return doc.getArray<YCell>('cells');
}

export function metaOf(doc: Y.Doc): Y.Map<unknown> {
  return doc.getMap('meta');
}

export interface NewCell {
  id?: string;
  cell_type?: CellType;
  source?: string;
  metadata?: Record<string, unknown>;
  outputs?: Output[];
  execution_count?: number | null;
  prompt?: string;
  ai?: AiInfo;
}

/** Builds a detached cell map; insert it into the cells array to make it part of a document. */
export function createCellMap(init: NewCell = {}): YCell {
  const cell = new Y.Map<unknown>();
  const type = init.cell_type ?? 'code';
  cell.set('id', init.id && CELL_ID_PATTERN.test(init.id) ? init.id : newCellId());
  cell.set('cell_type', type);
  const source = new Y.Text();
  if (init.source) source.insert(0, init.source);
  cell.set('source', source);
  const metadata = new Y.Map<unknown>();
  for (const [k, v] of Object.entries(init.metadata ?? {})) metadata.set(k, v);
  cell.set('metadata', metadata);
  if (type === 'code') {
    const outputs = new Y.Array<YOutput>();
    if (init.outputs?.length) outputs.push(init.outputs.map(outputToY));
    cell.set('outputs', outputs);
    cell.set('execution_count', init.execution_count ?? null);
  }
  if (init.prompt !== undefined) {
    const prompt = new Y.Text();
    if (init.prompt) prompt.insert(0, init.prompt);
    cell.set('prompt', prompt);
  }
  if (init.ai) cell.set('ai', init.ai);
  return cell;
}

export interface InitOptions {
  title?: string;
  /** start with one empty code cell (default true) */
  withCell?: boolean;
}

/** Gives a fresh document its meta and a first cell. Does nothing to a document that has meta. */
export function initNotebook(doc: Y.Doc, opts: InitOptions = {}): void {
  const meta = metaOf(doc);
  if (meta.has('nbformat')) return;
  doc.transact(() => {
    meta.set('nbformat', NBFORMAT);
    meta.set('nbformat_minor', NBFORMAT_MINOR);
    meta.set('metadata', DEFAULT_NOTEBOOK_METADATA);
    meta.set('title', cleanTitle(opts.title));
    if (opts.withCell !== false) cellsOf(doc).push([createCellMap({ cell_type: 'code' })]);
  });
}

/**
 * Characters a title may not hold: control characters (C0, DEL, C1: tabs and newlines included),
 * the Unicode line and paragraph separators, and the invisible bidirectional overrides and isolates,
 * which can make a title in the list read as something it is not (title.ts checks renames with it).
 */
export const TITLE_FORBIDDEN_CHARS = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const TITLE_FORBIDDEN_ALL = new RegExp(TITLE_FORBIDDEN_CHARS.source, 'gu');

/** A title made from whatever was given (create, import, the title field): always one the layout check accepts. */
export function cleanTitle(title: unknown): string {
  if (typeof title !== 'string') return DEFAULT_TITLE;
  const t = title.replace(TITLE_FORBIDDEN_ALL, ' ').trim().slice(0, MAX_TITLE_LENGTH).trim();
  return t || DEFAULT_TITLE;
}

export function getTitle(doc: Y.Doc): string {
  const t = metaOf(doc).get('title');
  return typeof t === 'string' && t ? t : DEFAULT_TITLE;
}

export function setTitle(doc: Y.Doc, title: string): void {
  metaOf(doc).set('title', cleanTitle(title));
}

export function getKernelState(doc: Y.Doc): KernelState | undefined {
  return metaOf(doc).get('kernel') as KernelState | undefined;
}

/**
 * Stored under meta `files`: bumped whenever the notebook's working directory may have changed (an
 * upload, a delete, the end of any run), so every client refreshes its Files list.
 */
export interface FilesState {
  rev: number;
  at: number;
}

export function getFilesState(doc: Y.Doc): FilesState | undefined {
  return metaOf(doc).get('files') as FilesState | undefined;
}

/** Marks the working directory as changed (call inside the caller's transaction when there is one). */
export function markFilesChanged(doc: Y.Doc): void {
  const prev = getFilesState(doc);
  metaOf(doc).set('files', { rev: (typeof prev?.rev === 'number' ? prev.rev : 0) + 1, at: Date.now() } satisfies FilesState);
}

export function cellIndex(doc: Y.Doc, id: string): number {
  const cells = cellsOf(doc);
  for (let i = 0; i < cells.length; i++) if (cells.get(i).get('id') === id) return i;
  return -1;
}

export function findCell(doc: Y.Doc, id: string): YCell | undefined {
  const i = cellIndex(doc, id);
  return i < 0 ? undefined : cellsOf(doc).get(i);
}

export function cellId(cell: YCell): string {
  return cell.get('id') as string;
}

export function cellType(cell: YCell): CellType {
  return (cell.get('cell_type') as CellType) ?? 'code';
}

export function cellSource(cell: YCell): Y.Text {
  return cell.get('source') as Y.Text;
}

export function cellOutputs(cell: YCell): Y.Array<YOutput> | undefined {
  return cell.get('outputs') as Y.Array<YOutput> | undefined;
}

export function cellPrompt(cell: YCell): Y.Text | undefined {
  return cell.get('prompt') as Y.Text | undefined;
}

export function executionState(cell: YCell): ExecutionState | undefined {
  return cell.get('execution_state') as ExecutionState | undefined;
}

export function aiInfo(cell: YCell): AiInfo | undefined {
  return cell.get('ai') as AiInfo | undefined;
}

/** Inserts a new cell at `index` (clamped) and returns its id. */
export function insertCell(doc: Y.Doc, index: number, init: NewCell = {}): string {
  const cells = cellsOf(doc);
  const cell = createCellMap(init);
  const at = Math.max(0, Math.min(index, cells.length));
  cells.insert(at, [cell]);
  return cellId(cell);
}

export function deleteCell(doc: Y.Doc, id: string): boolean {
  const i = cellIndex(doc, id);
  if (i < 0) return false;
  cellsOf(doc).delete(i, 1);
  return true;
}

/** Copies a cell's content into a detached map (Y types cannot be re-parented). */
export function cloneCell(cell: YCell, opts: { keepId?: boolean } = {}): YCell {
  const json = cellToJSON(cell);
  const copy = createCellMap({
    id: opts.keepId ? json.id : undefined,
    cell_type: json.cell_type,
    source: json.source,
    metadata: json.metadata,
    outputs: json.outputs,
    execution_count: json.execution_count ?? null,
    prompt: json.prompt,
    ai: json.ai,
  });
  if (json.execution_state) copy.set('execution_state', json.execution_state);
  return copy;
}

/**
 * Moves a cell to `toIndex` (the index it should have afterwards). Y.Array has no move, so this is
 * a delete and an insert of a copy with the same id, as jupyter_ydoc does.
 */
export function moveCell(doc: Y.Doc, id: string, toIndex: number): boolean {
  const cells = cellsOf(doc);
  const from = cellIndex(doc, id);
  if (from < 0) return false;
  const to = Math.max(0, Math.min(toIndex, cells.length - 1));
  if (to === from) return false;
  doc.transact(() => {
    const copy = cloneCell(cells.get(from), { keepId: true });
    cells.delete(from, 1);
    cells.insert(to, [copy]);
  });
  return true;
}

/** Changes a cell's type in place; outputs only exist on code cells. */
export function setCellType(doc: Y.Doc, id: string, type: CellType): boolean {
  const cell = findCell(doc, id);
  if (!cell || cellType(cell) === type) return false;
  doc.transact(() => {
    cell.set('cell_type', type);
    if (type === 'code') {
      cell.set('outputs', new Y.Array<YOutput>());
      cell.set('execution_count', null);
    } else {
      cell.delete('outputs');
      cell.delete('execution_count');
      cell.delete('execution_state');
    }
  });
  return true;
}

/** Splits a cell at a character offset: the text after it becomes a new cell below. */
export function splitCell(doc: Y.Doc, id: string, offset: number): string | null {
  const i = cellIndex(doc, id);
  if (i < 0) return null;
  const cell = cellsOf(doc).get(i);
  const src = cellSource(cell);
  const at = Math.max(0, Math.min(offset, src.length));
  const tail = src.toString().slice(at);
  let newId: string | null = null;
  doc.transact(() => {
    src.delete(at, src.length - at);
    newId = insertCell(doc, i + 1, { cell_type: cellType(cell), source: tail.replace(/^\n/, '') });
  });
  return newId;
}

/** Appends the next cell's source to this one and deletes the next cell. */
export function mergeCellBelow(doc: Y.Doc, id: string): boolean {
  const cells = cellsOf(doc);
  const i = cellIndex(doc, id);
  if (i < 0 || i + 1 >= cells.length) return false;
  doc.transact(() => {
    const src = cellSource(cells.get(i));
    const below = cellSource(cells.get(i + 1)).toString();
    src.insert(src.length, (src.length ? '\n' : '') + below);
    cells.delete(i + 1, 1);
  });
  return true;
}

/** Gives a cell a prompt (making it an AI cell) if it has none. */
export function ensurePrompt(cell: YCell, text = ''): Y.Text {
  let prompt = cellPrompt(cell);
  if (!prompt) {
    prompt = new Y.Text();
    if (text) prompt.insert(0, text);
    cell.set('prompt', prompt);
  }
  return prompt;
}

export function replaceText(text: Y.Text, value: string): void {
  const cur = text.toString();
  if (cur === value) return;
  // keep the common prefix and suffix so remote cursors stay put where nothing changed
  let start = 0;
  while (start < cur.length && start < value.length && cur[start] === value[start]) start++;
  let endCur = cur.length;
  let endNew = value.length;
  while (endCur > start && endNew > start && cur[endCur - 1] === value[endNew - 1]) {
    endCur--;
    endNew--;
  }
  if (endCur > start) text.delete(start, endCur - start);
  if (endNew > start) text.insert(start, value.slice(start, endNew));
}

export function cellToJSON(cell: YCell): CellJSON {
  const type = cellType(cell);
  const json: CellJSON = {
    id: cellId(cell),
    cell_type: type,
    source: cellSource(cell)?.toString() ?? '',
    metadata: plainJSON(cell.get('metadata'), LEVEL.cellKey) ?? {},
  };
  if (type === 'code') {
    json.outputs = outputsToJSON(cellOutputs(cell));
    json.execution_count = (cell.get('execution_count') as number | null | undefined) ?? null;
  }
  const state = executionState(cell);
  if (state) json.execution_state = { ...state };
  const ai = aiInfo(cell);
  if (ai) json.ai = plainJSON(ai, LEVEL.cellExtraKey);
  const prompt = cellPrompt(cell);
  if (prompt) json.prompt = prompt.toString();
  return json;
}

export function notebookToJSON(doc: Y.Doc): NotebookJSON {
  const meta = metaOf(doc);
  return {
    title: getTitle(doc),
    nbformat: (meta.get('nbformat') as number) ?? NBFORMAT,
    nbformat_minor: (meta.get('nbformat_minor') as number) ?? NBFORMAT_MINOR,
    metadata: plainJSON(meta.get('metadata'), LEVEL.notebookMetadata) ?? {},
    cells: cellsOf(doc).toArray().map(cellToJSON),
  };
}

/** A JSON copy that never recurses past MAX_NESTING_DEPTH (deeper parts become a notice text). */
function plainJSON<T>(v: unknown, level: number): T | undefined {
  return v === undefined ? undefined : (toPlainJSON(v, levelsLeft(level)) as T);
}
