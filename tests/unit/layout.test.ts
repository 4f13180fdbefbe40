import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { checkLayout, checkLayoutTransaction, type LayoutCheck } from '../../common/notebook/layout';
import { cellsOf, cloneCell, createCellMap, initNotebook, insertCell, metaOf, moveCell, outputToY, setCellType, setTitle, splitCell } from '../../common/notebook/model';
import { MAX_NESTING_DEPTH } from '../../common/notebook/nesting';

/** Runs `edit` in one transaction of a fresh notebook and returns what the incremental check says. */
function check(edit: (doc: Y.Doc) => void, setup?: (doc: Y.Doc) => void): LayoutCheck {
  const doc = new Y.Doc();
  initNotebook(doc, { title: 't' });
  setup?.(doc);
  let result: LayoutCheck | null = null;
  doc.on('afterTransaction', (tr: Y.Transaction) => {
    if (tr.origin === 'test') result = checkLayoutTransaction(tr);
  });
  doc.transact(() => edit(doc), 'test');
  expect(result).not.toBeNull();
  return result!;
}

/** A cell as jupyter_ydoc's YNotebook.create_ycell writes it (pycrdt Map/Text/Array). */
function jupyterCell(): Y.Map<unknown> {
  const stream = new Y.Map<unknown>();
  stream.set('output_type', 'stream');
  stream.set('name', 'stdout');
  const text = new Y.Text();
  text.insert(0, 'hi\n');
  stream.set('text', text);
  const display = new Y.Map<unknown>();
  display.set('output_type', 'display_data');
  display.set('data', { 'text/plain': 'x' });
  display.set('metadata', {});
  const outputs = new Y.Array<unknown>();
  outputs.push([stream, display]);
  const cell = new Y.Map<unknown>();
  cell.set('id', '0c5e5e5f-2b6a-4d0e-9e39-0d8f2c1b5a77');
  cell.set('cell_type', 'code');
  const source = new Y.Text();
  source.insert(0, 'print("hi")');
  cell.set('source', source);
  cell.set('metadata', new Y.Map());
  cell.set('outputs', outputs);
  cell.set('execution_count', 1);
  cell.set('execution_state', 'idle');
  cell.set('attachments', {});
  cell.set('some_future_key', [1, 2]);
  return cell;
}

