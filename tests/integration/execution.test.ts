// Runs through the whole app path: HTTP run request -> queue -> real Kernel Gateway and ipykernel
// -> outputs in the shared document -> a second Yjs client.
import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { cellsOf, cellToJSON, findCell, insertCell, metaOf } from '../../common/notebook/model';
import type { CellJSON, ExecutionState } from '../../common/notebook/types';
import { readEnv } from '../../server/http/env';
import { startServer, type RunningServer } from '../../server/http/server';
import { createNotebook, postWhenCellArrives, tempDir, useAppServer } from '../support/server';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../support/auth';
import { scaled } from '../support/timing';

const app = useAppServer();
let server: RunningServer;
let wsUrl: string;
let clients: YClient[];
beforeAll(() => {
  ({ server, wsUrl, clients } = app());
});

async function notebookWithCells(sources: string[]): Promise<{ id: string; a: YClient; b: YClient; ids: string[] }> {
  const id = await createNotebook(server.url);
  const a = connectClient(wsUrl, id);
  const b = connectClient(wsUrl, id);
  clients.push(a, b);
  await Promise.all([a.synced, b.synced]);
  const ids = sources.map((src, i) => insertCell(a.doc, i, { source: src }));
  await waitFor(() => ids.every((cid) => findCell(b.doc, cid)), { what: 'cells to reach b' });
  return { id, a, b, ids };
}

async function run(id: string, cellId: string, body: Record<string, unknown> = {}) {
  const res = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/cells/${cellId}/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ by: { name: 'Ada' }, ...body }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const cell = (c: YClient, cellId: string): CellJSON => cellToJSON(findCell(c.doc, cellId)!);
const text = (c: CellJSON) =>
  (c.outputs ?? [])
    .map((o) => (o.output_type === 'stream' ? o.text : o.output_type === 'error' ? `${o.ename}: ${o.evalue}` : String((o as any).data?.['text/plain'] ?? '')))
    .join('');

