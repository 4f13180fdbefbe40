import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  cellPrompt,
  cellsOf,
  cellToJSON,
  createCellMap,
  DEFAULT_TITLE,
  findCell,
  initNotebook,
  insertCell,
  metaOf,
  outputToY,
} from '../../common/notebook/model';
import { MAX_OUTPUT_BYTES, MAX_OUTPUTS_PER_RUN, MAX_STREAM_CHARS_PER_RUN, MAX_TRACEBACK_CHARS, TRUNCATION_METADATA_KEY } from '../../common/notebook/limits';
import { MAX_NESTING_DEPTH } from '../../common/notebook/nesting';
import { AI_CONTEXT_KEY, type AiInfo, type Output } from '../../common/notebook/types';
import {
  docToIpynb,
  importIpynb,
  IpynbError,
  IPYNB_METADATA_KEY,
  nbformatValidator,
  parseIpynb,
  serializeIpynb,
  splitLines,
  titleFrom,
  type IpynbNotebook,
} from '../../server/notebook/ipynb';
import { SchemaValidator } from '../../server/notebook/json-schema';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/notebooks');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

const nb = (cells: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells, ...extra });
const code = (id: string, outputs: unknown[] = [], more: Record<string, unknown> = {}) => ({
  id,
  cell_type: 'code',
  metadata: {},
  source: 'x',
  outputs,
  execution_count: null,
  ...more,
});

function importError(input: string): IpynbError {
  try {
    importIpynb(input);
  } catch (err) {
    if (err instanceof IpynbError) return err;
    throw err;
  }
  throw new Error('expected the import to fail');
}

function roundTrip(doc: Y.Doc) {
  const text = serializeIpynb(docToIpynb(doc));
  return { text, exported: JSON.parse(text) as IpynbNotebook, imported: importIpynb(text) };
}

const aiInfo = (status: AiInfo['status'] = 'done'): AiInfo => ({
  model: 'gpt-test',
  endpoint: 'fake',
  status,
  attempt: 2,
  maxAttempts: 3,
  attempts: [
    { generation: 1, code: 'print(1/0)', outcome: 'error', error: 'ZeroDivisionError', startedAt: 1, finishedAt: 2 },
    { generation: 1, code: 'print(1)', outcome: 'ok', startedAt: 3, finishedAt: 4 },
  ],
  by: { name: 'Ada', color: '#ff0000' },
  startedAt: 1,
  finishedAt: 4,
  answer: 'It prints 1.',
  generation: 1,
  promptAtStart: 'print one',
});

describe('the vendored nbformat schema and its validator', () => {
  it('compiles: every keyword the schema uses is implemented', () => {
    expect(() => nbformatValidator()).not.toThrow();
    expect(() => new SchemaValidator({ type: 'object', if: { type: 'string' } })).toThrow(/"if".*not implemented/);
  });

  it('accepts every fixture notebook (upgraded) and names what is wrong and where', () => {
    for (const f of fs.readdirSync(FIXTURES).filter((n) => n.endsWith('.ipynb'))) {
      expect(() => parseIpynb(fixture(f)), f).not.toThrow();
    }
    const v = nbformatValidator();
    const bad = JSON.parse(nb([code('a', [{ output_type: 'stream', name: 'stdout' }]), { id: 'b', cell_type: 'markdown', source: 3, metadata: {} }]));
    const errs = v.validate(bad);
    expect(errs).toContainEqual({ path: '/cells/0/outputs/0', message: 'missing required property "text"' });
    expect(errs).toContainEqual({ path: '/cells/1/source', message: 'must be string or array, not integer' });
    const wrongTag = v.validate(JSON.parse(nb([code('a', [{ output_type: 'picture', data: {} }])])));
    expect(wrongTag).toEqual([
      { path: '/cells/0/outputs/0/output_type', message: 'must be one of "execute_result", "display_data", "stream", "error", not "picture"' },
    ]);
  });
});