describe('layout check of a transaction', () => {
  it('accepts what the app itself does: insert, type, split, move, change type, outputs', () => {
    expect(check((d) => insertCell(d, 1, { source: 'x = 1' })).problem).toBeNull();
    expect(check((d) => cellsOf(d).get(0).get('source') instanceof Y.Text && (cellsOf(d).get(0).get('source') as Y.Text).insert(0, 'a')).problem).toBeNull();
    expect(check((d) => splitCell(d, cellsOf(d).get(0).get('id') as string, 0)).problem).toBeNull();
    const moved = check(
      (d) => moveCell(d, cellsOf(d).get(0).get('id') as string, 1),
      (d) => insertCell(d, 1, { source: 'b' }),
    );
    expect(moved).toEqual({ problem: null, duplicates: [] });
    expect(check((d) => setCellType(d, cellsOf(d).get(0).get('id') as string, 'markdown')).problem).toBeNull();
    expect(
      check((d) => (cellsOf(d).get(0).get('outputs') as Y.Array<unknown>).push([outputToY({ output_type: 'stream', name: 'stdout', text: 'x' })])).problem,
    ).toBeNull();
    expect(check((d) => cellsOf(d).delete(0, 1)).problem).toBeNull();
    expect(check((d) => metaOf(d).set('title', 'New')).problem).toBeNull();
  });

  it('accepts cells and outputs as jupyter_ydoc and jupyter-nbmodel-client write them', () => {
    expect(check((d) => cellsOf(d).push([jupyterCell()]))).toEqual({ problem: null, duplicates: [] });
    // a markdown cell with attachments and no outputs; meta metadata as a Y.Map
    expect(
      check((d) => {
        const c = new Y.Map<unknown>();
        c.set('id', 'md1');
        c.set('cell_type', 'markdown');
        c.set('source', new Y.Text('# Title'));
        c.set('metadata', new Y.Map());
        c.set('attachments', { 'a.png': { 'image/png': 'AAAA' } });
        cellsOf(d).push([c]);
        metaOf(d).set('metadata', new Y.Map());
      }).problem,
    ).toBeNull();
    // older jupyter_ydoc: stream text as a Y.Array of strings
    expect(
      check((d) => {
        const o = new Y.Map<unknown>();
        o.set('output_type', 'stream');
        o.set('text', Y.Array.from(['a', 'b']));
        (cellsOf(d).get(0).get('outputs') as Y.Array<unknown>).push([o]);
      }).problem,
    ).toBeNull();
  });

  it('refuses what breaks the layout, naming the reason', () => {
    const without = (key: string) => (d: Y.Doc) => {
      const c = createCellMap({ source: 'x' });
      c.delete(key);
      cellsOf(d).push([c]);
    };
    expect(check(without('id')).problem).toMatch(/no id/);
    expect(check(without('source')).problem).toMatch(/no source/);
    expect(check(without('cell_type')).problem).toMatch(/no cell_type/);
    expect(check((d) => cellsOf(d).push(['a string cell' as unknown as Y.Map<unknown>])).problem).toMatch(/not a Y.Map/);
    expect(check((d) => cellsOf(d).push([new Y.Text('x') as unknown as Y.Map<unknown>])).problem).toMatch(/not a Y.Map/);
    expect(check((d) => cellsOf(d).get(0).set('source', 'plain string')).problem).toMatch(/source is not a Y.Text/);
    expect(check((d) => cellsOf(d).get(0).delete('source')).problem).toMatch(/no source/);
    expect(check((d) => cellsOf(d).get(0).delete('id')).problem).toMatch(/no id/);
    expect(check((d) => cellsOf(d).get(0).set('id', 'bad id!')).problem).toMatch(/cell id/);
    expect(check((d) => cellsOf(d).get(0).set('cell_type', 'python')).problem).toMatch(/cell_type/);
    expect(check((d) => cellsOf(d).get(0).set('outputs', ['x'])).problem).toMatch(/outputs is not a Y.Array/);
    expect(check((d) => cellsOf(d).get(0).set('metadata', { a: 1 })).problem).toMatch(/metadata is not a Y.Map/);
    expect(check((d) => cellsOf(d).get(0).set('execution_count', 'one')).problem).toMatch(/execution_count/);
    expect(check((d) => (cellsOf(d).get(0).get('outputs') as Y.Array<unknown>).push(['just text'])).problem).toMatch(/output/);
    expect(check((d) => (cellsOf(d).get(0).get('outputs') as Y.Array<unknown>).push([{ data: {} }])).problem).toMatch(/output_type/);
    expect(check((d) => metaOf(d).set('title', 42)).problem).toMatch(/title/);
    expect(check((d) => cellsOf(d).get(0).set('prompt', 'x')).problem).toMatch(/prompt/);
  });

  it('an existing cell renamed to another cell id is refused; an inserted copy of an id is reported for removal', () => {
    const renamed = check(
      (d) => cellsOf(d).get(1).set('id', cellsOf(d).get(0).get('id') as string),
      (d) => insertCell(d, 1, { source: 'b' }),
    );
    expect(renamed.problem).toMatch(/duplicate cell id/);
    // what two people moving the same cell at once produce: a second copy with the same id
    const copied = check((d) => cellsOf(d).push([cloneCell(cellsOf(d).get(0), { keepId: true })]));
    expect(copied.problem).toBeNull();
    expect(copied.duplicates).toHaveLength(1);
    expect(copied.duplicates[0].get('source')).toBeInstanceOf(Y.Text);
  });

  it('a keystroke is not checked beyond the text it changed', () => {
    const doc = new Y.Doc();
    initNotebook(doc);
    for (let i = 0; i < 200; i++) insertCell(doc, i, { source: `x${i}` });
    const text = cellsOf(doc).get(100).get('source') as Y.Text;
    let result: LayoutCheck | null = null;
    doc.on('afterTransaction', (tr: Y.Transaction) => (result = checkLayoutTransaction(tr)));
    text.insert(1, 'y');
    expect(result).toEqual({ problem: null, duplicates: [] });
  });
});

