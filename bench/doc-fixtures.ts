// Notebook contents of the benchmarks, made the same way for the product and for the baselines.
import * as Y from 'yjs';
import { insertCell } from '../common/notebook/model';

/** `lines` lines of plausible Python, about 30 characters each. */
export function cellCode(i: number, lines: number): string {
  return Array.from({ length: lines }, (_, j) => `value_${i}_${j} = compute(${j}, ${i}) # step`).join('\n');
}

/** Appends `count` code cells of `lines` lines to a document, 50 cells per transaction. */
export function fillCells(doc: Y.Doc, count: number, lines: number): void {
  for (let start = 0; start < count; start += 50) {
    doc.transact(() => {
      for (let i = start; i < Math.min(count, start + 50); i++) insertCell(doc, doc.getArray('cells').length, { source: cellCode(i, lines) });
    });
  }
}

/** The same notebook as an nbformat 4.5 `.ipynb` (for the import API and JupyterLab). */
export function ipynb(count: number, lines: number, pngEvery = 0, png?: string): string {
  const cells = Array.from({ length: count }, (_, i) => ({
    id: `cell-${i}`,
    cell_type: 'code',
    metadata: {},
    execution_count: null,
    source: cellCode(i, lines),
    outputs: pngEvery && png && i % pngEvery === 0 ? [{ output_type: 'display_data', data: { 'image/png': png, 'text/plain': '<Figure>' }, metadata: {} }] : [],
  }));
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
    cells,
  });
}