describe('multi-line strings', () => {
  it('split like Python str.splitlines(True) and join back to the same text', () => {
    expect(splitLines('a\nb\r\nc\rd\u2028e')).toEqual(['a\n', 'b\r\n', 'c\r', 'd\u2028', 'e']);
    expect(splitLines('')).toEqual([]);
    expect(splitLines('last\n')).toEqual(['last\n']);
    for (const s of ['x', '\n\n', 'a\r\n\rb', 'é🚀\n']) expect(splitLines(s).join('')).toBe(s);
  });
});

describe('export', () => {
  it('writes nbformat 4.5 as Jupyter does: ids, lists of lines, outputs without transient, title and kernelspec', () => {
    const doc = new Y.Doc();
    initNotebook(doc, { title: 'Sales', withCell: false });
    const id = insertCell(doc, 0, {
      source: 'print(1)\nx',
      outputs: [
        { output_type: 'stream', name: 'stdout', text: '1\n2\n' },
        { output_type: 'execute_result', data: { 'text/plain': "'a'\n'b'", 'image/png': 'iVBOR\n', 'application/json': { a: [1] } }, metadata: {}, execution_count: 3, transient: { display_id: 'd1' } },
        { output_type: 'error', ename: 'E', evalue: 'v', traceback: ['\u001b[31mline1', 'line2'] },
      ],
      execution_count: 3,
    });
    insertCell(doc, 1, { cell_type: 'markdown', source: '# Title' });
    const { exported, text } = roundTrip(doc);
    expect(nbformatValidator().validate(exported)).toEqual([]);
    expect(text.startsWith('{\n "cells": [')).toBe(true);
    expect(exported.nbformat).toBe(4);
    expect(exported.nbformat_minor).toBe(5);
    expect(exported.metadata).toMatchObject({ title: 'Sales', kernelspec: { name: 'python3' }, language_info: { name: 'python' } });
    const [c0, c1] = exported.cells;
    expect(c0).toMatchObject({ id, cell_type: 'code', source: ['print(1)\n', 'x'], execution_count: 3 });
    expect(c0.outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: ['1\n', '2\n'] },
      { output_type: 'execute_result', data: { 'text/plain': ["'a'\n", "'b'"], 'image/png': 'iVBOR\n', 'application/json': { a: [1] } }, metadata: {}, execution_count: 3 },
      { output_type: 'error', ename: 'E', evalue: 'v', traceback: ['\u001b[31mline1', 'line2'] },
    ]);
    expect(c1).toEqual({ id: expect.any(String), cell_type: 'markdown', metadata: {}, source: ['# Title'] });
  });

  it("reads the forms other clients write (jupyter_ydoc: outputs as Y.Map, text as Y.Text, a plain-string state) and repairs bad ids", () => {
    const doc = new Y.Doc();
    initNotebook(doc, { withCell: false });
    const a = createCellMap({ id: 'same' });
    const b = createCellMap({ id: 'same' });
    cellsOf(doc).push([a, b]);
    const out = new Y.Map<unknown>();
    const data = new Y.Map<unknown>();
    out.set('output_type', 'display_data');
    data.set('text/plain', 'hi');
    out.set('data', data);
    out.set('metadata', new Y.Map());
    (a.get('outputs') as Y.Array<unknown>).push([out, outputToY({ output_type: 'stream', name: 'stderr', text: 'warn\n' })]);
    a.set('execution_state', 'idle');
    const { exported } = roundTrip(doc);
    expect(nbformatValidator().validate(exported)).toEqual([]);
    expect(exported.cells[0].outputs).toEqual([
      { output_type: 'display_data', data: { 'text/plain': ['hi'] }, metadata: {} },
      { output_type: 'stream', name: 'stderr', text: ['warn\n'] },
    ]);
    expect(exported.cells[0].metadata[IPYNB_METADATA_KEY]).toEqual({ execution_state: 'idle' });
    expect(exported.cells[0].id).toBe('same');
    expect(exported.cells[1].id).not.toBe('same');
  });
});