describe('a document that only received updates', () => {
  it('is checked although nobody asked for its cells array yet (the root is a plain AbstractType)', () => {
    const src = new Y.Doc();
    initNotebook(src);
    const bad = createCellMap();
    bad.delete('id');
    cellsOf(src).push([bad]);
    const fresh = new Y.Doc();
    let problem: string | null = null;
    fresh.on('afterTransaction', (tr: Y.Transaction) => {
      if (tr.changed.size) problem = checkLayoutTransaction(tr).problem;
    });
    Y.applyUpdate(fresh, Y.encodeStateAsUpdate(src));
    expect(problem).toMatch(/no id/);
  });
});

describe('checkLayout of a whole document', () => {
  it('lists every problem', () => {
    const doc = new Y.Doc();
    initNotebook(doc);
    const id = cellsOf(doc).get(0).get('id') as string;
    cellsOf(doc).push([createCellMap({ id }), createCellMap()]);
    cellsOf(doc).get(2).set('source', 'nope');
    expect(checkLayout(doc)).toEqual([`cell 1: duplicate id ${id}`, 'cell 2: cell source is not a Y.Text']);
  });
});

/** `{a: {a: ... {x: 1}}}` with `levels` objects. */
function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = { x: 1 };
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
}

describe('nesting depth (MAX_NESTING_DEPTH, counted as in the .ipynb file)', () => {
  // cell metadata is level 4 of the file: a value set under one of its keys starts at level 5
  const roomInMetadata = MAX_NESTING_DEPTH - 4;

  it('refuses a plain value nested past the limit in cell metadata, in an output, in meta, in our own keys', () => {
    const md = (d: Y.Doc) => cellsOf(d).get(0).get('metadata') as Y.Map<unknown>;
    expect(check((d) => md(d).set('k', nested(roomInMetadata))).problem).toBeNull();
    const refused = check((d) => md(d).set('k', nested(roomInMetadata + 1))).problem;
    expect(refused).toMatch(/nested more than 64 levels deep \(MAX_NESTING_DEPTH\)/);
    expect(refused).toMatch(/in cell [a-z0-9]+ metadata/);
    // thousands deep: what made export fail for ever
    expect(check((d) => md(d).set('k', nested(3000))).problem).toMatch(/MAX_NESTING_DEPTH/);
    // an output is level 5, its data 6, a MIME value 7
    const outputs = (d: Y.Doc) => cellsOf(d).get(0).get('outputs') as Y.Array<unknown>;
    const display = (levels: number) => ({ output_type: 'display_data', metadata: {}, data: { 'application/json': nested(levels) } });
    expect(check((d) => outputs(d).push([display(MAX_NESTING_DEPTH - 6)])).problem).toBeNull();
    expect(check((d) => outputs(d).push([display(MAX_NESTING_DEPTH - 5)])).problem).toMatch(/MAX_NESTING_DEPTH.*outputs/);
    // meta metadata is level 2 of the file
    expect(check((d) => metaOf(d).set('metadata', nested(MAX_NESTING_DEPTH - 1))).problem).toBeNull();
    expect(check((d) => metaOf(d).set('metadata', nested(MAX_NESTING_DEPTH))).problem).toMatch(/MAX_NESTING_DEPTH.*in meta metadata/);
    // our keys ride under metadata.ynotebook in the file: two levels deeper than where they sit here
    expect(check((d) => cellsOf(d).get(0).set('extra', nested(MAX_NESTING_DEPTH - 5))).problem).toBeNull();
    expect(check((d) => cellsOf(d).get(0).set('extra', nested(MAX_NESTING_DEPTH - 4))).problem).toMatch(/MAX_NESTING_DEPTH/);
  });

  it('refuses nested Y.Maps, also when each update adds one level', () => {
    const doc = new Y.Doc();
    initNotebook(doc, { title: 't' });
    let problem: string | null = null;
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      if (tr.origin === 'test') problem = checkLayoutTransaction(tr).problem;
    });
    let m = cellsOf(doc).get(0).get('metadata') as Y.Map<unknown>; // level 4
    let level = 4;
    while (problem === null && level < 200) {
      const child = new Y.Map<unknown>();
      doc.transact(() => m.set('a', child), 'test');
      m = child;
      level++;
    }
    expect(level).toBe(MAX_NESTING_DEPTH + 1);
    expect(problem).toMatch(/nested more than 64 levels deep/);
  });

  it('a value built in one transaction out of Y types is refused as a whole', () => {
    const deepMap = () => {
      let m = new Y.Map<unknown>();
      m.set('x', 1);
      for (let i = 0; i < 300; i++) {
        const p = new Y.Map<unknown>();
        p.set('a', m);
        m = p;
      }
      return m;
    };
    expect(check((d) => (cellsOf(d).get(0).get('metadata') as Y.Map<unknown>).set('k', deepMap())).problem).toMatch(/MAX_NESTING_DEPTH/);
    expect(check((d) => cellsOf(d).push([createCellMap({ metadata: { k: nested(500) } })])).problem).toMatch(/MAX_NESTING_DEPTH/);
  });

  it('real notebooks stay far below it (the fixtures nest at most 9 levels)', () => {
    const depth = (v: unknown): number => (typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depth)) : 0);
    const dir = new URL('../fixtures/notebooks/', import.meta.url);
    const most = Math.max(...fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).map((f) => depth(JSON.parse(fs.readFileSync(new URL(f, dir), 'utf8')))));
    expect(most).toBeLessThanOrEqual(MAX_NESTING_DEPTH / 4);
  });

  it('whole-document check reports a deep value', () => {
    const doc = new Y.Doc();
    initNotebook(doc);
    (cellsOf(doc).get(0).get('metadata') as Y.Map<unknown>).set('k', nested(100));
    expect(checkLayout(doc)).toEqual(['a value is nested more than 64 levels deep (MAX_NESTING_DEPTH)']);
  });
});

