// The nbformat 4.5 <-> Y.Doc mapping: `.ipynb` export and import (docs/decisions/0007-ipynb-mapping.md).
// Export writes what Jupyter's own writer writes (multi-line strings as lists of lines, sorted keys,
// one-space indent) and puts everything of ours that nbformat has no place for under one key of
// cell / notebook metadata, `ynotebook`, which JupyterLab keeps and ignores. Import checks a file
// against the official schema, upgrades 4.0-4.4, and builds the whole document in memory, so the
// caller can store it in one step or not at all.
import fs from 'node:fs';
import * as Y from 'yjs';
import { z } from 'zod';
import {
  CELL_ID_PATTERN,
  DEFAULT_NOTEBOOK_METADATA,
  DEFAULT_TITLE,
  NBFORMAT,
  NBFORMAT_MINOR,
  cellsOf,
  cleanTitle,
  createCellMap,
  getTitle,
  metaOf,
  newCellId,
  type YCell,
} from '../../common/notebook/model';
import {
  MAX_OUTPUT_BYTES,
  MAX_OUTPUTS_PER_RUN,
  MAX_STREAM_CHARS_PER_RUN,
  TRUNCATION_METADATA_KEY,
} from '../../common/notebook/limits';
import { LEVEL, MAX_NESTING_DEPTH, NBFORMAT_CELL_KEYS, describeKeys, levelsLeft, nestingMessage, nestsDeeperThan, pathPastDepth, toPlainJSON } from '../../common/notebook/nesting';
import type { CellType, Output } from '../../common/notebook/types';
import { SchemaValidator, type JsonSchema, type SchemaError } from './json-schema';
import { cutTraceback } from './outputs';

/** The one metadata key (of cells and of the notebook) under which our additions travel. */
export const IPYNB_METADATA_KEY = 'ynotebook';
/** Schema errors listed in one import error message. */
export const MAX_REPORTED_SCHEMA_ERRORS = 5;

/** Under `ynotebook` of a cell's or the notebook's metadata: what an export had to leave out, and why. */
export const REMOVED_ON_EXPORT_KEY = 'removed_on_export';
/** Rounds of schema repair an export tries before it replaces a still-invalid cell whole. */
const MAX_REPAIR_ROUNDS = 3;
/** Keys of the meta map that nbformat has a place for, or that describe this process, not the notebook. */
const NOT_EXPORTED_META_KEYS = new Set(['nbformat', 'nbformat_minor', 'metadata', 'title', 'kernel', 'files']);
/** Our cell keys whose value is a Y.Text (the rest are plain JSON values). */
const TEXT_CELL_KEYS = new Set(['prompt']);

export type MultilineString = string | string[];
export type IpynbOutput = Record<string, unknown> & { output_type: string };
export interface IpynbCell {
  id: string;
  cell_type: CellType;
  metadata: Record<string, unknown>;
  source: MultilineString;
  attachments?: Record<string, Record<string, unknown>>;
  outputs?: IpynbOutput[];
  execution_count?: number | null;
}
export interface IpynbNotebook {
  cells: IpynbCell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

export type IpynbErrorCode = 'BAD_JSON' | 'NOT_A_NOTEBOOK' | 'UNSUPPORTED_NBFORMAT' | 'INVALID_NOTEBOOK';

export class IpynbError extends Error {
  constructor(
    readonly code: IpynbErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'IpynbError';
  }
}

// ---------------------------------------------------------------------------------------------
// the official schema (vendored from the nbformat Python package: nbformat/v4/nbformat.v4.5.schema.json)

let validator: SchemaValidator | null = null;
export function nbformatValidator(): SchemaValidator {
  validator ??= new SchemaValidator(
    JSON.parse(fs.readFileSync(new URL('./nbformat.v4.5.schema.json', import.meta.url), 'utf8')) as JsonSchema,
  );
  return validator;
}

/** `/cells/3/outputs/0` -> `cells[3].outputs[0]` */
export function describePath(pointer: string): string {
  if (!pointer) return 'the notebook';
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

export function formatSchemaErrors(errors: SchemaError[]): string {
  const shown = errors.slice(0, MAX_REPORTED_SCHEMA_ERRORS).map((e) => `${describePath(e.path)}: ${e.message}`);
  const more = errors.length > shown.length ? ` (and ${errors.length - shown.length} more)` : '';
  return shown.join('; ') + more;
}

// ---------------------------------------------------------------------------------------------
// multi-line strings: nbformat allows a string or a list of lines. We write lists (as Jupyter does)
// and read either.

const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

/** Python's `str.splitlines(True)`, which nbformat's writer uses. */
export function splitLines(s: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (const m of s.matchAll(LINE_BREAK)) {
    const end = m.index! + m[0].length;
    out.push(s.slice(start, end));
    start = end;
  }
  if (start < s.length) out.push(s.slice(start));
  return out;
}

export function joinLines(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : String(x))).join('');
  return v == null ? '' : String(v);
}