describe('AI cells round trip', () => {
  it('provenance, prompt, state and context ride under metadata.ynotebook and come back as they were', () => {
    const doc = new Y.Doc();
    initNotebook(doc, { withCell: false });
    const id = insertCell(doc, 0, { source: 'print(1)', prompt: 'print one', ai: aiInfo(), metadata: { tags: ['ai'] } });
    const cell = findCell(doc, id)!;
    cell.set('execution_state', { state: 'idle', since: 5, by: { name: 'Ada' } });
    cell.set(AI_CONTEXT_KEY, 'the context sent to the model');
    metaOf(doc).set('kernel', { status: 'idle', since: 1 });

    const { exported, imported } = roundTrip(doc);
    expect(exported.cells[0].metadata).toEqual({
      tags: ['ai'],
      [IPYNB_METADATA_KEY]: { ai: aiInfo(), prompt: 'print one', execution_state: { state: 'idle', since: 5, by: { name: 'Ada' } }, [AI_CONTEXT_KEY]: 'the context sent to the model' },
    });
    expect(exported.metadata[IPYNB_METADATA_KEY]).toBeUndefined(); // kernel status is this process's, not the notebook's

    const back = cellsOf(imported.doc).get(0);
    expect(cellPrompt(back)).toBeInstanceOf(Y.Text);
    expect(cellToJSON(back)).toEqual(cellToJSON(cell));
    expect(back.get(AI_CONTEXT_KEY)).toBe('the context sent to the model');
    expect((back.get('metadata') as Y.Map<unknown>).toJSON()).toEqual({ tags: ['ai'] });
  });

  it('a file saved mid-run or mid-generation comes back idle, and malformed additions stay in metadata untouched', () => {
    const doc = new Y.Doc();
    initNotebook(doc, { withCell: false });
    const id = insertCell(doc, 0, { prompt: 'p', ai: aiInfo('fixing') });
    findCell(doc, id)!.set('execution_state', { state: 'running', since: 5 });
    const back = cellsOf(roundTrip(doc).imported.doc).get(0);
    expect(back.get('execution_state')).toMatchObject({ state: 'idle' });
    expect(back.get('ai')).toMatchObject({ status: 'failed', detail: expect.stringContaining('Regenerate') });

    const odd = importIpynb(nb([code('c1', [], { metadata: { [IPYNB_METADATA_KEY]: { ai: { status: 'nonsense' }, prompt: 42, custom: [1] } } })]));
    const c = cellsOf(odd.doc).get(0);
    expect(c.get('ai')).toBeUndefined();
    expect(c.get('prompt')).toBeUndefined();
    expect(c.get('custom')).toEqual([1]);
    expect((c.get('metadata') as Y.Map<unknown>).get(IPYNB_METADATA_KEY)).toEqual({ ai: { status: 'nonsense' }, prompt: 42 });
  });
});