describe('the title written over Yjs follows the rename rules of the API (title.ts)', () => {
  it('refuses a title too long, with control or bidi characters, or empty; names the rule', () => {
    expect(check((d) => metaOf(d).set('title', 'x'.repeat(5000))).problem).toMatch(/title is 5000 characters long; at most 200 \(MAX_TITLE_LENGTH\)/);
    expect(check((d) => metaOf(d).set('title', `${'x'.repeat(150)}${' '.repeat(100)}`)).problem).toMatch(/MAX_TITLE_LENGTH/);
    expect(check((d) => metaOf(d).set('title', 'invoice\u202Efdp.exe')).problem).toMatch(/control character \(U\+202E\) at position 8/);
    expect(check((d) => metaOf(d).set('title', 'two\nlines')).problem).toMatch(/U\+000A/);
    expect(check((d) => metaOf(d).set('title', '   ')).problem).toMatch(/title is empty/);
  });

  it('accepts what the title field writes (setTitle cleans) and other meta changes under an old bad title', () => {
    expect(check((d) => setTitle(d, 'Sales\u2066 report\u2069 2026\n')).problem).toBeNull();
    const doc = new Y.Doc();
    initNotebook(doc);
    metaOf(doc).set('title', 'stored before the rule\u202E'); // as an old document may have it
    let problem: string | null = 'unset';
    doc.on('afterTransaction', (tr: Y.Transaction) => (problem = checkLayoutTransaction(tr).problem));
    metaOf(doc).set('metadata', { kernelspec: { name: 'python3' } });
    expect(problem).toBeNull();
  });
});
