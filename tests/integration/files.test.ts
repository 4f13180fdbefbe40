// The files API against the real parts: bytes through a real kernel on a real Kernel Gateway, the
// embedded one and a separate "remote" one that shares no disk with the app.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findCell, getFilesState, insertCell } from '../../common/notebook/model';
import { readEnv } from '../../server/http/env';
import { startServer, type RunningServer } from '../../server/http/server';
import { MiB } from '../../server/kernel/kernel-files';
import { startExternalGateway, type ExternalGateway } from '../support/gateway';
import { readHostFolder } from '../support/kernel-disk';
import { createNotebook, postWhenCellArrives, tempDir } from '../support/server';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../support/auth';
import { scaled } from '../support/timing';

const LIMITS = { maxFileBytes: 24 * MiB, quotaBytes: 40 * MiB, maxListedFiles: 50 };

interface Harness {
  server: RunningServer;
  dataDir: string;
  clients: YClient[];
  /** one Yjs client per notebook that runCode uses */
  byNotebook: Map<string, YClient>;
}

async function startHarness(extraEnv: Record<string, string> = {}): Promise<Harness> {
  const dataDir = tempDir();
  const env = readEnv({ PORT: '0', DATA_DIR: dataDir, NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...extraEnv });
  const server = await startServer({ env, withUi: false, log: () => undefined, fileLimits: LIMITS });
  return { server, dataDir, clients: [], byNotebook: new Map() };
}

async function stopHarness(h: Harness | undefined) {
  if (!h) return;
  for (const c of h.clients) c.destroy();
  await h.server.close();
  fs.rmSync(h.dataDir, { recursive: true, force: true });
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const fileUrl = (base: string, id: string, p: string) => `${base}/api/notebooks/${id}/files/${p.split('/').map(encodeURIComponent).join('/')}`;

/** PUT streamed in pieces (no Content-Length: the server cannot know the size up front). */
async function putStreamed(url: string, data: Buffer, pieceBytes = 256 * 1024): Promise<Response> {
  const pieces = function* () {
    for (let off = 0; off < data.length; off += pieceBytes) yield data.subarray(off, off + pieceBytes);
  };
  return fetchAsAdmin(url, { method: 'PUT', body: Readable.toWeb(Readable.from(pieces())) as ReadableStream, duplex: 'half' } as RequestInit);
}

/** A request whose path goes out exactly as written (fetch would normalise `..` away). */
function rawRequest(base: string, method: string, rawPath: string, body?: Buffer): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: rawPath, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function runCode(h: Harness, id: string, code: string): Promise<{ status: string; text: string }> {
  let client = h.byNotebook.get(id);
  if (!client) {
    client = connectClient(h.server.url.replace(/^http/, 'ws') + '/sync', id);
    h.byNotebook.set(id, client);
    h.clients.push(client);
    await client.synced;
  }
  const cellId = insertCell(client.doc, 0, { source: code });
  const r = await postWhenCellArrives(`${h.server.url}/api/notebooks/${id}/cells/${cellId}/run`, {}, scaled(10_000));
  const doc = client.doc;
  const outputs = await waitFor(() => {
    const c = findCell(doc, cellId);
    const st = c?.get('execution_state') as { state?: string } | undefined;
    return c && st?.state === 'idle' && c.get('execution_count') !== null ? (c.get('outputs') as { toJSON(): any[] }).toJSON() : null;
  }, { what: 'run to finish', timeoutMs: scaled(60_000) });
  const text = outputs.map((o: any) => (o.output_type === 'stream' ? o.text : o.output_type === 'error' ? `${o.ename}: ${o.evalue}` : String(o.data?.['text/plain'] ?? ''))).join('');
  return { status: r.body.status, text };
}

/** Every file under a directory, with its size: to prove nothing was written where it must not be. */
function snapshotTree(dir: string, skip?: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (skip && p.startsWith(skip)) continue;
      if (e.isDirectory()) walk(p);
      else out.push(`${path.relative(dir, p)}:${e.isFile() ? fs.statSync(p).size : 'link'}`);
    }
  };
  walk(dir);
  return out.sort();
}