/** application/json and application/*+json values are JSON, not text (nbformat's rule). */
export function isJsonMime(mime: string): boolean {
  return mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'));
}

const SPLIT_NON_TEXT_MIMES = new Set(['application/javascript', 'image/svg+xml']);

function splitBundle(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [mime, v] of Object.entries(data)) {
    if (isJsonMime(mime)) out[mime] = v;
    else if (typeof v === 'string') out[mime] = mime.startsWith('text/') || SPLIT_NON_TEXT_MIMES.has(mime) ? splitLines(v) : v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[mime] = v;
    // a text MIME type holding something else (a client of ours would not write it) still exports validly
    else out[mime] = JSON.stringify(v) ?? '';
  }
  return out;
}

function joinBundle(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [mime, v] of Object.entries(data)) {
    out[mime] = !isJsonMime(mime) && Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join('') : v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// export

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A value of the document as plain JSON (Y types of other clients included) whose top sits at
 * `level` of the file: never recursing past MAX_NESTING_DEPTH, what lies deeper (a notebook stored
 * before the limit) becomes a notice text in its place.
 */
function toPlain(v: unknown, level: number): unknown {
  return toPlainJSON(v, levelsLeft(level));
}

function plainObject(v: unknown, level: number): Record<string, unknown> {
  const p = toPlain(v, level);
  return isPlainObject(p) ? p : {};
}

/** A visible output in place of one an export cannot write. */
function removedOutput(why: string): IpynbOutput {
  return { output_type: 'display_data', data: { 'text/plain': splitLines(`Output removed on export: ${why}.`) }, metadata: { [TRUNCATION_METADATA_KEY]: true } };
}

function exportOutput(raw: unknown): IpynbOutput | null {
  if (nestsDeeperThan(raw, levelsLeft(LEVEL.output))) return removedOutput(`it was ${nestingMessage()}`);
  const o = plainObject(raw, LEVEL.output);
  switch (o.output_type) {
    case 'stream':
      return { output_type: 'stream', name: typeof o.name === 'string' ? o.name : 'stdout', text: splitLines(joinLines(o.text)) };
    case 'display_data':
    case 'execute_result': {
      // `transient` (display ids) is ours and, as in Jupyter, never saved
      const out: IpynbOutput = { output_type: o.output_type, data: splitBundle(isPlainObject(o.data) ? o.data : {}), metadata: isPlainObject(o.metadata) ? o.metadata : {} };
      if (o.output_type === 'execute_result') out.execution_count = validCount(o.execution_count);
      return out;
    }
    case 'error':
      return {
        output_type: 'error',
        ename: String(o.ename ?? ''),
        evalue: String(o.evalue ?? ''),
        traceback: Array.isArray(o.traceback) ? o.traceback.map(String) : [],
      };
    default:
      // nothing of ours writes other output types; nbformat 4.5 has no place for them
      return null;
  }
}

const validCount = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null);

