// The context a generation sends: earlier AI cells as turns of a conversation (request, code,
// output, answer, attachments), within the named limits, the oldest cells left out first; and the
// offline demo's suggestions, which must be requests its script really answers.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { cellsOf, findCell, initNotebook, insertCell, outputToY } from '../../common/notebook/model';
import type { AiInfo } from '../../common/notebook/types';
import { buildContext, type KernelInspection } from '../../server/ai/context';
import { MAX_CONTEXT_CHARS, MAX_EARLIER_ANSWER_CHARS_IN_CONTEXT } from '../../server/ai/limits';
import { DEMO_MODEL_NAME, DEMO_REQUESTS, suggestionsFor } from '../../server/ai/offline-demo';
import { demoReply } from '../../demo/offline-model';

function aiCell(doc: Y.Doc, at: number, opts: { prompt: string; code: string; output: string; answer?: string; attachments?: string[] }): string {
  const id = insertCell(doc, at, { cell_type: 'code', prompt: opts.prompt, source: opts.code });
  const cell = findCell(doc, id)!;
  cell.set('execution_count', at + 1);
  (cell.get('outputs') as Y.Array<unknown>).push([outputToY({ output_type: 'stream', name: 'stdout', text: opts.output })]);
  const ai: AiInfo = {
    model: 'm',
    endpoint: 'e',
    status: 'done',
    attempt: 1,
    maxAttempts: 3,
    attempts: [],
    startedAt: 1,
    generation: 1,
    by: { name: 'Ada' },
    ...(opts.answer ? { answer: opts.answer } : {}),
    ...(opts.attachments ? { attachments: opts.attachments } : {}),
  };
  cell.set('ai', ai);
  return id;
}

function notebook(): Y.Doc {
  const doc = new Y.Doc();
  initNotebook(doc, { withCell: false });
  return doc;
}

describe('the context of a follow-up', () => {
  it('shows an earlier AI cell as a turn: who asked what, with which files, the code, its output and the answer', () => {
    const doc = notebook();
    aiCell(doc, 0, { prompt: 'summarise sales.csv by month', code: "df = pd.read_csv('sales.csv')", output: 'month 2024-01 200\n', answer: 'January made 200.', attachments: ['sales.csv'] });
    insertCell(doc, 1, { source: 'x = 1' }); // a person's own cell between requests
    const next = insertCell(doc, 2, { cell_type: 'code', prompt: 'now by region' });
    const context = buildContext(doc, next, 'now by region', null);
    expect(context).toContain(
      "### Cell 1 (AI cell, run as [1])\nRequest (asked by Ada): summarise sales.csv by month\nAttached: sales.csv\n```python\ndf = pd.read_csv('sales.csv')\n```\nOutput:\nmonth 2024-01 200\nAnswer: January made 200.",
    );
    expect(context).toContain('### Cell 2 (code, not run)\n```python\nx = 1\n```');
    expect(context).toMatch(/## Request\nnow by region$/);
  });

  it('cuts a long earlier answer to its limit', () => {
    const doc = notebook();
    aiCell(doc, 0, { prompt: 'p', code: 'c', output: 'o', answer: 'a'.repeat(MAX_EARLIER_ANSWER_CHARS_IN_CONTEXT + 500) });
    const next = insertCell(doc, 1, { cell_type: 'code', prompt: 'q' });
    const context = buildContext(doc, next, 'q', null);
    expect(context).toContain(`${'a'.repeat(MAX_EARLIER_ANSWER_CHARS_IN_CONTEXT)}\n[…500 characters cut…]`);
  });

  it('stays within MAX_CONTEXT_CHARS by leaving the oldest cells out first, keeping the request and the latest turn', () => {
    const doc = notebook();
    const n = 25;
    for (let i = 0; i < n; i++) aiCell(doc, i, { prompt: `request number ${i}`, code: `step_${i} = ${i}\n` + '#'.repeat(3000), output: 'o'.repeat(1400), answer: `answer number ${i}` });
    const next = insertCell(doc, n, { cell_type: 'code', prompt: 'and now?' });
    const ins: KernelInspection = { variables: [{ name: 'df', type: 'pandas.DataFrame', shape: [3, 2], columns: [{ name: 'a', dtype: 'int64' }] }], files: [] };
    const context = buildContext(doc, next, 'and now?', ins);
    expect(context.length).toBeLessThanOrEqual(MAX_CONTEXT_CHARS);
    expect(context).toContain('## Notebook so far (earlier cells left out)');
    expect(context).not.toContain('request number 0\n');
    expect(context).toContain(`request number ${n - 1}`);
    expect(context).toContain(`answer number ${n - 1}`);
    expect(context).toContain('- df: pandas.DataFrame shape (3, 2); columns: a (int64)');
    expect(context).toMatch(/## Request\nand now\?$/);
    // what is kept is a run of the most recent cells
    const kept = [...context.matchAll(/request number (\d+)/g)].map((m) => Number(m[1]));
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => n - kept.length + i));
    expect(cellsOf(doc).length).toBe(n + 1);
  });

  it('names the attached files, what the kernel saw of them, and a file that is missing', () => {
    const doc = notebook();
    const id = insertCell(doc, 0, { cell_type: 'code', prompt: 'total it' });
    const ins: KernelInspection = { variables: [], files: [{ name: 'sales.csv', size: 2048, dir: false, header: 'month,revenue' }] };
    const context = buildContext(doc, id, 'total it', ins, { attachments: ['sales.csv', 'gone.csv'] });
    expect(context).toContain('## Files attached to this request (the person means these)\n- sales.csv (2.0 KB); first row: month,revenue\n- gone.csv (not found in the working directory)');
    expect(context).toMatch(/## Request\ntotal it\n\(attached: sales\.csv, gone\.csv\)$/);
  });
});

describe('the offline demo suggestions', () => {
  it('are offered for the demo model only', () => {
    expect(suggestionsFor({ model: DEMO_MODEL_NAME })).toEqual([...DEMO_REQUESTS]);
    expect(suggestionsFor({ model: 'gpt-4o-mini' })).toEqual([]);
    expect(suggestionsFor(null)).toEqual([]);
  });

  it('are each a request its script answers with code of its own (not the "I only know a few requests" reply)', () => {
    // a notebook in the state the suggestions build up: sample data made, sales.csv written
    const context = [
      '## Notebook so far\n(this is the first cell)',
      '## Variables in the kernel\n- sales: pandas.DataFrame shape (12, 3); columns: month (object), revenue (float64), units (int64)',
      '## Files in the working directory\n- sales.csv (300 bytes); first row: month,revenue,units',
    ].join('\n\n');
    for (const request of DEMO_REQUESTS) {
      const reply = demoReply({ messages: [{ role: 'system', content: 's' }, { role: 'user', content: `${context}\n\n## Request\n${request}` }] }) as { toolCall: { arguments: { code: string } } };
      expect(reply.toolCall.arguments.code, request).not.toContain('only knows a few requests');
    }
  });

  it('prefers a CSV attached to the request over others in the working directory', () => {
    const context = [
      '## Files in the working directory\n- a.csv (1 bytes)\n- mine.csv (1 bytes)',
      '## Files attached to this request (the person means these)\n- mine.csv (1 bytes)',
      '## Request\nload the csv\n(attached: mine.csv)',
    ].join('\n\n');
    const reply = demoReply({ messages: [{ role: 'user', content: context }] }) as { toolCall: { arguments: { code: string } } };
    expect(reply.toolCall.arguments.code).toContain('pd.read_csv("mine.csv")');
  });
});
