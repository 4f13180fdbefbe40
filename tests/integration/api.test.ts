import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../support/server';
import { fetchAsAdmin } from '../support/auth';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s?.close());

const post = (path: string, body: string, type = 'application/json') =>
  fetchAsAdmin(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });

describe('JSON API', () => {
  it('creates and lists notebooks, newest change first', async () => {
    const r1 = await post('/api/notebooks', JSON.stringify({ title: 'First' }));
    expect(r1.status).toBe(201);
    const { id } = (await r1.json()) as { id: string };
    expect(id).toMatch(/^[a-z0-9]{12}$/);
    await post('/api/notebooks', '{}');
    const list = (await (await fetchAsAdmin(`${s.url}/api/notebooks`)).json()) as { notebooks: { id: string; title: string }[] };
    expect(list.notebooks).toHaveLength(2);
    expect(list.notebooks.map((n) => n.title)).toContain('First');
    expect(list.notebooks.map((n) => n.title)).toContain('Untitled notebook');
  });

  it('bad input gets a clear JSON error naming what was wrong', async () => {
    const wrongType = await post('/api/notebooks', JSON.stringify({ title: 42 }));
    expect(wrongType.status).toBe(400);
    expect(((await wrongType.json()) as any).error).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('title') });
    const extra = await post('/api/notebooks', JSON.stringify({ title: 'x', owner: 'me' }));
    expect(extra.status).toBe(400);
    expect(((await extra.json()) as any).error.message).toContain('owner');
    const huge = await post('/api/notebooks', JSON.stringify({ title: 'x'.repeat(3 * 1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as any).error.code).toBe('TOO_LARGE');
  });

  it('paths like ../../etc/passwd are just unknown notebooks', async () => {
    for (const id of ['..%2F..%2Fetc%2Fpasswd', '..', '%2e%2e%2f%2e%2e%2fetc']) {
      const r = await fetchAsAdmin(`${s.url}/api/notebooks/${id}`);
      expect(r.status).toBe(404);
      expect(((await r.json()) as any).error.code).toBe('NOT_FOUND');
      const run = await post(`/api/notebooks/${id}/cells/abc/run`, '{}');
      expect(run.status).toBe(404);
    }
    const ws = new WebSocket(`${s.wsUrl}/..%2F..%2Fetc%2Fpasswd`);
    const outcome = await new Promise<string>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`));
      ws.on('close', (code) => resolve(`close ${code}`));
      ws.on('error', () => undefined);
    });
    expect(outcome).toBe('http 404');
  });

  it('unknown API routes answer JSON 404, not an HTML page', async () => {
    const r = await fetchAsAdmin(`${s.url}/api/nope`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as any).error.code).toBe('NOT_FOUND');
  });

  it('the links API answers bad bodies, unknown notebooks and oversized bodies with a clear 4xx', async () => {
    const { id } = (await (await post('/api/notebooks', '{}')).json()) as { id: string };
    const badJson = await post(`/api/notebooks/${id}/links`, '{"role": ');
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as any).error.code).toBe('BAD_JSON');
    const badRole = await post(`/api/notebooks/${id}/links`, JSON.stringify({ role: 'owner' }));
    expect(badRole.status).toBe(400);
    expect(((await badRole.json()) as any).error.message).toMatch(/editor.*viewer/);
    const unknown = await post('/api/notebooks/zzzzzzzzzzzz/links', JSON.stringify({ role: 'viewer' }));
    expect(unknown.status).toBe(404);
    const huge = await post(`/api/notebooks/${id}/links`, JSON.stringify({ role: 'viewer', pad: 'x'.repeat(100_000) }));
    expect(huge.status).toBe(413);
    const noLink = await fetchAsAdmin(`${s.url}/api/notebooks/${id}/links/nosuchlink`, { method: 'DELETE' });
    expect(noLink.status).toBe(404);
    expect(((await noLink.json()) as any).error.code).toBe('NOT_FOUND');
  });
});