function exportCell(cell: YCell, usedIds: Set<string>): IpynbCell {
  const rawType = cell.get('cell_type');
  const type: CellType = rawType === 'markdown' || rawType === 'raw' || rawType === 'code' ? rawType : 'raw';
  let id = cell.get('id');
  if (typeof id !== 'string' || !CELL_ID_PATTERN.test(id) || usedIds.has(id)) id = newCellId();
  usedIds.add(id as string);

  const metadata = plainObject(cell.get('metadata'), LEVEL.cellKey);
  const ours: Record<string, unknown> = {};
  for (const [key, value] of cell.entries()) {
    if (!NBFORMAT_CELL_KEYS.has(key) && value !== undefined) {
      const plain = toPlain(value, LEVEL.cellExtraKey);
      if (plain !== undefined) ours[key] = plain;
    }
  }
  if (Object.keys(ours).length) {
    // entries an import could not restore stay in the metadata; keep them beside the live ones
    const kept = metadata[IPYNB_METADATA_KEY];
    metadata[IPYNB_METADATA_KEY] = isPlainObject(kept) ? { ...kept, ...ours } : ours;
  }

  const out: IpynbCell = { id: id as string, cell_type: type, metadata, source: splitLines(joinLines(toPlain(cell.get('source'), LEVEL.cellKey))) };
  if (type === 'code') {
    out.outputs = toArray(cell.get('outputs'))
      .map(exportOutput)
      .filter((o): o is IpynbOutput => o !== null);
    out.execution_count = validCount(cell.get('execution_count'));
  } else {
    const attachments = cell.get('attachments');
    if (attachments !== undefined) {
      out.attachments = Object.fromEntries(
        Object.entries(plainObject(attachments, LEVEL.cellKey)).map(([name, b]) => [name, splitBundle(isPlainObject(b) ? b : {})]),
      );
    }
  }
  return out;
}

function toArray(v: unknown): unknown[] {
  if (v instanceof Y.Array) return v.toArray();
  return Array.isArray(v) ? v : [];
}

/**
 * The document as an nbformat 4.5 notebook, valid against the official schema whatever the
 * document holds (any Yjs client can write into it, and notebooks stored before a rule existed
 * stay stored): what cannot be written is left out with a visible notice, never a failed export.
 */
export function docToIpynb(doc: Y.Doc): IpynbNotebook {
  const meta = metaOf(doc);
  const metadata: Record<string, unknown> = { ...structuredClone(DEFAULT_NOTEBOOK_METADATA), ...plainObject(meta.get('metadata'), LEVEL.notebookMetadata) };
  metadata.title = getTitle(doc);
  const ours: Record<string, unknown> = {};
  for (const [key, value] of meta.entries()) {
    if (!NOT_EXPORTED_META_KEYS.has(key) && value !== undefined) {
      const plain = toPlain(value, LEVEL.metaExtraKey);
      if (plain !== undefined) ours[key] = plain;
    }
  }
  if (Object.keys(ours).length) metadata[IPYNB_METADATA_KEY] = ours;
  const usedIds = new Set<string>();
  const cells = cellsOf(doc)
    .toArray()
    .map((c) => (c instanceof Y.Map ? exportCell(c, usedIds) : unexportableCell(usedIds, 'it was not a cell (a Y.Map) in the document')));
  const nb: IpynbNotebook = { cells, metadata, nbformat: NBFORMAT, nbformat_minor: NBFORMAT_MINOR };
  repairAgainstSchema(nb, usedIds);
  return nb;
}

/** A raw cell that says why the cell in its place could not be exported. */
function unexportableCell(usedIds: Set<string>, why: string, id?: string): IpynbCell {
  let cellId = id;
  if (!cellId) {
    do cellId = newCellId();
    while (usedIds.has(cellId));
    usedIds.add(cellId);
  }
  return { id: cellId, cell_type: 'raw', metadata: {}, source: splitLines(`[This cell could not be exported: ${why}.]`) };
}

function noteRemoved(metadata: Record<string, unknown>, note: string): void {
  const ours = isPlainObject(metadata[IPYNB_METADATA_KEY]) ? (metadata[IPYNB_METADATA_KEY] as Record<string, unknown>) : {};
  const notes = Array.isArray(ours[REMOVED_ON_EXPORT_KEY]) ? (ours[REMOVED_ON_EXPORT_KEY] as unknown[]) : [];
  metadata[IPYNB_METADATA_KEY] = { ...ours, [REMOVED_ON_EXPORT_KEY]: [...notes, note] };
}

const unescapePointer = (p: string) => p.replace(/~1/g, '/').replace(/~0/g, '~');

