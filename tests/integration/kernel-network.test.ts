// Kernels in a network namespace of their own (KERNEL_NETWORK, docs/decisions/0022-kernel-network-namespace.md),
// against the real server, a real embedded Kernel Gateway and real kernels in bubblewrap, with the
// default settings unless a test says otherwise: what an editor's kernel code tries and must fail.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findCell, insertCell } from '../../common/notebook/model';
import type { KernelService } from '../../server/kernel/kernel-service';
import { fetchAsAdmin } from '../support/auth';
import { freePort, silenceJupyterServicesLogs } from '../support/gateway';
import { createNotebook, postWhenCellArrives, startTestServer, type TestServer } from '../support/server';
import { KERNEL_MS, scaled } from '../support/timing';
import { connectClient, waitFor, type YClient } from '../support/yclient';

silenceJupyterServicesLogs();

interface Harness {
  server: TestServer;
  kernels: KernelService;
  clients: Map<string, YClient>;
}

async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const server = await startTestServer({ env });
  return { server, kernels: await server.execution.kernels, clients: new Map() };
}

async function stopHarness(h: Harness | undefined): Promise<void> {
  if (!h) return;
  for (const c of h.clients.values()) c.destroy();
  await h.server.close();
  fs.rmSync(h.server.dataDir, { recursive: true, force: true });
}

const api = (h: Harness, route: string, init: RequestInit = {}) => fetchAsAdmin(`${h.server.url}${route}`, init);

async function clientFor(h: Harness, id: string): Promise<YClient> {
  let c = h.clients.get(id);
  if (!c) {
    c = connectClient(h.server.wsUrl, id);
    h.clients.set(id, c);
    await c.synced;
  }
  return c;
}

/** Runs code in a new cell through the HTTP API; its stdout, stderr and errors as text. */
async function runCode(h: Harness, id: string, code: string): Promise<{ status: string; text: string }> {
  const { doc } = await clientFor(h, id);
  const cellId = insertCell(doc, 0, { source: code });
  const r = await postWhenCellArrives(`${h.server.url}/api/notebooks/${id}/cells/${cellId}/run`, {}, scaled(10_000));
  const outputs = await waitFor(
    () => {
      const c = findCell(doc, cellId);
      const st = c?.get('execution_state') as { state?: string } | undefined;
      const outs = (c?.get('outputs') as { toJSON(): any[] } | undefined)?.toJSON() ?? [];
      return c && st?.state === 'idle' && (c.get('execution_count') !== null || outs.length > 0 || r.body.status !== 'ok') ? outs : null;
    },
    { what: 'the run to finish', timeoutMs: KERNEL_MS },
  );
  const text = outputs
    .map((o: any) => (o.output_type === 'stream' ? o.text : o.output_type === 'error' ? `${o.ename ? `${o.ename}: ` : ''}${o.evalue}\n` : String(o.data?.['text/plain'] ?? '')))
    .join('');
  return { status: r.body.status, text };
}

/** Runs code whose last stdout line is JSON, and parses it. */
async function runJson(h: Harness, id: string, code: string): Promise<any> {
  const r = await runCode(h, id, code);
  expect(r.status, r.text).toBe('ok');
  const lines = r.text.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!);
}

/** Python: try a TCP connection from the kernel; {ok} or {ok: false, error: the exception's name}. */
const connectPy = (host: string, port: number) => `
import json, socket
try:
    s = socket.create_connection((${JSON.stringify(host)}, ${port}), timeout=3)
    s.sendall(b"hello from the kernel")
    s.close()
    print(json.dumps({"ok": True}))
except OSError as e:
    print(json.dumps({"ok": False, "error": type(e).__name__}))
`;

/** A TCP listener on the host that counts the connections (and bytes) it gets. */
async function hostListener(host: string): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, () => resolve());
  });
  return {
    port: (srv.address() as net.AddressInfo).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}

/** The host's first non-loopback IPv4 address (where its other services listen). */
function hostAddress(): string {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('this machine has no non-loopback IPv4 address to test with');
}

/** Connects from the host; resolves with 'connected' or the error code (ECONNREFUSED...). */
function connectFromHost(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, scaled(3_000));
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code ?? e.message);
    });
  });
}

