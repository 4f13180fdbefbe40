// .ipynb export and import through the real HTTP API, checked by the real tools: the nbformat
// library validates every export and nbconvert executes one on ipykernel's python3 kernel.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { cellPrompt, cellsOf, createCellMap } from '../../common/notebook/model';
import type { AiInfo } from '../../common/notebook/types';
import { IPYNB_METADATA_KEY, isJsonMime, joinLines, type IpynbNotebook } from '../../server/notebook/ipynb';
import { MAX_IMPORT_BYTES } from '../../server/http/ipynb-api';
import { createNotebook, startTestServer, tempDir, type TestServer } from '../support/server';
import { connectClient } from '../support/yclient';
import { fetchAsAdmin } from '../support/auth';
import { scaled } from '../support/timing';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FIXTURES = path.join(ROOT, 'tests/fixtures/notebooks');
const VENV_BIN = path.join(ROOT, 'kernel-gateway/.venv/bin');
const FIXTURE_FILES = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.ipynb')).sort();

let s: TestServer;
let work: string;
beforeAll(async () => {
  s = await startTestServer();
  work = tempDir('ynb-ipynb-');
});
afterAll(async () => {
  await s?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

async function importFile(body: BodyInit, query = '', headers: Record<string, string> = {}) {
  const res = await fetchAsAdmin(`${s.url}/api/notebooks/import${query}`, { method: 'POST', body, headers, duplex: 'half' } as RequestInit);
  return { status: res.status, body: (await res.json()) as any };
}

async function exportText(id: string): Promise<{ text: string; res: Response }> {
  const res = await fetchAsAdmin(`${s.url}/api/notebooks/${id}/export.ipynb`);
  expect(res.status).toBe(200);
  return { text: await res.text(), res };
}

const listIds = async () => ((await (await fetchAsAdmin(`${s.url}/api/notebooks`)).json()) as { notebooks: { id: string }[] }).notebooks.map((n) => n.id).sort();

const run = promisify(execFile);

/**
 * Runs a program of the project's Python environment. Never spawnSync: the server under test
 * shares this process, and a blocked event loop makes its keep-alive timers race the client's.
 */
async function venv(program: string, args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await run(path.join(VENV_BIN, program), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, cwd, timeout: scaled(180_000) });
    return stdout;
  } catch (err) {
    const e = err as { code?: number; stderr?: string; message: string };
    throw new Error(`${program} failed (${e.code}): ${e.stderr || e.message}`);
  }
}

const python = (script: string, args: string[] = []) => venv('python', ['-c', script, ...args]);

/** nbformat.validate on each file, strictly (no repair): {file: 'ok' | error}. */
async function nbformatValidate(files: string[]): Promise<Record<string, string>> {
  const script = `
import json, sys, nbformat
out = {}
for path in sys.argv[1:]:
    try:
        with open(path, encoding='utf-8') as f:
            raw = json.load(f)
        nbformat.validate(nbformat.from_dict(raw))
        ids = [c['id'] for c in raw['cells']]
        out[path] = 'ok' if len(ids) == len(set(ids)) else 'duplicate cell ids'
    except Exception as e:
        out[path] = f'{type(e).__name__}: {e}'[:3000]
print(json.dumps(out))
`;
  return JSON.parse(await python(script, files)) as Record<string, string>;
}

/**
 * What "the same notebook" means across an import and an export: multi-line strings joined,
 * consecutive streams of one name merged (Jupyter shows them as one), the 4.5 minor, the title
 * (checked on its own), and, for files older than 4.5, the ids the import made.
 */