/**
 * Fixes what the schema refuses in a built export: a metadata entry of the wrong form (a client
 * wrote `tags: 5` into a cell's metadata, `kernelspec: "x"` into the notebook's) is taken out and
 * named under `metadata.ynotebook.removed_on_export`; a cell still invalid after that is replaced
 * by a raw cell saying so. Our own builder makes everything else valid.
 */
function repairAgainstSchema(nb: IpynbNotebook, usedIds: Set<string>): void {
  for (let round = 0; round <= MAX_REPAIR_ROUNDS; round++) {
    const errors = nbformatValidator().validate(nb);
    if (!errors.length) return;
    const lastRound = round === MAX_REPAIR_ROUNDS;
    const replaced = new Set<number>();
    for (const e of errors) {
      const parts = e.path.split('/').slice(1).map(unescapePointer);
      const note = `${describePath(e.path)}: ${e.message} (removed on export)`;
      if (parts[0] === 'metadata' && parts.length >= 2 && !lastRound) {
        const key = parts[1];
        if (!(key in nb.metadata)) continue;
        delete nb.metadata[key];
        const fallback = (DEFAULT_NOTEBOOK_METADATA as Record<string, unknown>)[key];
        if (fallback !== undefined) nb.metadata[key] = structuredClone(fallback);
        noteRemoved(nb.metadata, note);
      } else if (parts[0] === 'cells' && /^\d+$/.test(parts[1] ?? '')) {
        const i = Number(parts[1]);
        const cell = nb.cells[i];
        if (!cell || replaced.has(i)) continue;
        if (parts[2] === 'metadata' && parts.length >= 4 && !lastRound) {
          if (!(parts[3] in cell.metadata)) continue;
          delete cell.metadata[parts[3]];
          noteRemoved(cell.metadata, note);
        } else {
          replaced.add(i);
          nb.cells[i] = unexportableCell(usedIds, `${describePath(e.path)} ${e.message}`.slice(0, 500), cell.id);
        }
      } else if (lastRound) {
        // nothing of ours builds an invalid top level; should it ever happen, say so rather than fail
        nb.metadata = { ...structuredClone(DEFAULT_NOTEBOOK_METADATA), title: nb.metadata.title };
        noteRemoved(nb.metadata, note);
      }
    }
  }
}

/** JSON as nbformat writes it: keys sorted, one-space indent, a final newline. */
export function serializeIpynb(nb: IpynbNotebook): string {
  return (
    JSON.stringify(
      nb,
      (_key, value: unknown) =>
        isPlainObject(value) ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, value[k]])) : value,
      1,
    ) + '\n'
  );
}

// ---------------------------------------------------------------------------------------------
// import: parse, check, upgrade

export const CONVERT_HINT = 'jupyter nbconvert --to notebook --nbformat 4 <file>.ipynb';

/**
 * Parses and checks an uploaded notebook: JSON, a notebook, nbformat 4, valid against the 4.5
 * schema once upgraded. Returns it upgraded to 4.5 (cell ids made where missing, invalid or repeated).
 */