/**
 * Python for kernel A: subscribe to ZeroMQ endpoints for `seconds` and count the frames: `extra`
 * (B's iopub, told by the test) and, with `scanAll`, each 127.0.0.1 port listening in its
 * /proc/net/tcp (how the attack of issue 16 found B's iopub; only where that list is the kernel's
 * own: on the host's loopback it would poke every service of this shared machine). Prints
 * {listening: [[port, socket inode]], frames, sawSecret}.
 */
const capturePy = (secret: string, extra: string[], seconds: number, scanAll: boolean) => `
import json, time, zmq
ports = []
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        lines = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for line in lines:
        f = line.split()
        if f[3] == "0A":  # LISTEN
            ports.append([int(f[1].split(":")[1], 16), int(f[9])])
ctx = zmq.Context.instance()
subs = []
for ep in (["tcp://127.0.0.1:%d" % p for p, _ in ports] if ${scanAll ? 'True' : 'False'} else []) + ${JSON.stringify(extra)}:
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.setsockopt(zmq.LINGER, 0)
    try:
        s.connect(ep)
    except zmq.ZMQError:
        s.close()
        continue
    subs.append(s)
poller = zmq.Poller()
for s in subs:
    poller.register(s, zmq.POLLIN)
frames, saw = 0, False
end = time.time() + ${seconds}
while time.time() < end:
    for s, _ in poller.poll(100):
        for part in s.recv_multipart():
            frames += 1
            saw = saw or ${JSON.stringify(secret)}.encode() in part
for s in subs:
    s.close()
print(json.dumps({"listening": ports, "frames": frames, "sawSecret": saw}))
`;

/**
 * Kernel B prints a secret for a while; meanwhile kernel A tries to read B's iopub. Returns what A
 * captured once B's output has been seen (so A listened while B was printing).
 */
async function captureWhileOtherPrints(h: Harness, a: string, b: string, scanAll: boolean): Promise<{ listening: [number, number][]; frames: number; sawSecret: boolean }> {
  const secret = `secret-of-b-${randomBytes(6).toString('hex')}`;
  // both kernels up before B starts printing
  await runCode(h, a, 'import zmq');
  await runCode(h, b, 'pass');
  const printing = runCode(h, b, `import time\nfor i in range(60):\n    print(${JSON.stringify(secret)}, i, flush=True)\n    time.sleep(0.1)`);
  const { doc } = await clientFor(h, b);
  await waitFor(() => JSON.stringify(doc.getArray('cells').toJSON()).includes(secret), { what: "B's secret in B's outputs", timeoutMs: KERNEL_MS });
  const captured = await runJson(h, a, capturePy(secret, iopubEndpointOf(h, b), 3, scanAll));
  expect((await printing).text).toContain(secret);
  return captured;
}

/** The inodes of the listening TCP sockets of the host's network namespace (this test's). */
function hostListeningInodes(): Set<number> {
  const inodes = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A') inodes.add(Number(f[9]));
    }
  }
  return inodes;
}

/** A kernel's iopub endpoint (ipc or tcp), read on the host from its connection file. */
function iopubEndpointOf(h: Harness, notebookId: string): string[] {
  const kernelId = (h.kernels.kernelFor(notebookId) as unknown as { kernelId: string }).kernelId;
  const runtime = path.join(process.env.HOME ?? os.homedir(), '.local/share/jupyter/runtime');
  const file = fs.readdirSync(runtime).find((f) => f.includes(kernelId));
  if (!file) return [];
  const info = JSON.parse(fs.readFileSync(path.join(runtime, file), 'utf8'));
  return [info.transport === 'ipc' ? `ipc://${info.ip}-${info.iopub_port}` : `tcp://${info.ip}:${info.iopub_port}`];
}

