import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { checkLayout, checkLayoutTransaction, type LayoutCheck } from '../../common/notebook/layout';
import { cellsOf, cloneCell, createCellMap, initNotebook, insertCell, metaOf, moveCell, outputToY, setCellType, splitCell } from '../../common/notebook/model';

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