export function parseIpynb(input: string | Uint8Array): IpynbNotebook {
  let text: string;
  if (typeof input === 'string') text = input.replace(/^\uFEFF/, '');
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      throw new IpynbError('BAD_JSON', 'not a notebook: the file is not UTF-8 text');
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new IpynbError('BAD_JSON', `not a notebook: the file is not valid JSON (${(err as Error).message})`);
  }
  // before anything else walks it: the schema check, the document builder and every later reader recurse
  const tooDeep = pathPastDepth(json, MAX_NESTING_DEPTH);
  if (tooDeep) {
    throw new IpynbError(
      'INVALID_NOTEBOOK',
      `the notebook is ${nestingMessage(describeKeys(tooDeep))}; no notebook needs that many, so this file is refused`,
    );
  }
  if (!isPlainObject(json) || !('nbformat' in json)) {
    throw new IpynbError('NOT_A_NOTEBOOK', 'not a Jupyter notebook: expected a JSON object with "nbformat", "nbformat_minor", "metadata" and "cells"');
  }
  const major = json.nbformat;
  if (typeof major !== 'number' || !Number.isInteger(major)) {
    throw new IpynbError('NOT_A_NOTEBOOK', `not a Jupyter notebook: "nbformat" must be an integer, not ${JSON.stringify(major)}`);
  }
  if (major < NBFORMAT) {
    throw new IpynbError(
      'UNSUPPORTED_NBFORMAT',
      `this notebook is in nbformat ${major}, which is not supported (nbformat 4.0 to 4.5 are). ` +
        `Convert it with \`${CONVERT_HINT}\` and import the result.`,
    );
  }
  if (major > NBFORMAT) {
    throw new IpynbError('UNSUPPORTED_NBFORMAT', `this notebook is in nbformat ${major}, newer than this app understands (nbformat 4.0 to 4.5).`);
  }
  if (!Array.isArray(json.cells)) {
    throw new IpynbError('NOT_A_NOTEBOOK', 'not a Jupyter notebook: "cells" must be a list');
  }
  const minor = json.nbformat_minor;
  if (typeof minor === 'number' && Number.isInteger(minor) && minor >= 0 && minor < NBFORMAT_MINOR) {
    // nbformat's upgrade from 4.x to 4.5 only adds cell ids, which the loop below does
    json.nbformat_minor = NBFORMAT_MINOR;
  }
  // Missing, invalid and repeated ids are replaced, as nbformat's validate(repair_duplicate_cell_ids) does.
  const seen = new Set<string>();
  for (const cell of json.cells) {
    if (!isPlainObject(cell)) continue;
    const id = cell.id;
    if (typeof id !== 'string' || !CELL_ID_PATTERN.test(id) || seen.has(id)) {
      let fresh = newCellId();
      while (seen.has(fresh)) fresh = newCellId();
      cell.id = fresh;
    }
    seen.add(cell.id as string);
  }
  const errors = nbformatValidator().validate(json);
  if (errors.length) {
    throw new IpynbError('INVALID_NOTEBOOK', `the notebook does not match the nbformat 4.5 schema: ${formatSchemaErrors(errors)}`);
  }
  return json as unknown as IpynbNotebook;
}

// ---------------------------------------------------------------------------------------------
// import: outputs, with the document's limits

const fmt = (n: number) => n.toLocaleString('en-US');

/** The same visible notice the run path writes when a limit cuts something (server/notebook/outputs.ts). */
function notice(text: string): Output {
  return { output_type: 'display_data', data: { 'text/plain': text }, metadata: { [TRUNCATION_METADATA_KEY]: true } };
}

function countLines(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 10) n++;
  return n;
}

/**
 * Plain outputs of an imported code cell: multi-line strings joined, consecutive streams of one
 * name merged (as the document keeps them; their text unchanged), and the limits of
 * common/notebook/limits.ts applied with a visible notice.
 */
