// The pieces of run ownership that need no Redis: which requests go to a notebook's owner, and what
// a takeover writes into the document (tests/integration/cluster.test.ts runs the whole thing).
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { findCell, insertCell, notebookToJSON } from '../../common/notebook/model';
import { kernelRouteOf } from '../../server/http/forward';
import { hasActiveWork, INSTANCE_STOPPED, resetInterruptedWork } from '../../server/notebook/recover';

describe('requests that need the notebook kernel', () => {
  it.each([
    ['POST', '/notebooks/abc/cells/c1/run', true],
    ['POST', '/notebooks/abc/run', true],
    ['POST', '/notebooks/abc/restart', true],
    ['POST', '/notebooks/abc/cells/c1/generate', true],
    ['GET', '/notebooks/abc/files', true],
    ['PUT', '/notebooks/abc/files/a/b.csv', true],
    ['DELETE', '/notebooks/abc/files/b.csv', true],
    ['GET', '/notebooks/abc/packages', true],
    ['DELETE', '/notebooks/abc/packages', true],
    ['POST', '/notebooks/abc/interrupt', false],
    ['POST', '/notebooks/abc/cells/c1/stop', false],
    ['POST', '/notebooks/abc/complete', false],
    ['POST', '/notebooks/abc/inspect', false],
    ['DELETE', '/notebooks/abc', false],
  ])('%s %s goes to the owner (claims a free notebook: %s)', (method, path, claims) => {
    expect(kernelRouteOf(method, path)).toEqual({ notebookId: 'abc', claims });
  });

  it.each([
    ['GET', '/notebooks/abc'],
    ['PATCH', '/notebooks/abc'],
    ['GET', '/notebooks/abc/export.ipynb'],
    ['POST', '/notebooks/abc/links'],
    ['GET', '/notebooks'],
    ['GET', '/notebooks/abc/cells/c1/run'],
  ])('%s %s is served by any instance', (method, path) => {
    expect(kernelRouteOf(method, path)).toBeNull();
  });
});

describe('a takeover from a stopped instance', () => {
  it('says why on the cell that was running, sets queued ones idle, fails the generation, and finds nothing left after', () => {
    const doc = new Y.Doc();
    const running = insertCell(doc, 0, { source: 'while True: pass' });
    const queued = insertCell(doc, 1, { source: 'print(1)' });
    const gen = insertCell(doc, 2, { source: '', prompt: 'p' });
    const idle = insertCell(doc, 3, { source: 'x' });
    expect(hasActiveWork(doc)).toBe(false);
    findCell(doc, running)!.set('execution_state', { state: 'running', since: 1, by: { name: 'Ada' } });
    findCell(doc, queued)!.set('execution_state', { state: 'queued', since: 1, by: { name: 'Ada' } });
    findCell(doc, gen)!.set('ai', { model: 'm', endpoint: 'e', status: 'generating', attempt: 1, maxAttempts: 3, attempts: [], startedAt: 1, generation: 1 });
    expect(hasActiveWork(doc)).toBe(true);

    expect(resetInterruptedWork(doc, INSTANCE_STOPPED)).toBe(3);
    const cells = notebookToJSON(doc).cells;
    expect(cells.map((c) => c.execution_state?.state ?? 'idle')).toEqual(['idle', 'idle', 'idle', 'idle']);
    expect(cells[0].outputs).toEqual([expect.objectContaining({ output_type: 'error', evalue: INSTANCE_STOPPED.running })]);
    expect(cells[1].outputs).toEqual([]);
    expect(cells[2].ai?.status).toBe('failed');
    expect(cells[2].ai?.detail).toBe(INSTANCE_STOPPED.ai);
    expect(findCell(doc, idle)!.get('outputs')).toBeDefined();
    expect(hasActiveWork(doc)).toBe(false);
    expect(resetInterruptedWork(doc, INSTANCE_STOPPED)).toBe(0);
  });
});
