import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  CELL_ID_PATTERN,
  cellsOf,
  cellSource,
  deleteCell,
  ensurePrompt,
  findCell,
  initNotebook,
  insertCell,
  mergeCellBelow,
  moveCell,
  newCellId,
  notebookToJSON,
  replaceText,
  setCellType,
  setTitle,
  splitCell,
} from '../../common/notebook/model';

function fresh(title?: string) {
  const doc = new Y.Doc();
  initNotebook(doc, { title });
  return doc;
}

describe('notebook document model', () => {
  it('a new notebook is nbformat 4.5 with a python kernelspec and one empty code cell', () => {
    const nb = notebookToJSON(fresh('Q3 revenue'));
    expect(nb).toMatchObject({ title: 'Q3 revenue', nbformat: 4, nbformat_minor: 5 });
    expect(nb.metadata).toMatchObject({ kernelspec: { name: 'python3' }, language_info: { name: 'python' } });
    expect(nb.cells).toEqual([
      { id: nb.cells[0].id, cell_type: 'code', source: '', metadata: {}, outputs: [], execution_count: null },
    ]);
    expect(nb.cells[0].id).toMatch(CELL_ID_PATTERN);
  });

  it('init is idempotent: a loaded document keeps its cells', () => {
    const doc = fresh();
    insertCell(doc, 1, { source: 'x = 1' });
    initNotebook(doc, { title: 'other' });
    expect(notebookToJSON(doc).cells).toHaveLength(2);
  });

  it('cell ids are unique and valid nbformat ids', () => {
    const ids = new Set(Array.from({ length: 2000 }, newCellId));
    expect(ids.size).toBe(2000);
    for (const id of ids) expect(id).toMatch(CELL_ID_PATTERN);
  });

  it('insert, move, delete keep ids and content', () => {
    const doc = fresh();
    const first = notebookToJSON(doc).cells[0].id;
    const a = insertCell(doc, 1, { source: 'a', cell_type: 'markdown' });
    const b = insertCell(doc, 2, { source: 'b' });
    expect(notebookToJSON(doc).cells.map((c) => c.id)).toEqual([first, a, b]);
    moveCell(doc, b, 0);
    expect(notebookToJSON(doc).cells.map((c) => c.id)).toEqual([b, first, a]);
    expect(notebookToJSON(doc).cells[0].source).toBe('b');
    moveCell(doc, b, 2);
    expect(notebookToJSON(doc).cells.map((c) => c.id)).toEqual([first, a, b]);
    deleteCell(doc, a);
    expect(notebookToJSON(doc).cells.map((c) => c.id)).toEqual([first, b]);
    expect(deleteCell(doc, 'nope')).toBe(false);
  });

  it('changing type drops code-only fields and restores them', () => {
    const doc = fresh();
    const id = insertCell(doc, 0, { source: '# Title', outputs: [{ output_type: 'stream', name: 'stdout', text: 'x' }], execution_count: 3 });
    setCellType(doc, id, 'markdown');
    expect(notebookToJSON(doc).cells[0]).toEqual({ id, cell_type: 'markdown', source: '# Title', metadata: {} });
    setCellType(doc, id, 'code');
    expect(notebookToJSON(doc).cells[0]).toMatchObject({ cell_type: 'code', outputs: [], execution_count: null });
  });

  it('split and merge', () => {
    const doc = fresh();
    const id = notebookToJSON(doc).cells[0].id;
    cellSource(findCell(doc, id)!).insert(0, 'a = 1\nb = 2');
    const below = splitCell(doc, id, 5)!;
    expect(notebookToJSON(doc).cells.map((c) => c.source)).toEqual(['a = 1', 'b = 2']);
    expect(mergeCellBelow(doc, id)).toBe(true);
    expect(notebookToJSON(doc).cells.map((c) => c.source)).toEqual(['a = 1\nb = 2']);
    expect(findCell(doc, below)).toBeUndefined();
  });

  it('titles are cleaned: control characters, length, empty', () => {
    const doc = fresh();
    setTitle(doc, '  a\nb  ');
    expect(notebookToJSON(doc).title).toBe('a b');
    setTitle(doc, '   ');
    expect(notebookToJSON(doc).title).toBe('Untitled notebook');
    setTitle(doc, 'x'.repeat(1000));
    expect(notebookToJSON(doc).title).toHaveLength(200);
  });

  it('replaceText edits only the changed middle, so concurrent edits elsewhere survive', () => {
    const a = fresh();
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    const ta = cellSource(cellsOf(a).get(0));
    ta.insert(0, 'import pandas as pd\ndf = load()\n');
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    // b appends while a rewrites the middle line
    const tb = cellSource(cellsOf(b).get(0));
    tb.insert(tb.length, 'df.head()');
    replaceText(ta, 'import pandas as pd\ndf = read()\n');
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    expect(ta.toString()).toBe('import pandas as pd\ndf = read()\ndf.head()');
    expect(tb.toString()).toBe(ta.toString());
  });

  it('an AI cell carries its prompt as shared text', () => {
    const doc = fresh();
    const cell = cellsOf(doc).get(0);
    ensurePrompt(cell, 'plot revenue by month');
    expect(notebookToJSON(doc).cells[0].prompt).toBe('plot revenue by month');
  });
});

import { resetInterruptedWork } from '../../server/notebook/recover';
import { findCell as find } from '../../common/notebook/model';
describe('recovery after a restart', () => {
  it('cells left running or generating by a crashed server go back to idle / failed with a reason', () => {
    const doc = fresh();
    const a = insertCell(doc, 0, { source: 'x' });
    const b = insertCell(doc, 1, { source: 'y', prompt: 'p' });
    find(doc, a)!.set('execution_state', { state: 'running', since: 1, by: { name: 'Ada' } });
    find(doc, b)!.set('ai', { model: 'm', endpoint: 'e', status: 'fixing', attempt: 2, maxAttempts: 3, attempts: [], startedAt: 1, generation: 1 });
    expect(resetInterruptedWork(doc)).toBe(2);
    const cells = notebookToJSON(doc).cells;
    expect(cells[0].execution_state?.state).toBe('idle');
    expect(cells[1].ai?.status).toBe('failed');
    expect(cells[1].ai?.detail).toContain('server restarted');
    expect(resetInterruptedWork(doc)).toBe(0);
  });
});