describe('default KERNEL_NETWORK (internet): each kernel in a network namespace of its own', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => stopHarness(h));

  it('the state says internet through slirp4netns, and the kernel sees a route and a resolver (no host sockets)', async () => {
    expect(h.kernels.sandbox).toMatchObject({ active: true, network: 'internet', networkState: { kind: 'internet', via: 'slirp4netns', label: 'Internet: yes via slirp4netns' } });
    const id = await createNotebook(h.server.url);
    const seen = await runJson(
      h,
      id,
      `import json, os
routes = [l.split() for l in open("/proc/net/route").read().splitlines()[1:]]
default = [r for r in routes if r[1] == "00000000"]
print(json.dumps({
    "env": os.environ.get("YNOTEBOOK_NETWORK"),
    "defaultVia": [(r[0], ".".join(str(int(r[2][i:i + 2], 16)) for i in (6, 4, 2, 0))) for r in default],
    "resolv": open("/etc/resolv.conf").read(),
    "listening": [int(l.split()[9]) for t in ("/proc/net/tcp", "/proc/net/tcp6") for l in open(t).read().splitlines()[1:] if l.split()[3] == "0A"],
}))`,
    );
    expect(seen.env).toBe('internet');
    // slirp4netns' gateway (10.0.2.2: the host's loopback would be behind it, but that is disabled)
    expect(seen.defaultVia).toEqual([['tap0', '10.0.2.2']]);
    expect(seen.resolv).toBe('nameserver 10.0.2.3\n');
    // none of the host's listening sockets (the app, the gateway, other kernels) is in its tables:
    // what is there is the kernel's own (ipykernel keeps one on its own loopback)
    const host = hostListeningInodes();
    expect(host.size).toBeGreaterThan(0);
    expect(seen.listening.filter((inode: number) => host.has(inode))).toEqual([]);
  });

  it('a listener the kernel opens on 127.0.0.1 (or any address) is not reachable from the host', async () => {
    const id = await createNotebook(h.server.url);
    const port = await freePort();
    const listened = await runJson(
      h,
      id,
      `import json, socket
listeners = []
for host in ("127.0.0.1", "0.0.0.0"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, ${port}) if host == "127.0.0.1" else (host, ${port} + 1 if ${port} < 65535 else ${port} - 1))
    s.listen(8)
    listeners.append(s)
# the listener is real: the kernel reaches it itself
socket.create_connection(("127.0.0.1", ${port}), timeout=3).close()
print(json.dumps([s.getsockname()[1] for s in listeners]))`,
    );
    expect(listened[0]).toBe(port);
    // the admin's browser following a link to http://127.0.0.1:<port>/ gets nothing from the kernel
    expect(await connectFromHost('127.0.0.1', port)).toBe('ECONNREFUSED');
    expect(await connectFromHost('127.0.0.1', listened[1])).toBe('ECONNREFUSED');
    expect(await connectFromHost(hostAddress(), listened[1])).not.toBe('connected');
  });

  it("kernel code reaches nothing of the host: not its loopback, not its other addresses, not the app or the gateway", async () => {
    const loop = await hostListener('127.0.0.1');
    const lan = await hostListener(hostAddress());
    try {
      const id = await createNotebook(h.server.url);
      const probe = (host: string, port: number) => runJson(h, id, connectPy(host, port));
      expect(await probe('127.0.0.1', loop.port)).toMatchObject({ ok: false, error: 'ConnectionRefusedError' });
      expect(await probe(hostAddress(), lan.port)).toMatchObject({ ok: false });
      // slirp4netns' gateway address would be the host's loopback without --disable-host-loopback
      expect(await probe('10.0.2.2', loop.port)).toMatchObject({ ok: false });
      // the app and the gateway, by their loopback ports
      expect(await probe('127.0.0.1', Number(new URL(h.server.url).port))).toMatchObject({ ok: false, error: 'ConnectionRefusedError' });
      expect(await probe('127.0.0.1', Number(new URL(h.kernels.gatewayUrl).port))).toMatchObject({ ok: false, error: 'ConnectionRefusedError' });
      // a cloud metadata endpoint's address range is fenced off too
      expect(await probe('169.254.169.254', 80)).toMatchObject({ ok: false });
      expect(loop.connections()).toBe(0);
      expect(lan.connections()).toBe(0);
    } finally {
      await loop.close();
      await lan.close();
    }
  });

  it("kernel A captures 0 frames of kernel B's iopub while B prints a secret", async () => {
    const a = await createNotebook(h.server.url);
    const b = await createNotebook(h.server.url);
    const captured = await captureWhileOtherPrints(h, a, b, true);
    // B's channels are ipc sockets in a folder only B's sandbox has; on A's loopback nothing listens
    expect(iopubEndpointOf(h, b)[0]).toMatch(/^ipc:\/\//);
    const host = hostListeningInodes();
    expect(captured.listening.filter(([, inode]) => host.has(inode))).toEqual([]);
    expect(captured).toMatchObject({ frames: 0, sawSecret: false });
  });

  it('runs, file upload and download, interrupt and restart work through the ipc channels', async () => {
    const id = await createNotebook(h.server.url);
    const payload = randomBytes(200_000);
    expect((await api(h, `/api/notebooks/${id}/files/data.bin`, { method: 'PUT', body: payload })).status).toBe(201);
    expect((await runCode(h, id, 'import hashlib\nprint(hashlib.sha256(open("data.bin", "rb").read()).hexdigest())')).text.trim()).toBe(
      (await import('node:crypto')).createHash('sha256').update(payload).digest('hex'),
    );
    await runCode(h, id, 'open("out.txt", "w").write("made in the kernel")');
    const down = await api(h, `/api/notebooks/${id}/files/out.txt`);
    expect(down.status).toBe(200);
    expect(await down.text()).toBe('made in the kernel');
    await runCode(h, id, 'kept = 41');
    const running = runCode(h, id, 'import time\nprint("busy", flush=True)\nwhile True: time.sleep(0.01)');
    const { doc } = await clientFor(h, id);
    await waitFor(() => JSON.stringify(doc.getArray('cells').toJSON()).includes('busy'), { what: 'the busy cell to run', timeoutMs: KERNEL_MS });
    expect((await api(h, `/api/notebooks/${id}/interrupt`, { method: 'POST' })).status).toBeLessThan(300);
    expect((await running).text).toContain('KeyboardInterrupt');
    expect((await runCode(h, id, 'print(kept + 1)')).text).toBe('42\n');
    expect((await api(h, `/api/notebooks/${id}/restart`, { method: 'POST' })).status).toBeLessThan(300);
    expect((await runCode(h, id, 'print("kept" in dir())')).text).toBe('False\n');
    // after the restart the new kernel has its network again
    expect(await runJson(h, id, 'import json\nprint(json.dumps([l.split()[0] for l in open("/proc/net/route").read().splitlines()[1:]]))')).toContain('tap0');
  });
});