describe('import', () => {
  it('upgrades 4.0 (ids made), replaces invalid and repeated ids, joins sources and keeps unknown metadata', () => {
    const old = JSON.stringify({
      nbformat: 4,
      nbformat_minor: 0,
      metadata: { custom: { deep: [1, { x: null }] } },
      cells: [
        { cell_type: 'code', metadata: { myext: true }, source: ['a = 1\n', 'a'], outputs: [], execution_count: 1 },
        { cell_type: 'raw', metadata: { format: 'text/x-rst' }, source: 'raw' },
      ],
    });
    const { doc } = importIpynb(old);
    const cells = cellsOf(doc).toArray().map(cellToJSON);
    expect(cells[0]).toMatchObject({ source: 'a = 1\na', metadata: { myext: true }, execution_count: 1 });
    expect(cells[0].id).toMatch(/^[a-z0-9]{12}$/);
    expect(cells[1]).toMatchObject({ cell_type: 'raw', source: 'raw', metadata: { format: 'text/x-rst' } });
    expect(metaOf(doc).get('nbformat_minor')).toBe(5);
    expect(metaOf(doc).get('metadata')).toMatchObject({ custom: { deep: [1, { x: null }] }, kernelspec: { name: 'python3' } });

    const ids = importIpynb(nb([code('dup'), code('dup'), code('bad id!'), code('ok-1_x')])).doc;
    const got = cellsOf(ids).toArray().map((c) => c.get('id') as string);
    expect(got[0]).toBe('dup');
    expect(got[3]).toBe('ok-1_x');
    expect(new Set(got).size).toBe(4);
    expect(got.every((i) => /^[a-zA-Z0-9-_]{1,64}$/.test(i))).toBe(true);
  });

  it('merges consecutive streams of one name without touching their text, and keeps attachments on the cell', () => {
    const doc = importIpynb(
      nb([
        code('s', [
          { output_type: 'stream', name: 'stdout', text: ['\r', '10%'] },
          { output_type: 'stream', name: 'stdout', text: '\r20%' },
          { output_type: 'stream', name: 'stderr', text: 'e\n' },
          { output_type: 'stream', name: 'stdout', text: ['done\n'] },
        ]),
        { id: 'm', cell_type: 'markdown', metadata: {}, source: '![a](attachment:a.png)', attachments: { 'a.png': { 'image/png': 'iVBOR', 'text/plain': ['alt ', 'text'] } } },
      ]),
    ).doc;
    const [c, md] = cellsOf(doc).toArray();
    expect(cellToJSON(c).outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: '\r10%\r20%' },
      { output_type: 'stream', name: 'stderr', text: 'e\n' },
      { output_type: 'stream', name: 'stdout', text: 'done\n' },
    ]);
    expect((c.get('outputs') as Y.Array<unknown>).get(0)).toBeInstanceOf(Y.Map); // stored as the run path stores streams
    expect(md.get('attachments')).toEqual({ 'a.png': { 'image/png': 'iVBOR', 'text/plain': 'alt text' } });
    const back = docToIpynb(doc).cells[1];
    expect(back.attachments).toEqual({ 'a.png': { 'image/png': 'iVBOR', 'text/plain': ['alt text'] } });
  });

  it('cuts what is over the output limits with the visible notice the app uses, never silently', () => {
    const hugeStream = { output_type: 'stream', name: 'stdout', text: 'y'.repeat(MAX_STREAM_CHARS_PER_RUN - 10) + '\n'.repeat(30) };
    const hugeImage = { output_type: 'display_data', data: { 'image/png': 'A'.repeat(MAX_OUTPUT_BYTES + 1) }, metadata: {} };
    const longTb = { output_type: 'error', ename: 'E', evalue: 'v', traceback: Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(1000, '.')) };
    const many = Array.from({ length: MAX_OUTPUTS_PER_RUN + 5 }, (_, i) => ({ output_type: 'display_data', data: { 'text/plain': `${i}` }, metadata: {} }));
    const { doc } = importIpynb(nb([code('a', [hugeStream, hugeImage, longTb]), code('b', many)]));
    const [a, b] = cellsOf(doc).toArray().map((c) => cellToJSON(c).outputs as Output[]);
    expect((a[0] as { text: string }).text).toHaveLength(MAX_STREAM_CHARS_PER_RUN);
    expect(a[1]).toMatchObject({ data: { 'text/plain': expect.stringContaining('Output not kept') }, metadata: { [TRUNCATION_METADATA_KEY]: true } });
    const tb = (a[2] as { traceback: string[] }).traceback;
    expect(tb[0]).toContain('traceback cut');
    expect(tb.slice(1).join('').length).toBeLessThanOrEqual(MAX_TRACEBACK_CHARS);
    expect(a[3]).toMatchObject({ data: { 'text/plain': 'Output truncated: 20 more characters (20 lines) of printed output were not kept (limit 200,000 characters per run).' } });
    expect(b).toHaveLength(MAX_OUTPUTS_PER_RUN + 1);
    expect(b[MAX_OUTPUTS_PER_RUN]).toMatchObject({ data: { 'text/plain': expect.stringContaining('5 more outputs were not kept') }, metadata: { [TRUNCATION_METADATA_KEY]: true } });
  });

  it('refuses bad input with an error that says what is wrong', () => {
    expect(importError('{"nbformat": 4,')).toMatchObject({ code: 'BAD_JSON', message: expect.stringContaining('not valid JSON') });
    expect(importError('[1, 2]')).toMatchObject({ code: 'NOT_A_NOTEBOOK' });
    expect(importError('{"cells": []}')).toMatchObject({ code: 'NOT_A_NOTEBOOK' });
    const v3 = importError(JSON.stringify({ nbformat: 3, nbformat_minor: 0, metadata: {}, worksheets: [{ cells: [] }] }));
    expect(v3).toMatchObject({ code: 'UNSUPPORTED_NBFORMAT', message: expect.stringContaining('nbformat 3') });
    expect(v3.message).toContain('jupyter nbconvert --to notebook --nbformat 4');
    const invalid = importError(nb([code('a', [], { execution_count: 'one' })]));
    expect(invalid).toMatchObject({ code: 'INVALID_NOTEBOOK', message: expect.stringContaining('cells[0].execution_count: must be integer or null, not string') });
    expect(() => parseIpynb(new Uint8Array([0x7b, 0xff, 0xfe]))).toThrow(/not UTF-8/);
  });

  it('takes the title from the metadata, else the file name, else the default', () => {
    expect(titleFrom('Sales', 'x.ipynb')).toBe('Sales');
    expect(titleFrom(undefined, 'dir/Q3 report.ipynb')).toBe('Q3 report');
    expect(titleFrom('  ', undefined)).toBe(DEFAULT_TITLE);
    expect(importIpynb(nb([], { metadata: { title: 'From meta' } }), { name: 'file.ipynb' }).title).toBe('From meta');
    expect(importIpynb(nb([]), { name: 'file.ipynb' }).title).toBe('file');
  });
});