describe('running cells on the shared kernel', () => {
  it('1+1 shows 2 to another client, with an execution count', async () => {
    const { id, b, ids } = await notebookWithCells(['1+1']);
    const r = await run(id, ids[0]);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ok');
    const c = await waitFor(() => {
      const j = cell(b, ids[0]);
      return j.execution_count ? j : null;
    });
    expect(c.outputs).toEqual([{ output_type: 'execute_result', data: { 'text/plain': '2' }, metadata: {}, execution_count: c.execution_count }]);
    expect(c.execution_state?.state).toBe('idle');
  });

  it('an empty cell run clears its outputs and takes no execution count', async () => {
    const { id, b, ids } = await notebookWithCells(['print("hi")']);
    await run(id, ids[0]);
    const first = await waitFor(() => cell(b, ids[0]).execution_count, { what: 'a first count' });
    const r = await run(id, ids[0], { source: '  \n' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ok', execution_count: null });
    const c = await waitFor(() => {
      const j = cell(b, ids[0]);
      return j.execution_state?.state === 'idle' && !j.outputs?.length ? j : null;
    }, { what: 'the cleared cell' });
    expect(c.execution_count).toBeNull();
    // the kernel's counter did not move: the next real run takes the count after the first
    await run(id, ids[0], { source: '1' });
    const next = await waitFor(() => cell(b, ids[0]).execution_count, { what: 'the next count' });
    expect(next).toBe(first! + 1);
  });

  it('runs the code the requester saw, not what the document holds yet', async () => {
    const { id, b, ids } = await notebookWithCells(['print("old")']);
    await run(id, ids[0], { source: 'print("what I saw")' });
    await waitFor(() => text(cell(b, ids[0])).includes('what I saw'), { what: 'output' });
  });

  it('prints arrive in order and merge into one stream output; \\r progress does not flood', async () => {
    const { id, b, ids } = await notebookWithCells([
      'import sys, time\nfor i in range(5):\n    print(i, flush=True); time.sleep(0.02)\nfor p in range(0, 101, 10):\n    sys.stdout.write(f"\\rprogress {p}%"); sys.stdout.flush(); time.sleep(0.01)\nprint()\nprint("err", file=sys.stderr)',
    ]);
    await run(id, ids[0]);
    const c = cell(b, ids[0]);
    expect(c.outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: '0\n1\n2\n3\n4\nprogress 100%\n' },
      { output_type: 'stream', name: 'stderr', text: 'err\n' },
    ]);
  });

  it('client B sees queued, then running with who asked, then the outputs', async () => {
    const { id, b, ids } = await notebookWithCells(['import time; time.sleep(1.0); print("first")', 'print("second")']);
    const seen: string[] = [];
    const observe = () => {
      for (const cid of ids) {
        const st = findCell(b.doc, cid)?.get('execution_state') as ExecutionState | undefined;
        if (st) {
          const tag = `${cid === ids[0] ? 1 : 2}:${st.state}:${st.by?.name ?? ''}`;
          if (seen[seen.length - 1] !== tag && !seen.includes(tag)) seen.push(tag);
        }
      }
    };
    b.doc.on('update', observe);
    const first = run(id, ids[0]);
    await waitFor(() => seen.includes('1:running:Ada'), { what: 'first running' });
    const second = run(id, ids[1]);
    await Promise.all([first, second]);
    b.doc.off('update', observe);
    expect(seen).toContain('2:queued:Ada');
    expect(seen.indexOf('2:queued:Ada')).toBeLessThan(seen.indexOf('2:running:Ada'));
    expect(seen.indexOf('1:idle:')).toBeLessThan(seen.indexOf('2:running:Ada'));
    expect(text(cell(b, ids[0]))).toBe('first\n');
    expect(text(cell(b, ids[1]))).toBe('second\n');
    expect(cell(b, ids[1]).execution_count).toBe((cell(b, ids[0]).execution_count ?? 0) + 1);
  });

  it('a matplotlib plot gives an image and a DataFrame an HTML table', async () => {
    const { id, b, ids } = await notebookWithCells([
      'import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()',
      'import pandas as pd\npd.DataFrame({"city": ["Oslo", "Lima"], "temp": [3, 19]})',
    ]);
    await run(id, ids[0]);
    await run(id, ids[1]);
    const plot = cell(b, ids[0]).outputs!.find((o) => o.output_type === 'display_data') as any;
    expect(plot.data['image/png']).toMatch(/^iVBOR/);
    const table = cell(b, ids[1]).outputs![0] as any;
    expect(table.output_type).toBe('execute_result');
    expect(table.data['text/html']).toContain('<table');
    expect(table.data['text/html']).toContain('Oslo');
  });

  it('an exception is an error output, and cancels what was queued behind it', async () => {
    const { id, b, ids } = await notebookWithCells(['1/0', 'print("never")']);
    const [r1, r2] = await Promise.all([run(id, ids[0]), run(id, ids[1])]);
    expect(r1.body).toMatchObject({ status: 'error', error: { ename: 'ZeroDivisionError' } });
    expect(r2.body.status).toBe('cancelled');
    const err = cell(b, ids[0]).outputs![0] as any;
    expect(err).toMatchObject({ output_type: 'error', ename: 'ZeroDivisionError', evalue: 'division by zero' });
    expect(err.traceback.join('\n')).toContain('ZeroDivisionError');
    expect(cell(b, ids[1]).outputs).toEqual([]);
    expect(cell(b, ids[1]).execution_state?.state).toBe('idle');
  });

  it('clear_output(wait=True) and update_display_data behave as in Jupyter', async () => {
    const { id, b, ids } = await notebookWithCells([
      'from IPython.display import display, clear_output\nfor i in range(3):\n    clear_output(wait=True)\n    print("tick", i)',
      'h = display("v1", display_id=True)',
      'h.update("v2")',
    ]);
    await run(id, ids[0]);
    expect(text(cell(b, ids[0]))).toBe('tick 2\n');
    await run(id, ids[1]);
    await run(id, ids[2]);
    await waitFor(() => text(cell(b, ids[1])) === "'v2'", { what: 'display updated in the earlier cell' });
  });

  it('interrupt stops an endless loop within seconds and the next cell runs', async () => {
    const { id, b, ids } = await notebookWithCells(['print("looping", flush=True)\nwhile True: pass', 'print("after")']);
    const loop = run(id, ids[0]);
    await waitFor(() => text(cell(b, ids[0])).includes('looping'), { what: 'the loop to start' });
    const t0 = Date.now();
    const res = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/interrupt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    const r = await loop;
    expect(Date.now() - t0).toBeLessThan(scaled(5000));
    expect(r.body.status).toBe('aborted');
    await waitFor(() => text(cell(b, ids[0])).includes('KeyboardInterrupt'), { what: 'KeyboardInterrupt output' });
    await run(id, ids[1]);
    expect(text(cell(b, ids[1]))).toBe('after\n');
  });

  it('an interrupt records who interrupted on the interrupted cell, until it runs again', async () => {
    const { id, b, ids } = await notebookWithCells(['print("looping", flush=True)\nwhile True: pass', 'print("queued")']);
    const loop = run(id, ids[0]);
    await waitFor(() => text(cell(b, ids[0])).includes('looping'), { what: 'the loop to start' });
    const queued = run(id, ids[1]);
    await waitFor(() => cell(b, ids[1]).execution_state?.state === 'queued', { what: 'the second cell queued' });
    const res = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/interrupt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: { name: 'Bob', color: '#3366ff' } }),
    });
    expect(res.status).toBe(200);
    const r = await loop;
    expect(r.body).toMatchObject({ status: 'aborted', interruptedBy: { name: 'Bob', color: '#3366ff' } });
    expect((await queued).body.status).toBe('cancelled');
    const st = await waitFor(() => {
      const s = cell(b, ids[0]).execution_state;
      return s?.state === 'idle' && s.interruptedBy ? s : null;
    }, { what: 'interruptedBy on the cell' });
    expect(st.interruptedBy).toEqual({ name: 'Bob', color: '#3366ff' });
    expect(text(cell(b, ids[0]))).toContain('KeyboardInterrupt');
    // only the interrupted cell carries it; a run that ends normally carries none
    expect(cell(b, ids[1]).execution_state?.interruptedBy).toBeUndefined();
    await run(id, ids[0], { source: 'print("again")' });
    expect(cell(b, ids[0]).execution_state).not.toHaveProperty('interruptedBy');
  });

  it('restart clears variables and keeps outputs; the kernel status is in the document', async () => {
    const { id, b, ids } = await notebookWithCells(['secret = 42; print(secret)', 'print(secret)']);
    await run(id, ids[0]);
    const res = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/restart`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    expect(text(cell(b, ids[0]))).toBe('42\n');
    const r = await run(id, ids[1]);
    expect(r.body.error?.ename).toBe('NameError');
    await waitFor(() => (metaOf(b.doc).get('kernel') as any)?.status === 'idle', { what: 'kernel idle in meta' });
  });

  it('a kernel that dies is reported dead to everyone, and one restart brings it back', async () => {
    const { id, b, ids } = await notebookWithCells(['x = 1', 'import os; os.kill(os.getpid(), 9)', 'print("alive")']);
    await run(id, ids[0]);
    const died = await run(id, ids[1]);
    expect(died.body.status).toBe('kernel-error');
    await waitFor(() => (metaOf(b.doc).get('kernel') as any)?.status === 'dead', { what: 'dead in the document', timeoutMs: scaled(20_000) });
    // the message once, as the cell's error output, not again behind an internal code
    expect(died.body.code).toBe('KERNEL_DEAD');
    const errors = (cell(b, ids[1]).outputs ?? []).filter((o) => o.output_type === 'error') as any[];
    expect(errors).toHaveLength(1);
    expect(errors[0].ename).toBe('');
    expect(errors[0].traceback).toEqual([errors[0].evalue]);
    expect(errors[0].evalue).toMatch(/^The kernel died unexpectedly .*restart the kernel and run the cells again\.$/);
    expect(JSON.stringify(cell(b, ids[1]).outputs)).not.toContain('KERNEL_DEAD');
    expect(JSON.stringify(cell(b, ids[1]).outputs).split('The kernel died').length - 1).toBe(2); // evalue + traceback, one output
    const res = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/restart`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    const after = await run(id, ids[2]);
    expect(after.body.status).toBe('ok');
    expect(text(cell(b, ids[2]))).toBe('alive\n');
    await waitFor(() => (metaOf(b.doc).get('kernel') as any)?.status === 'idle', { what: 'idle again' });
  });

  it('a huge output is cut with a visible notice and the document stays small', async () => {
    const { id, b, ids } = await notebookWithCells(['for i in range(1_000_000): print(i)']);
    await run(id, ids[0]);
    const outs = cell(b, ids[0]).outputs!;
    expect(outs[0]).toMatchObject({ output_type: 'stream', name: 'stdout' });
    expect((outs[0] as any).text.startsWith('0\n1\n2\n')).toBe(true);
    const notice = outs[outs.length - 1] as any;
    expect(notice.data['text/plain']).toMatch(/Output truncated: [\d,]+ more characters/);
    expect(Y.encodeStateAsUpdate(b.doc).length).toBeLessThan(1_000_000);
  });

  it('interrupt while the kernel is still starting skips the code instead of hanging', async () => {
    const { id, b, ids } = await notebookWithCells(['while True: pass']);
    await fetchAsAdmin(`${server.url}/api/notebooks/${id}/restart`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const loop = run(id, ids[0]);
    await waitFor(() => cell(b, ids[0]).execution_state?.state === 'running');
    await fetchAsAdmin(`${server.url}/api/notebooks/${id}/interrupt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect((await loop).body.status).toBe('aborted');
    expect(cell(b, ids[0]).execution_state?.state).toBe('idle');
  });

  it('unknown cells and bad bodies get clear JSON errors', async () => {
    const { id } = await notebookWithCells([]);
    expect((await run(id, 'nosuchcell')).status).toBe(404);
    const bad = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/cells/x/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.code).toBe('BAD_JSON');
    expect(cellsOf(clients[clients.length - 1].doc).length).toBe(1);
  });
});

describe('an unreachable gateway', () => {
  it('gives the cell a clear error, never a hung cell, and the kernel pill says unreachable', async () => {
    const env = readEnv({ PORT: '0', DATA_DIR: tempDir(), NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN, KERNEL_GATEWAY_URL: 'http://127.0.0.1:9', KERNEL_GATEWAY_TOKEN: 'tok-secret-xyz' });
    const bad = await startServer({ env, withUi: false, log: () => undefined });
    const c = connectClient(bad.url.replace(/^http/, 'ws') + '/sync', await createNotebook(bad.url));
    try {
      await c.synced;
      const cellId = insertCell(c.doc, 0, { source: '1+1' });
      const id = c.provider.roomname;
      const { body } = await postWhenCellArrives(`${bad.url}/api/notebooks/${id}/cells/${cellId}/run`);
      expect(body.status).toBe('kernel-error');
      expect(body.message).toMatch(/unreachable/i);
      const cellJson = await waitFor(() => {
        const j = cellToJSON(findCell(c.doc, cellId)!);
        return j.outputs?.length && j.execution_state?.state === 'idle' ? j : null;
      });
      expect(body.code).toBe('GATEWAY_UNREACHABLE');
      expect(text(cellJson)).toMatch(/^: .*unreachable/); // no ename: the message alone (this helper prints "ename: evalue")
      expect(text(cellJson)).not.toContain('GATEWAY_UNREACHABLE');
      expect(JSON.stringify(c.doc.toJSON())).not.toContain('tok-secret-xyz');
      await waitFor(() => (metaOf(c.doc).get('kernel') as any)?.status === 'unreachable', { what: 'unreachable status' });
    } finally {
      c.destroy();
      await bad.close();
    }
  });
});