describe('files through the kernel (embedded gateway)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => stopHarness(h));

  it('a 20 MB random file uploaded to a notebook with no kernel yet has the same sha256 in the kernel and back on download', async () => {
    const id = await createNotebook(h.server.url);
    const data = randomBytes(20 * 1000 * 1000);
    const put = await putStreamed(fileUrl(h.server.url, id, 'data/random.bin'), data);
    expect(put.status).toBe(201);
    expect(await put.json()).toEqual({ path: 'data/random.bin', size: data.length, sha256: sha(data) });

    const inKernel = await runCode(h, id, "import hashlib\nprint(hashlib.sha256(open('data/random.bin','rb').read()).hexdigest())");
    expect(inKernel.text.trim()).toBe(sha(data));

    const res = await fetchAsAdmin(fileUrl(h.server.url, id, 'data/random.bin'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="random.bin"/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toBe('sandbox');
    expect(Number(res.headers.get('content-length'))).toBe(data.length);
    expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(sha(data));
  });

  it('files the code writes are listed and download; every client is told the list changed; delete removes them', async () => {
    const id = await createNotebook(h.server.url);
    const watcher = connectClient(h.server.url.replace(/^http/, 'ws') + '/sync', id);
    h.clients.push(watcher);
    await watcher.synced;
    const before = getFilesState(watcher.doc)?.rev ?? 0;

    const r = await runCode(h, id, "import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': [3, 4]}).to_csv('out.csv', index=False)\nopen('page.html', 'w').write('<script>alert(1)</script>')\nprint('written')");
    expect(r.text).toContain('written');
    await waitFor(() => (getFilesState(watcher.doc)?.rev ?? 0) > before, { what: 'files change seen by another client' });

    const list = await (await fetchAsAdmin(`${h.server.url}/api/notebooks/${id}/files`)).json();
    const byPath = Object.fromEntries(list.files.map((f: any) => [f.path, f]));
    expect(byPath['out.csv'].size).toBe('a,b\n1,3\n2,4\n'.length);
    expect(byPath['out.csv'].modified).toBeGreaterThan(Date.now() - 60_000);
    expect(list.truncated).toBeUndefined();

    const csv = await fetchAsAdmin(fileUrl(h.server.url, id, 'out.csv'));
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(await csv.text()).toBe('a,b\n1,3\n2,4\n');
    // an HTML file is served as an attachment in a sandbox: it cannot run script in our origin
    const page = await fetchAsAdmin(fileUrl(h.server.url, id, 'page.html'));
    expect(page.headers.get('content-security-policy')).toBe('sandbox');
    expect(page.headers.get('content-disposition')).toMatch(/^attachment/);

    const revBeforeDelete = getFilesState(watcher.doc)!.rev;
    expect((await fetchAsAdmin(fileUrl(h.server.url, id, 'out.csv'), { method: 'DELETE' })).status).toBe(204);
    await waitFor(() => getFilesState(watcher.doc)!.rev > revBeforeDelete, { what: 'delete seen by another client' });
    const after = await (await fetchAsAdmin(`${h.server.url}/api/notebooks/${id}/files`)).json();
    expect(after.files.map((f: any) => f.path)).not.toContain('out.csv');
    const gone = await fetchAsAdmin(fileUrl(h.server.url, id, 'out.csv'));
    expect(gone.status).toBe(404);
    expect((await gone.json()).error.code).toBe('NOT_FOUND');
    expect((await runCode(h, id, "import os\nprint(os.path.exists('out.csv'))")).text.trim()).toBe('False');
  });

  it('refuses every traversal form with 400 and writes nothing outside the working directory', async () => {
    const id = await createNotebook(h.server.url);
    // the kernel exists and has made its working directory before we take the picture
    expect((await fetchAsAdmin(fileUrl(h.server.url, id, 'ok.txt'), { method: 'PUT', body: 'fine' })).status).toBe(201);
    const workDir = path.join(h.dataDir, 'kernels', id);
    // the spare kernel started in place of the one this notebook took has made its folder's disk image
    await (await h.server.execution.kernels).sparesSettled();
    // everything beside this notebook's folder: the other kernels' folders and DATA_DIR's own files
    const kernelsRoot = path.join(h.dataDir, 'kernels');
    const outside = snapshotTree(kernelsRoot, workDir);
    const topLevel = fs.readdirSync(h.dataDir).sort();
    const body = Buffer.from('pwned');
    const forms = [
      '../escape.txt',
      '../../escape.txt',
      '..%2Fescape.txt',
      '%2e%2e/escape.txt',
      '%2E%2E%2Fescape.txt',
      'a/..%2F..%2Fescape.txt',
      'a/../../escape.txt',
      './x.txt',
      '%2Fetc%2Fpasswd',
      '/etc/passwd',
      '..%5Cescape.txt',
      'a%5C..%5Cescape.txt',
      'nul%00.txt',
      'CON',
      'aux.txt',
      'a%3Ab.txt',
      'trailing.',
      'what%3F.txt',
    ];
    for (const f of forms) {
      for (const method of ['PUT', 'GET', 'DELETE']) {
        const r = await rawRequest(h.server.url, method, `/api/notebooks/${id}/files/${f}`, method === 'PUT' ? body : undefined);
        expect({ f, method, status: r.status }).toEqual({ f, method, status: 400 });
        expect(JSON.parse(r.body).error.message).toMatch(/path/i);
      }
    }
    // no name at all: GET lists the folder (GET /files/), anything else is refused
    for (const method of ['PUT', 'DELETE']) expect((await rawRequest(h.server.url, method, `/api/notebooks/${id}/files/`, method === 'PUT' ? body : undefined)).status).toBe(400);
    expect(snapshotTree(kernelsRoot, workDir)).toEqual(outside);
    expect(fs.readdirSync(h.dataDir).sort()).toEqual(topLevel);
    expect(fs.existsSync(path.join(kernelsRoot, 'escape.txt'))).toBe(false);
  });

  it('never follows a symlink out of the working directory', async () => {
    const id = await createNotebook(h.server.url);
    const secretDir = tempDir('ynb-secret-');
    fs.writeFileSync(path.join(secretDir, 'secret.txt'), 'top secret');
    const r = await runCode(h, id, `import os\nos.symlink(${JSON.stringify(secretDir)}, 'elsewhere')\nos.symlink(${JSON.stringify(path.join(secretDir, 'secret.txt'))}, 'link.txt')\nprint('linked')`);
    expect(r.text).toContain('linked');

    const put = await fetchAsAdmin(fileUrl(h.server.url, id, 'elsewhere/evil.txt'), { method: 'PUT', body: 'evil' });
    expect(put.status).toBe(400);
    expect((await put.json()).error.code).toBe('OUTSIDE');
    expect((await fetchAsAdmin(fileUrl(h.server.url, id, 'elsewhere/secret.txt'))).status).toBe(400);
    expect((await fetchAsAdmin(fileUrl(h.server.url, id, 'link.txt'))).status).toBe(400);
    // writing to the link's name replaces the link by a file; the target is untouched
    expect((await fetchAsAdmin(fileUrl(h.server.url, id, 'link.txt'), { method: 'PUT', body: 'mine' })).status).toBe(201);
    expect(await (await fetchAsAdmin(fileUrl(h.server.url, id, 'link.txt'))).text()).toBe('mine');
    // deleting a link to a folder removes the link, never the folder's files
    expect((await fetchAsAdmin(fileUrl(h.server.url, id, 'elsewhere'), { method: 'DELETE' })).status).toBe(204);
    expect(fs.readFileSync(path.join(secretDir, 'secret.txt'), 'utf8')).toBe('top secret');
    expect(fs.readdirSync(secretDir)).toEqual(['secret.txt']);
    // and links out are not listed as the notebook's files
    const list = await (await fetchAsAdmin(`${h.server.url}/api/notebooks/${id}/files`)).json();
    expect(list.files.map((f: any) => f.path)).toEqual(['link.txt']);
  });

  it('answers 413 naming the limit: per file (announced or streamed), per notebook quota; listings are bounded', async () => {
    const id = await createNotebook(h.server.url);
    const big = Buffer.alloc(LIMITS.maxFileBytes + 1, 1);
    const announced = await fetchAsAdmin(fileUrl(h.server.url, id, 'big.bin'), { method: 'PUT', body: big });
    expect(announced.status).toBe(413);
    expect((await announced.json()).error.message).toMatch(/per-file limit of 24 MiB/);
    const streamed = await putStreamed(fileUrl(h.server.url, id, 'big.bin'), big);
    expect(streamed.status).toBe(413);
    expect((await streamed.json()).error.code).toBe('FILE_TOO_LARGE');

    const part = Buffer.alloc(15 * MiB, 2);
    expect((await fetchAsAdmin(fileUrl(h.server.url, id, 'one.bin'), { method: 'PUT', body: part })).status).toBe(201);
    expect((await fetchAsAdmin(fileUrl(h.server.url, id, 'two.bin'), { method: 'PUT', body: part })).status).toBe(201);
    const over = await putStreamed(fileUrl(h.server.url, id, 'three.bin'), part);
    expect(over.status).toBe(413);
    expect((await over.json()).error.message).toMatch(/quota of 40 MiB/);
    // replacing a file counts only the difference
    expect((await fetchAsAdmin(fileUrl(h.server.url, id, 'two.bin'), { method: 'PUT', body: part })).status).toBe(201);
    // refused uploads left nothing behind, not even their temporary files
    const listed = (await (await fetchAsAdmin(`${h.server.url}/api/notebooks/${id}/files`)).json()).files.map((f: any) => f.path);
    expect(listed.sort()).toEqual(['one.bin', 'two.bin']);
    // on the host: the folder's own file system (docs/decisions/0023), or the plain folder
    expect(readHostFolder(path.join(h.dataDir, 'kernels', id)).names).toEqual(['one.bin', 'two.bin']);

    await runCode(h, id, "import os\nos.makedirs('many', exist_ok=True)\nfor i in range(80):\n    open(f'many/f{i:02}.txt', 'w').write('x')");
    const bounded = await (await fetchAsAdmin(`${h.server.url}/api/notebooks/${id}/files`)).json();
    expect(bounded.truncated).toBe(true);
    expect(bounded.files).toHaveLength(LIMITS.maxListedFiles);
  });

  it('unknown notebooks and files are 404, other methods 405; the server keeps serving', async () => {
    expect((await fetchAsAdmin(`${h.server.url}/api/notebooks/zzzzzzzzzzzz/files`)).status).toBe(404);
    expect((await fetchAsAdmin(fileUrl(h.server.url, 'zzzzzzzzzzzz', 'a.txt'), { method: 'PUT', body: 'x' })).status).toBe(404);
    const id = await createNotebook(h.server.url);
    expect((await fetchAsAdmin(fileUrl(h.server.url, id, 'missing.txt'))).status).toBe(404);
    const post = await fetchAsAdmin(fileUrl(h.server.url, id, 'a.txt'), { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    // a JSON upload is stored as bytes, not parsed by the JSON API
    const json = await fetchAsAdmin(fileUrl(h.server.url, id, 'data.json'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"not": "parsed"' });
    expect(json.status).toBe(201);
    expect(await (await fetchAsAdmin(fileUrl(h.server.url, id, 'data.json'))).text()).toBe('{"not": "parsed"');
  });
});

describe('files through a remote Kernel Gateway (no shared disk)', () => {
  let gw: ExternalGateway;
  let h: Harness;
  beforeAll(async () => {
    gw = await startExternalGateway();
    h = await startHarness({ KERNEL_GATEWAY_URL: gw.url, KERNEL_GATEWAY_TOKEN: gw.token });
  });
  afterAll(async () => {
    await stopHarness(h);
    await gw?.stop();
  });

  it('uploads, lists, runs code on, downloads and deletes a file that lives only on the gateway side', async () => {
    const id = await createNotebook(h.server.url);
    const data = randomBytes(3 * MiB + 123);
    const put = await putStreamed(fileUrl(h.server.url, id, 'in/sample.bin'), data);
    expect(put.status).toBe(201);
    expect((await put.json()).sha256).toBe(sha(data));
    // the bytes are on the gateway's disk, under where it starts kernels, and nowhere in DATA_DIR
    expect(sha(fs.readFileSync(path.join(gw.root, 'notebooks', id, 'in', 'sample.bin')))).toBe(sha(data));
    expect(snapshotTree(h.dataDir).some((f) => f.includes('sample.bin'))).toBe(false);

    const r = await runCode(h, id, "import os\nprint(os.path.getsize('in/sample.bin'))\n_ = open('result.txt', 'w').write('from the remote kernel')");
    expect(r.text.trim()).toBe(String(data.length));
    const list = await (await fetchAsAdmin(`${h.server.url}/api/notebooks/${id}/files`)).json();
    expect(list.files.map((f: any) => f.path).sort()).toEqual(['in/sample.bin', 'result.txt']);
    expect(await (await fetchAsAdmin(fileUrl(h.server.url, id, 'result.txt'))).text()).toBe('from the remote kernel');
    expect(sha(Buffer.from(await (await fetchAsAdmin(fileUrl(h.server.url, id, 'in/sample.bin'))).arrayBuffer()))).toBe(sha(data));
    expect((await fetchAsAdmin(fileUrl(h.server.url, id, 'in/sample.bin'), { method: 'DELETE' })).status).toBe(204);
    expect(fs.existsSync(path.join(gw.root, 'notebooks', id, 'in', 'sample.bin'))).toBe(false);
  });
});