describe('nesting depth and notebooks stored before the rules (docs/decisions/0025)', () => {
  const nested = (levels: number): unknown => {
    let v: unknown = { x: 1 };
    for (let i = 1; i < levels; i++) v = { a: v };
    return v;
  };

  it('an import nested past MAX_NESTING_DEPTH is refused naming the limit and where; one at the limit imports', () => {
    // notebook 1, cells 2, cell 3, metadata 4: a value under a metadata key starts at level 5
    const at = (levels: number) => nb([{ ...code('c1'), metadata: { deep: nested(levels) } }]);
    expect(importIpynb(at(MAX_NESTING_DEPTH - 4)).cellCount).toBe(1);
    let err: IpynbError | null = null;
    try {
      importIpynb(at(MAX_NESTING_DEPTH - 3));
    } catch (e) {
      err = e as IpynbError;
    }
    expect(err?.code).toBe('INVALID_NOTEBOOK');
    expect(err?.message).toMatch(/nested more than 64 levels deep \(MAX_NESTING_DEPTH\) at cells\[0\]\.metadata\.deep\.a\.a/);
    // far deeper than any recursive reader survives: still a clean refusal
    expect(() => importIpynb(`{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [${'['.repeat(100_000)}${']'.repeat(100_000)}]}`)).toThrow(/MAX_NESTING_DEPTH/);
  });

  it('whatever the limit lets into the document exports within it and imports back', () => {
    const doc = new Y.Doc();
    initNotebook(doc);
    const cell = cellsOf(doc).get(0);
    (cell.get('metadata') as Y.Map<unknown>).set('deep', nested(MAX_NESTING_DEPTH - 4));
    cell.set('extra', nested(MAX_NESTING_DEPTH - 6)); // ours: under metadata.ynotebook in the file
    const text = serializeIpynb(docToIpynb(doc));
    expect(importIpynb(text).cellCount).toBe(1);
  });

  it('a document stored with values thousands deep, binary data and BigInts exports valid nbformat with notices', () => {
    const doc = new Y.Doc();
    initNotebook(doc);
    insertCell(doc, 1, { source: 'print(1)' });
    const [first, second] = cellsOf(doc).toArray();
    // as an old stored notebook may hold them: written without the layout check
    (first.get('metadata') as Y.Map<unknown>).set('deep', nested(3000));
    (first.get('metadata') as Y.Map<unknown>).set('tags', 5); // schema: a list of strings
    (first.get('metadata') as Y.Map<unknown>).set('big', 2n ** 70n);
    first.set('blob', new Uint8Array([1, 2, 3]));
    // Y.Maps nested one in another, each added to the document in turn (as updates over time would)
    let ym = new Y.Map<unknown>();
    first.set('ai_like', ym);
    doc.transact(() => {
      for (let i = 0; i < 6000; i++) {
        const child = new Y.Map<unknown>();
        ym.set('a', child);
        ym = child;
      }
    });
    (second.get('outputs') as Y.Array<unknown>).push([
      { output_type: 'display_data', metadata: {}, data: { 'application/json': nested(5000) } },
      { output_type: 'stream', name: 'stdout', text: 'kept\n' },
    ]);
    metaOf(doc).set('metadata', { kernelspec: 'not an object', deep: nested(4000) });

    const out = docToIpynb(doc);
    const text = serializeIpynb(out);
    expect(nbformatValidator().validate(JSON.parse(text))).toEqual([]);
    const [c1, c2] = out.cells;
    expect(JSON.stringify(c1.metadata.deep)).toContain('nested more than 64 levels deep (MAX_NESTING_DEPTH)');
    expect(c1.metadata.tags).toBeUndefined();
    expect((c1.metadata[IPYNB_METADATA_KEY] as Record<string, unknown>).removed_on_export).toEqual([
      'cells[0].metadata.tags: must be array, not integer (removed on export)',
    ]);
    expect(c1.metadata.big).toBe('1180591620717411303424');
    expect((c1.metadata[IPYNB_METADATA_KEY] as Record<string, unknown>).blob).toBe('[binary data: 3 bytes]');
    expect(c2.outputs).toHaveLength(2);
    expect(c2.outputs![0].data).toEqual({ 'text/plain': ['Output removed on export: it was nested more than 64 levels deep (MAX_NESTING_DEPTH).'] });
    expect(c2.outputs![1].text).toEqual(['kept\n']);
    // a kernelspec of the wrong form is replaced by the default, and said so
    expect(out.metadata.kernelspec).toEqual({ name: 'python3', display_name: 'Python 3', language: 'python' });
    expect(JSON.stringify(out.metadata.ynotebook)).toContain('metadata.kernelspec: must be object');
    // and the export imports back
    expect(importIpynb(text).cellCount).toBe(2);
  });

  it('the model code the page uses (outputsToJSON, cellToJSON) reads such a document without running out of stack', () => {
    const doc = new Y.Doc();
    initNotebook(doc);
    const cell = cellsOf(doc).get(0);
    (cell.get('outputs') as Y.Array<unknown>).push([
      { output_type: 'display_data', metadata: {}, data: { 'application/json': nested(5000) } },
      outputToY({ output_type: 'stream', name: 'stdout', text: 'still here\n' }),
    ]);
    (cell.get('metadata') as Y.Map<unknown>).set('deep', nested(5000));
    const json = cellToJSON(cell);
    expect(json.outputs).toHaveLength(2);
    expect(JSON.stringify(json.outputs![0])).toContain('MAX_NESTING_DEPTH');
    expect(json.outputs![1]).toEqual({ output_type: 'stream', name: 'stdout', text: 'still here\n' });
    expect(() => JSON.stringify(json)).not.toThrow();
  });
});