export function importOutputs(raw: IpynbOutput[]): Output[] {
  const outputs: Output[] = [];
  let streamChars = 0;
  let droppedChars = 0;
  let droppedLines = 0;
  let droppedOutputs = 0;
  for (const o of raw) {
    if (o.output_type === 'stream') {
      const name = o.name === 'stderr' ? 'stderr' : 'stdout';
      let text = joinLines(o.text);
      const room = MAX_STREAM_CHARS_PER_RUN - streamChars;
      if (text.length > room) {
        const cut = text.slice(Math.max(0, room));
        droppedChars += cut.length;
        droppedLines += countLines(cut);
        text = text.slice(0, Math.max(0, room));
      }
      if (!text) continue;
      streamChars += text.length;
      const last = outputs[outputs.length - 1];
      if (last?.output_type === 'stream' && last.name === name) {
        last.text += text;
        continue;
      }
      if (outputs.length >= MAX_OUTPUTS_PER_RUN) {
        droppedOutputs++;
        continue;
      }
      outputs.push({ output_type: 'stream', name, text });
      continue;
    }
    if (outputs.length >= MAX_OUTPUTS_PER_RUN) {
      droppedOutputs++;
      continue;
    }
    if (o.output_type === 'display_data' || o.output_type === 'execute_result') {
      const data = joinBundle(o.data as Record<string, unknown>);
      const metadata = o.metadata as Record<string, unknown>;
      const size = JSON.stringify(data).length;
      if (size > MAX_OUTPUT_BYTES) {
        outputs.push(
          notice(
            `Output not kept: it was ${fmt(size)} bytes (${Object.keys(data).join(', ')}); the limit is ${fmt(MAX_OUTPUT_BYTES)} bytes. ` +
              'Write large results to a file instead.',
          ),
        );
      } else if (o.output_type === 'execute_result') {
        outputs.push({ output_type: 'execute_result', data, metadata, execution_count: validCount(o.execution_count) });
      } else {
        outputs.push({ output_type: 'display_data', data, metadata });
      }
      continue;
    }
    if (o.output_type === 'error') {
      const traceback = cutTraceback((o.traceback as string[]).slice());
      outputs.push({ output_type: 'error', ename: o.ename as string, evalue: o.evalue as string, traceback });
    }
  }
  const parts: string[] = [];
  if (droppedChars) {
    parts.push(`${fmt(droppedChars)} more characters (${fmt(droppedLines)} lines) of printed output were not kept (limit ${fmt(MAX_STREAM_CHARS_PER_RUN)} characters per run)`);
  }
  if (droppedOutputs) parts.push(`${fmt(droppedOutputs)} more outputs were not kept (limit ${fmt(MAX_OUTPUTS_PER_RUN)} per run)`);
  if (parts.length) outputs.push(notice(`Output truncated: ${parts.join('; ')}.`));
  return outputs;
}

// ---------------------------------------------------------------------------------------------
// import: our additions back from metadata

const ActorSchema = z.object({ name: z.string(), color: z.string().optional() }).passthrough();
const ExecutionStateSchema = z.object({ state: z.enum(['idle', 'queued', 'running']), by: ActorSchema.optional(), since: z.number() }).passthrough();
const AiInfoSchema = z
  .object({
    model: z.string(),
    endpoint: z.string(),
    status: z.enum(['generating', 'running', 'fixing', 'answering', 'done', 'failed', 'stopped']),
    attempt: z.number(),
    maxAttempts: z.number(),
    attempts: z.array(
      z
        .object({
          generation: z.number(),
          code: z.string(),
          outcome: z.enum(['ok', 'error', 'stopped', 'provider-error']).nullable(),
          startedAt: z.number(),
        })
        .passthrough(),
    ),
    by: ActorSchema.optional(),
    startedAt: z.number(),
    generation: z.number(),
  })
  .passthrough();

const ACTIVE_AI = new Set(['generating', 'running', 'fixing']);

/**
 * Sorts the `ynotebook` entries of a cell's metadata into keys to set back on the cell map and
 * entries that do not have the shape the app expects: those stay in the metadata, so nothing is
 * lost and nothing malformed reaches the document.
 */
function restoreCellExtras(extras: Record<string, unknown>): { restored: [string, unknown][]; left: Record<string, unknown> } {
  const restored: [string, unknown][] = [];
  const left: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(extras)) {
    if (NBFORMAT_CELL_KEYS.has(key)) {
      left[key] = value;
    } else if (TEXT_CELL_KEYS.has(key)) {
      if (typeof value !== 'string') left[key] = value;
      else restored.push([key, new Y.Text(value)]);
    } else if (key === 'ai') {
      const r = AiInfoSchema.safeParse(value);
      if (!r.success) left[key] = value;
      else {
        const ai = r.data;
        // a file saved mid-generation: nothing is generating here (while answering, the code had run)
        restored.push([
          key,
          ai.status === 'answering'
            ? { ...ai, status: 'done', detail: "The notebook was saved before the model's answer was complete." }
            : ACTIVE_AI.has(ai.status)
              ? { ...ai, status: 'failed', detail: 'Interrupted: the notebook was saved while this was in progress. Regenerate to try again.' }
              : ai,
        ]);
      }
    } else if (key === 'execution_state') {
      const r = ExecutionStateSchema.safeParse(value);
      if (r.success) restored.push([key, r.data.state === 'idle' ? r.data : { state: 'idle', since: Date.now() }]);
      else if (typeof value === 'string') restored.push([key, 'idle']); // jupyter_ydoc's plain-string form
      else left[key] = value;
    } else {
      restored.push([key, value]);
    }
  }
  return { restored, left };
}

