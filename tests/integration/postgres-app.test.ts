// The whole app on DATABASE_URL: a notebook made through the API, edited by a Yjs client, a cell run
// on the real embedded Kernel Gateway, the server restarted on another DATA_DIR (so nothing can come
// from local files), and everything back from PostgreSQL: the code, the output, the title.
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { cellsOf, cellToJSON, findCell, insertCell } from '../../common/notebook/model';
import { readEnv } from '../../server/http/env';
import { startServer, type RunningServer } from '../../server/http/server';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../support/auth';
import { usePostgres } from '../support/postgres';
import { postWhenCellArrives, tempDir } from '../support/server';
import { connectClient, waitFor, type YClient } from '../support/yclient';

const postgres = usePostgres();
const open: Array<RunningServer | YClient> = [];
afterAll(async () => {
  for (const x of open.splice(0).reverse()) 'destroy' in x ? x.destroy() : await x.close();
});

async function appServer(databaseUrl: string, opts: { warmKernels?: boolean } = {}): Promise<RunningServer> {
  const env = readEnv({ PORT: '0', DATA_DIR: tempDir(), NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN, DATABASE_URL: databaseUrl });
  const server = await startServer({ env, withUi: false, log: () => undefined, warmKernels: opts.warmKernels });
  open.push(server);
  return server;
}

function client(server: RunningServer, id: string): YClient {
  const c = connectClient(server.url.replace(/^http/, 'ws') + '/sync', id);
  open.push(c);
  return c;
}

describe('the app on PostgreSQL', () => {
  it('create, edit, run, restart on another DATA_DIR: the notebook comes back whole from the database', async () => {
    const databaseUrl = await postgres().createDatabase('app');
    const first = await appServer(databaseUrl, { warmKernels: true });
    await first.execution.kernels;

    const made = await fetchAsAdmin(`${first.url}/api/notebooks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Kept in PostgreSQL' }) });
    expect(made.status).toBe(201);
    const { id } = (await made.json()) as { id: string };

    const a = client(first, id);
    await a.synced;
    const cellId = insertCell(a.doc, 1, { source: 'answer = 6 * 7\nprint("the answer is", answer)' });
    const run = await postWhenCellArrives(`${first.url}/api/notebooks/${id}/cells/${cellId}/run`, { by: { name: 'Ada' } });
    expect(run.status).toBe(200);
    expect(run.body.status).toBe('ok');
    const ran = await waitFor(() => {
      const c = findCell(a.doc, cellId);
      const j = c && cellToJSON(c);
      return j?.execution_count && j.execution_state?.state === 'idle' ? j : null;
    }, { what: 'the run to reach the client' });
    expect(ran.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: 'the answer is 42\n' }]);
    const before = cellsOf(a.doc).toJSON();

    a.destroy();
    await first.close();
    // the room was compacted when it closed: a snapshot, in the database
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    const snaps = (await c.query('SELECT octet_length(state) AS n FROM snapshots WHERE notebook_id = $1', [id])).rows;
    await c.end();
    expect(snaps).toHaveLength(1);

    const second = await appServer(databaseUrl);
    const list = (await (await fetchAsAdmin(`${second.url}/api/notebooks`)).json()) as { notebooks: { id: string; title: string }[] };
    expect(list.notebooks).toEqual([expect.objectContaining({ id, title: 'Kept in PostgreSQL' })]);
    const b = client(second, id);
    await b.synced;
    expect(cellsOf(b.doc).toJSON()).toEqual(before);
    const back = cellToJSON(findCell(b.doc, cellId)!);
    expect(back.source).toBe('answer = 6 * 7\nprint("the answer is", answer)');
    expect(back.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: 'the answer is 42\n' }]);
    expect(back.execution_count).toBe(ran.execution_count);

    const exported = await fetchAsAdmin(`${second.url}/api/notebooks/${id}/export.ipynb`);
    expect(exported.status).toBe(200);
    const nb = (await exported.json()) as { cells: { id: string; source: string | string[]; outputs?: Array<{ text?: string | string[] }> }[] };
    const cell = nb.cells.find((x) => x.id === cellId)!;
    // nbformat's multiline strings may be split into lines
    expect([cell.source].flat().join('')).toBe('answer = 6 * 7\nprint("the answer is", answer)');
    expect(cell.outputs!.map((o) => [o.text ?? ''].flat().join(''))).toEqual(['the answer is 42\n']);
  });
});