function normalise(nb: IpynbNotebook, opts: { ignoreIds?: boolean } = {}) {
  const joinBundle = (d: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(d).map(([k, v]) => [k, isJsonMime(k) ? v : joinLines(v)]));
  const metadata: Record<string, unknown> = { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' }, ...nb.metadata };
  delete metadata.title;
  return {
    nbformat: nb.nbformat,
    metadata,
    cells: nb.cells.map((c) => {
      const cell: Record<string, unknown> = { ...c, source: joinLines(c.source) };
      if (opts.ignoreIds) delete cell.id;
      if (c.attachments) cell.attachments = Object.fromEntries(Object.entries(c.attachments).map(([k, b]) => [k, joinBundle(b)]));
      if (c.outputs) {
        const outs: Record<string, unknown>[] = [];
        for (const o of c.outputs) {
          const prev = outs[outs.length - 1];
          if (o.output_type === 'stream') {
            if (prev?.output_type === 'stream' && prev.name === o.name) prev.text += joinLines(o.text);
            else outs.push({ ...o, text: joinLines(o.text) });
          } else if (o.data) outs.push({ ...o, data: joinBundle(o.data as Record<string, unknown>) });
          else outs.push(o);
        }
        cell.outputs = outs;
      }
      return cell;
    }),
  };
}

describe('.ipynb round trip of real notebooks', () => {
  const exports = new Map<string, string>();

  it('imports every fixture, lists it, and exports the same notebook (and the same file again after a re-import)', async () => {
    const before = await listIds();
    for (const file of FIXTURE_FILES) {
      const original = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as IpynbNotebook;
      const imp = await importFile(fs.readFileSync(path.join(FIXTURES, file)), `?name=${encodeURIComponent(file)}`, { 'content-type': 'application/octet-stream' });
      expect(imp.status, `${file}: ${JSON.stringify(imp.body)}`).toBe(201);
      expect(imp.body.cells).toBe(original.cells.length);
      const { text, res } = await exportText(imp.body.id);
      expect(res.headers.get('content-type')).toBe('application/x-ipynb+json; charset=utf-8');
      const exported = JSON.parse(text) as IpynbNotebook;
      exports.set(file, text);

      const expectedTitle = typeof original.metadata.title === 'string' ? original.metadata.title : file.replace(/\.ipynb$/, '');
      expect(exported.metadata.title, file).toBe(expectedTitle);
      expect(imp.body.title).toBe(expectedTitle);
      expect(exported.nbformat_minor).toBe(5);
      const hadIds = original.nbformat_minor >= 5;
      expect(normalise(exported, { ignoreIds: !hadIds }), file).toEqual(normalise(original, { ignoreIds: !hadIds }));
      if (!hadIds) expect(new Set(exported.cells.map((c) => c.id)).size).toBe(original.cells.length);

      // stable: the exported file, imported and exported again, is the same file byte for byte
      const again = await importFile(text);
      expect(again.status).toBe(201);
      expect((await exportText(again.body.id)).text, file).toBe(text);
    }
    expect((await listIds()).length).toBe(before.length + 2 * FIXTURE_FILES.length);
  });

  it('every export is valid for the nbformat library, and the vendored schema is the official one', async () => {
    expect(exports.size).toBe(FIXTURE_FILES.length);
    const files: string[] = [];
    for (const [name, text] of exports) {
      const f = path.join(work, `export-${name}`);
      fs.writeFileSync(f, text);
      files.push(f);
    }
    // the check can fail: a notebook whose code cell has no outputs list is refused
    const broken = path.join(work, 'broken.ipynb');
    const sample = JSON.parse(exports.get('plot.ipynb')!) as IpynbNotebook;
    delete sample.cells.find((c) => c.cell_type === 'code')!.outputs;
    fs.writeFileSync(broken, JSON.stringify(sample));
    const results = await nbformatValidate([...files, broken]);
    for (const f of files) expect(results[f], f).toBe('ok');
    expect(results[broken]).toMatch(/ValidationError.*outputs/s);

    const official = await python(
      "import json, os, nbformat; print(json.dumps(json.load(open(os.path.join(os.path.dirname(nbformat.__file__), 'v4', 'nbformat.v4.5.schema.json')))))",
    );
    const vendored = JSON.parse(fs.readFileSync(path.join(ROOT, 'server/notebook/nbformat.v4.5.schema.json'), 'utf8'));
    expect(vendored).toEqual(JSON.parse(official));
  });

  it('the markdown attachment and every MIME type of a display survive', () => {
    const md = JSON.parse(exports.get('markdown-attachment.ipynb')!) as IpynbNotebook;
    expect(md.cells[0].attachments?.['chart.png']['image/png']).toMatch(/^iVBOR/);
    const disp = JSON.parse(exports.get('display.ipynb')!) as IpynbNotebook;
    const mimes = disp.cells.flatMap((c) => c.outputs ?? []).flatMap((o) => Object.keys((o.data as object) ?? {}));
    for (const m of ['text/markdown', 'text/latex', 'text/html', 'image/svg+xml', 'application/json', 'application/vnd.ynotebook.test+json', 'image/png', 'text/plain']) {
      expect(mimes).toContain(m);
    }
  });
});

describe('.ipynb export of a live notebook', () => {
  it('an AI cell written through sync exports valid, runs under nbconvert, and re-imports with its provenance and prompt', async () => {
    const id = await createNotebook(s.url, 'AI: "sales" / report ✓');
    const client = connectClient(s.wsUrl, id);
    try {
      await client.synced;
      const ai: AiInfo = {
        model: 'gpt-test',
        endpoint: 'scripted',
        status: 'done',
        attempt: 1,
        maxAttempts: 3,
        attempts: [{ generation: 1, code: 'import pandas as pd', outcome: 'ok', startedAt: 1, finishedAt: 2 }],
        by: { name: 'Ada' },
        startedAt: 1,
        finishedAt: 2,
        answer: 'A table of two rows.',
        generation: 1,
      };
      client.doc.transact(() => {
        const cells = cellsOf(client.doc);
        cells.delete(0, cells.length);
        cells.push([
          createCellMap({ cell_type: 'markdown', source: '# Sales' }),
          createCellMap({
            id: 'ai-cell',
            source: "import pandas as pd\nprint('rows:', 2)\npd.DataFrame({'a': [1, 2]})",
            prompt: 'make a table of two rows',
            ai,
            outputs: [{ output_type: 'stream', name: 'stdout', text: 'rows: 2\n' }],
            execution_count: 1,
          }),
        ]);
      });
      let exported!: IpynbNotebook;
      let text = '';
      // the cells reach the server through sync; export until they are there
      for (let i = 0; i < 100; i++) {
        const r = await exportText(id);
        text = r.text;
        exported = JSON.parse(text) as IpynbNotebook;
        if (exported.cells.length === 2) {
          const disposition = r.res.headers.get('content-disposition')!;
          expect(disposition).toMatch(/^attachment; filename="[A-Za-z0-9 ._()-]+\.ipynb"; filename\*=UTF-8''/);
          expect(decodeURIComponent(disposition.split("UTF-8''")[1])).toBe('AI: "sales" _ report ✓.ipynb');
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(exported.cells).toHaveLength(2);
      expect(exported.cells[1].metadata[IPYNB_METADATA_KEY]).toMatchObject({ ai, prompt: 'make a table of two rows' });

      const input = path.join(work, 'ai.ipynb');
      fs.writeFileSync(input, text);
      expect((await nbformatValidate([input]))[input]).toBe('ok');

      // JupyterLab's own tools open it and run it; our metadata rides along untouched
      await venv(
        'jupyter',
        ['nbconvert', '--to', 'notebook', '--execute', '--ExecutePreprocessor.kernel_name=python3', '--ExecutePreprocessor.timeout=120', '--output', 'ai-executed', '--output-dir', work, input],
        work,
      );
      const executedText = fs.readFileSync(path.join(work, 'ai-executed.ipynb'), 'utf8');
      const executed = JSON.parse(executedText) as IpynbNotebook;
      const outs = executed.cells[1].outputs!;
      expect(outs.find((o) => o.output_type === 'stream')).toMatchObject({ text: ['rows: 2\n'] });
      expect(Object.keys(outs.find((o) => o.output_type === 'execute_result')!.data as object)).toEqual(expect.arrayContaining(['text/html', 'text/plain']));
      expect(executed.cells[1].metadata[IPYNB_METADATA_KEY]).toMatchObject({ ai, prompt: 'make a table of two rows' });

      // ... and it comes back into this app whole
      const back = await importFile(executedText);
      expect(back.status).toBe(201);
      expect(back.body.title).toBe('AI: "sales" / report ✓');
      const room = await s.rooms.get(back.body.id);
      const cell = cellsOf(room!.doc).get(1);
      expect(cell.get('id')).toBe('ai-cell');
      expect(cell.get('ai')).toEqual(ai);
      expect(cellPrompt(cell)).toBeInstanceOf(Y.Text);
      expect(cellPrompt(cell)!.toString()).toBe('make a table of two rows');
      expect((cell.get('metadata') as Y.Map<unknown>).has(IPYNB_METADATA_KEY)).toBe(false);
    } finally {
      client.destroy();
    }
  }, 180_000);

  it('an unknown notebook is a JSON 404', async () => {
    for (const id of ['zzzzzzzzzzzz', '..%2F..%2Fetc']) {
      const res = await fetchAsAdmin(`${s.url}/api/notebooks/${id}/export.ipynb`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as any).error.code).toBe('NOT_FOUND');
    }
  });
});

describe('.ipynb import of bad input', () => {
  const cases: { what: string; body: () => BodyInit; status: number; code: string; message: RegExp }[] = [
    { what: 'not JSON', body: () => '{"cells": [', status: 400, code: 'BAD_JSON', message: /not valid JSON/ },
    { what: 'JSON, not a notebook', body: () => JSON.stringify({ hello: 'world' }), status: 400, code: 'NOT_A_NOTEBOOK', message: /not a Jupyter notebook/ },
    {
      what: 'invalid against the schema',
      body: () =>
        JSON.stringify({
          nbformat: 4,
          nbformat_minor: 4,
          metadata: {},
          cells: [
            { cell_type: 'markdown', metadata: {}, source: 'ok' },
            { cell_type: 'code', metadata: {}, source: 'x', outputs: [{ output_type: 'stream', name: 'stdout' }], execution_count: null },
          ],
        }),
      status: 400,
      code: 'INVALID_NOTEBOOK',
      message: /nbformat 4\.5 schema: cells\[1\]\.outputs\[0\]: missing required property "text"/,
    },
    {
      what: 'nbformat 3',
      body: () => JSON.stringify({ nbformat: 3, nbformat_minor: 0, metadata: { name: 'old' }, worksheets: [{ cells: [{ cell_type: 'code', input: 'x', outputs: [], language: 'python' }] }] }),
      status: 400,
      code: 'UNSUPPORTED_NBFORMAT',
      message: /nbformat 3.*jupyter nbconvert --to notebook --nbformat 4/,
    },
    { what: 'too large (declared)', body: () => Buffer.alloc(MAX_IMPORT_BYTES + 1, 0x20), status: 413, code: 'TOO_LARGE', message: /50 MiB/ },
    {
      what: 'too large (streamed, no length)',
      body: () => {
        let sent = 0;
        const chunk = new Uint8Array(1024 * 1024).fill(0x20);
        return new ReadableStream({
          pull(controller) {
            if (sent > MAX_IMPORT_BYTES + chunk.length) controller.close();
            else {
              sent += chunk.length;
              controller.enqueue(chunk);
            }
          },
        });
      },
      status: 413,
      code: 'TOO_LARGE',
      message: /50 MiB/,
    },
  ];

  for (const c of cases) {
    it(`${c.what}: ${c.status} ${c.code}, and nothing is left behind`, async () => {
      const before = await listIds();
      const count = (await s.storage.listNotebooks()).length;
      const r = await importFile(c.body(), '?name=bad.ipynb');
      expect(r.status).toBe(c.status);
      expect(r.body.error.code).toBe(c.code);
      expect(r.body.error.message).toMatch(c.message);
      expect(await listIds()).toEqual(before);
      expect((await s.storage.listNotebooks()).length).toBe(count);
    });
  }

  it('the server still answers after all of them', async () => {
    const ok = await importFile(JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] }));
    expect(ok.status).toBe(201);
    expect(ok.body.title).toBe('Untitled notebook');
  });
});