// ---------------------------------------------------------------------------------------------
// import: the document

export interface ImportOptions {
  /** the uploaded file's name; the title when the notebook's metadata has none */
  name?: string;
}

export interface ImportedNotebook {
  title: string;
  doc: Y.Doc;
  /** the whole document as one Yjs update: the notebook's initial state in storage */
  update: Uint8Array;
  cellCount: number;
}

export function titleFrom(metadataTitle: unknown, name: string | undefined): string {
  if (typeof metadataTitle === 'string' && metadataTitle.trim()) return cleanTitle(metadataTitle);
  if (name) {
    const base = name.split(/[\\/]/).pop()!.replace(/\.ipynb$/i, '');
    if (base.trim()) return cleanTitle(base);
  }
  return DEFAULT_TITLE;
}

/** Builds a document from a checked notebook (see parseIpynb). */
export function ipynbToDoc(nb: IpynbNotebook, opts: ImportOptions = {}): { doc: Y.Doc; title: string } {
  const doc = new Y.Doc();
  const metadata = { ...nb.metadata };
  const title = titleFrom(metadata.title, opts.name);
  delete metadata.title; // the document's title is the one place it lives; export writes it back
  let notebookExtras: Record<string, unknown> | null = null;
  if (isPlainObject(metadata[IPYNB_METADATA_KEY])) {
    notebookExtras = metadata[IPYNB_METADATA_KEY] as Record<string, unknown>;
    delete metadata[IPYNB_METADATA_KEY];
  }
  for (const [k, v] of Object.entries(DEFAULT_NOTEBOOK_METADATA)) if (!(k in metadata)) metadata[k] = structuredClone(v);

  const restoredMeta: Record<string, unknown> = {};
  if (notebookExtras) {
    const left: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(notebookExtras)) {
      if (NOT_EXPORTED_META_KEYS.has(k)) left[k] = v;
      else restoredMeta[k] = v;
    }
    if (Object.keys(left).length) metadata[IPYNB_METADATA_KEY] = left;
  }

  doc.transact(() => {
    const meta = metaOf(doc);
    meta.set('nbformat', NBFORMAT);
    meta.set('nbformat_minor', NBFORMAT_MINOR);
    meta.set('metadata', metadata);
    meta.set('title', title);
    for (const [k, v] of Object.entries(restoredMeta)) meta.set(k, v);
    const cells = nb.cells.map((c) => {
      const cellMetadata = { ...c.metadata };
      const extras = cellMetadata[IPYNB_METADATA_KEY];
      let restored: [string, unknown][] = [];
      if (isPlainObject(extras)) {
        const r = restoreCellExtras(extras);
        restored = r.restored;
        if (Object.keys(r.left).length) cellMetadata[IPYNB_METADATA_KEY] = r.left;
        else delete cellMetadata[IPYNB_METADATA_KEY];
      }
      const cell = createCellMap({
        id: c.id,
        cell_type: c.cell_type,
        source: joinLines(c.source),
        metadata: cellMetadata,
        outputs: c.cell_type === 'code' ? importOutputs(c.outputs ?? []) : undefined,
        execution_count: c.cell_type === 'code' ? validCount(c.execution_count) : undefined,
      });
      if (c.attachments !== undefined) {
        // nbformat's place for pasted images of markdown and raw cells; kept as a plain object on the cell
        cell.set('attachments', Object.fromEntries(Object.entries(c.attachments).map(([name, b]) => [name, joinBundle(b)])));
      }
      for (const [key, value] of restored) cell.set(key, value);
      return cell;
    });
    cellsOf(doc).push(cells);
  });
  return { doc, title };
}

/** Everything an import needs short of storing it: parse, check, upgrade, build the document. */
export function importIpynb(input: string | Uint8Array, opts: ImportOptions = {}): ImportedNotebook {
  const nb = parseIpynb(input);
  const { doc, title } = ipynbToDoc(nb, opts);
  return { title, doc, update: Y.encodeStateAsUpdate(doc), cellCount: nb.cells.length };
}
