// The kernel half of issue 16's cookie-theft chain, in Chromium, with the default settings: an
// editor's kernel listens on 127.0.0.1:<port> and posts a link; the admin clicks it; their browser
// would send the admin cookie (cookies ignore ports). With each kernel in a network namespace of
// its own (docs/decisions/0022-kernel-network-namespace.md) the link reaches nothing. The header
// says what network the kernel has.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findCell, insertCell } from '../../common/notebook/model';
import { TEST_ADMIN_TOKEN } from '../support/auth';
import { freePort } from '../support/gateway';
import { KERNEL_MS, UI_MS } from '../support/timing';
import { connectClient, waitFor, type YClient } from '../support/yclient';
import { baseURL, createNotebook, expectNoErrors, launchBrowser, openAs, openNotebook, startAppServer } from './support';

let browser: Browser;
const clients: YClient[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await browser?.close();
});

/** Runs code in a new cell of the notebook (as its editor would) and returns its stdout. */
async function run(base: string, id: string, code: string): Promise<string> {
  const client = connectClient(`${base.replace(/^http/, 'ws')}/sync`, id);
  clients.push(client);
  await client.synced;
  const cellId = insertCell(client.doc, 0, { source: code });
  // the run route answers 404 until the new cell has reached the server
  for (const deadline = Date.now() + UI_MS; ; ) {
    const res = await fetch(`${base}/api/notebooks/${id}/cells/${cellId}/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      body: '{}',
    });
    if (res.status !== 404 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const outputs = await waitFor(
    () => {
      const c = findCell(client.doc, cellId);
      const state = (c?.get('execution_state') as { state?: string } | undefined)?.state;
      return c && state === 'idle' && c.get('execution_count') !== null ? ((c.get('outputs') as { toJSON(): any[] }).toJSON() ?? []) : null;
    },
    { what: 'the run to finish', timeoutMs: KERNEL_MS },
  );
  return outputs.map((o: any) => (o.output_type === 'stream' ? o.text : o.output_type === 'error' ? `${o.ename}: ${o.evalue}\n` : '')).join('');
}

/** The attacker's kernel code: an HTTP listener on 127.0.0.1:<port> that keeps what it receives. */
const listenerPy = (port: number) => `
import socket, threading
stolen = []
def serve(srv):
    while True:
        conn, _ = srv.accept()
        stolen.append(conn.recv(65536).decode("latin1"))
        conn.sendall(b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok")
        conn.close()
trap = socket.socket()
trap.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
trap.bind(("127.0.0.1", ${port}))
trap.listen(8)
threading.Thread(target=serve, args=(trap,), daemon=True).start()
print("listening")
`;

/** The admin follows the link the editor posted; what their browser got. */
async function adminClicks(url: string): Promise<string> {
  const admin = await openAs(browser, 'Ada Admin');
  try {
    const res = await admin.page.goto(url);
    return `status ${res?.status()}`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await admin.context.close();
  }
}

describe("a kernel's network, in the browser", () => {
  it("the admin following a link to a kernel's listener on 127.0.0.1 reaches nothing; the header says the kernel has internet", async () => {
    // the chain's premise holds here: the admin cookie does go to any port of 127.0.0.1
    const seen: string[] = [];
    const hostTrap = http.createServer((req, res) => {
      seen.push(String(req.headers.cookie ?? ''));
      res.end('ok');
    });
    await new Promise<void>((r) => hostTrap.listen(0, '127.0.0.1', () => r()));
    try {
      expect(await adminClicks(`http://127.0.0.1:${(hostTrap.address() as AddressInfo).port}/`)).toBe('status 200');
      // (what it carries is a revocable session id, never the admin token: tests/e2e/security.test.ts)
      expect(seen.join(' ')).toMatch(/ynb_admin=[\w-]{20,}/);
      expect(seen.join(' ')).not.toContain(TEST_ADMIN_TOKEN);
    } finally {
      hostTrap.close();
    }

    const id = await createNotebook('Kernel network');
    const port = await freePort();
    expect(await run(baseURL(), id, listenerPy(port))).toBe('listening\n');
    expect(await adminClicks(`http://127.0.0.1:${port}/`)).toMatch(/ERR_CONNECTION_REFUSED/);
    expect(await run(baseURL(), id, 'print(len(stolen))')).toBe('0\n');

    const person = await openAs(browser, 'Una Editor');
    await openNotebook(person, id);
    const badge = person.page.getByTestId('kernel-network');
    await expect.poll(() => badge.textContent(), { timeout: UI_MS }).toBe('Internet');
    expect(await badge.getAttribute('data-network')).toBe('internet');
    expect(await badge.getAttribute('title')).toMatch(/^Internet: yes via slirp4netns\. .*nothing on this server's machine/);
    await person.page.screenshot({ path: '/tmp/e2e-kernel-network.png' });
    await expectNoErrors(person);
    await person.context.close();
  });

  it('with KERNEL_NETWORK=host the same link hands the admin cookie to the kernel, and the header warns', async () => {
    const unsafe = await startAppServer({ extraEnv: { KERNEL_NETWORK: 'host' } });
    try {
      const id = await createNotebook('Host network', unsafe.url);
      const port = await freePort();
      expect(await run(unsafe.url, id, listenerPy(port))).toBe('listening\n');
      expect(await adminClicks(`http://127.0.0.1:${port}/`)).toBe('status 200');
      // the kernel holds the admin's browser session (a session id, not the admin token)
      expect(await run(unsafe.url, id, `print(any("ynb_admin=" in r for r in stolen), any(${JSON.stringify(TEST_ADMIN_TOKEN)} in r for r in stolen))`)).toBe('True False\n');

      const person = await openAs(browser, 'Una Editor');
      await openNotebook(person, id, unsafe.url);
      const badge = person.page.getByTestId('kernel-network');
      await expect.poll(() => badge.textContent(), { timeout: UI_MS }).toBe('Host network (unsafe)');
      expect(await badge.getAttribute('data-network')).toBe('host');
      await expectNoErrors(person);
      await person.context.close();
    } finally {
      await unsafe.close();
    }
  });
});
