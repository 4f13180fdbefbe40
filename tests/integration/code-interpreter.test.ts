// The Code Interpreter scenario end to end: a person uploads a file and asks about it; the model
// (the scripted OpenAI-compatible server, the one stand-in) sees the file in its context, its code
// runs on the real kernel, the result shows in the cell and the file it wrote downloads.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellToJSON, findCell, insertCell } from '../../common/notebook/model';
import { readEnv } from '../../server/http/env';
import { startServer, type RunningServer } from '../../server/http/server';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { scriptPerTest } from '../support/script-per-test';
import { createNotebook, tempDir } from '../support/server';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { fetchAsAdmin, TEST_ADMIN_TOKEN } from '../support/auth';

const PYTHON = path.resolve('kernel-gateway/.venv/bin/python');

let server: RunningServer;
let fake: FakeOpenAI;
let work: string;
const clients: YClient[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAI({ model: 'fake-coder' });
  work = tempDir('ynb-ci-');
  const env = readEnv({ PORT: '0', DATA_DIR: path.join(work, 'data'), NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  server = await startServer({
    env,
    withUi: false,
    log: () => undefined,
    model: { apiKey: 'sk-test-never-shown', baseURL: fake.url, model: 'fake-coder', endpointName: new URL(fake.url).host },
    aiTurnOptions: { retryBaseDelayMs: 10, retryMaxDelayMs: 50, idleTimeoutMs: 5000 },
  });
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await server?.close();
  await fake?.close();
  fs.rmSync(work, { recursive: true, force: true });
});
scriptPerTest(() => fake);

/** Runs Python of the project's environment (Pillow, openpyxl) outside the app, to make and check files. */
function python(code: string): string {
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8', cwd: work });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout.trim();
}

async function upload(id: string, name: string, bytes: Uint8Array) {
  const res = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/files/${encodeURIComponent(name)}`, { method: 'PUT', body: new Uint8Array(bytes) });
  expect(res.status).toBe(201);
}

async function notebookWithCell() {
  const id = await createNotebook(server.url);
  const a = connectClient(server.url.replace(/^http/, 'ws') + '/sync', id);
  clients.push(a);
  await a.synced;
  const cellId = insertCell(a.doc, 0, {});
  return { id, a, cellId };
}

async function generate(id: string, cellId: string, prompt: string) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const res = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/cells/${cellId}/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt, by: { name: 'Ada' }, wait: true }),
    });
    if (res.status !== 404 || Date.now() > deadline) return { status: res.status, body: (await res.json()) as any };
    await new Promise((r) => setTimeout(r, 50));
  }
}

const userText = (req: any) => req.messages.filter((m: any) => m.role === 'user').map((m: any) => m.content).join('\n');

describe('Code Interpreter scenario', () => {
  it('upload a picture, ask to split it and invert one half: the edited image shows in the cell and edited.png downloads', async () => {
    python(
      "from PIL import Image\nimg = Image.new('RGB', (64, 32))\nimg.putdata([(x * 4, y * 8, 100) for y in range(32) for x in range(64)])\nimg.save('photo.png')",
    );
    const photo = fs.readFileSync(path.join(work, 'photo.png'));
    const { id, a, cellId } = await notebookWithCell();
    await upload(id, 'photo.png', photo);

    const code = [
      'from PIL import Image, ImageOps',
      "img = Image.open('photo.png').convert('RGB')",
      'w, h = img.size',
      'edited = img.copy()',
      'edited.paste(ImageOps.invert(img.crop((w // 2, 0, w, h))), (w // 2, 0))',
      "edited.save('edited.png')",
      'edited',
    ].join('\n');
    fake.script([
      { toolCall: { name: 'run_python', arguments: { code } } },
      { content: 'I split the picture into a left and a right half and inverted the colours of the right half; it is saved as edited.png.' },
    ]);
    const r = await generate(id, cellId, 'split this picture in two halves and invert the colours of the right one');
    expect(r.status).toBe(200);
    expect(r.body.ai.status).toBe('done');

    // the model was told about the uploaded file before writing any code
    expect(userText(fake.requests[0])).toMatch(/photo\.png \(\d+(\.\d)? (bytes|KB)\)/);

    // the edited image is the cell's output, for everyone in the notebook
    const cell = cellToJSON(findCell(a.doc, cellId)!);
    const image = cell.outputs?.find((o) => (o.output_type === 'execute_result' || o.output_type === 'display_data') && 'image/png' in o.data);
    expect(image).toBeDefined();

    // and edited.png downloads: left half as it was, right half inverted
    const res = await fetchAsAdmin(`${server.url}/api/notebooks/${id}/files/edited.png`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    fs.writeFileSync(path.join(work, 'downloaded.png'), Buffer.from(await res.arrayBuffer()));
    const check = python(
      "from PIL import Image\na = Image.open('photo.png').convert('RGB')\nb = Image.open('downloaded.png').convert('RGB')\nw, h = a.size\n" +
        'left = all(a.getpixel((x, y)) == b.getpixel((x, y)) for x in range(w // 2) for y in range(h))\n' +
        'right = all(tuple(255 - c for c in a.getpixel((x, y))) == b.getpixel((x, y)) for x in range(w // 2, w) for y in range(h))\n' +
        'print(b.size == a.size, left, right)',
    );
    expect(check).toBe('True True True');
  });

  it('"what is in the file I uploaded?": the context lists CSV and Excel files with their header rows', async () => {
    const { id, cellId } = await notebookWithCell();
    await upload(id, 'sales.csv', Buffer.from('month,region,revenue\n2024-01,north,120\n2024-02,south,95\n'));
    python("import openpyxl\nwb = openpyxl.Workbook()\nws = wb.active\nws.title = 'Q1'\nws.append(['customer', 'plan', 'seats'])\nws.append(['acme', 'pro', 12])\nwb.create_sheet('Q2')\nwb.save('customers.xlsx')");
    await upload(id, 'customers.xlsx', fs.readFileSync(path.join(work, 'customers.xlsx')));

    fake.script([{ content: 'sales.csv has monthly revenue by region; customers.xlsx lists customers with their plan and seats.' }]);
    const r = await generate(id, cellId, 'what is in the files I uploaded?');
    expect(r.status).toBe(200);
    const context = userText(fake.requests[0]);
    expect(context).toContain('- sales.csv (');
    expect(context).toContain('first row: month,region,revenue');
    expect(context).toContain('- customers.xlsx (');
    expect(context).toContain('sheets: Q1, Q2; first row: customer, plan, seats');
  });
});