describe('KERNEL_NETWORK without slirp4netns, and =host', () => {
  it('without slirp4netns: the kernel has no network, it still runs, and the state says so', async () => {
    const h = await startHarness({ KERNEL_SLIRP4NETNS: '/nonexistent/slirp4netns' });
    try {
      expect(h.kernels.sandbox).toMatchObject({ active: true, network: 'internet', networkState: { kind: 'none', label: 'No network' } });
      expect(h.kernels.sandbox?.networkState.reason).toMatch(/slirp4netns not found at \/nonexistent\/slirp4netns: kernels have NO network/);
      const id = await createNotebook(h.server.url);
      const seen = await runJson(h, id, 'import json, os\nprint(json.dumps([os.environ.get("YNOTEBOOK_NETWORK"), open("/proc/net/route").read().splitlines()[1:]]))');
      expect(seen).toEqual(['none', []]);
      const loop = await hostListener('127.0.0.1');
      try {
        expect(await runJson(h, id, connectPy('127.0.0.1', loop.port))).toMatchObject({ ok: false, error: 'ConnectionRefusedError' });
        expect(loop.connections()).toBe(0);
      } finally {
        await loop.close();
      }
    } finally {
      await stopHarness(h);
    }
  });

  it('=host: kernels share the host network, loudly logged and in the state (a kernel listener answers on the host; A reads B)', async () => {
    const h = await startHarness({ KERNEL_NETWORK: 'host' });
    try {
      expect(h.kernels.sandbox).toMatchObject({ active: true, network: 'host', networkState: { kind: 'host', label: 'Host network (unsafe)' } });
      expect(h.server.logs.some((l) => l.includes('!!! KERNEL_NETWORK=host'))).toBe(true);
      const id = await createNotebook(h.server.url);
      const port = await freePort();
      await runCode(h, id, `import socket\nlistener = socket.socket()\nlistener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\nlistener.bind(("127.0.0.1", ${port}))\nlistener.listen(8)`);
      // what the default prevents: the same checks as above, now failing as the issue described
      expect(await connectFromHost('127.0.0.1', port)).toBe('connected');
      const b = await createNotebook(h.server.url);
      const captured = await captureWhileOtherPrints(h, id, b, false);
      expect(iopubEndpointOf(h, b)[0]).toMatch(/^tcp:\/\/127\.0\.0\.1:/);
      // the host's own listening sockets are in the kernel's tables
      const host = hostListeningInodes();
      expect(captured.listening.some(([, inode]) => host.has(inode))).toBe(true);
      expect(captured.sawSecret).toBe(true);
    } finally {
      await stopHarness(h);
    }
  });
});
