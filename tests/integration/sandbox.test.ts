// Kernels in the bubblewrap sandbox (docs/decisions/0009-kernel-sandbox.md), against the real
// server, a real embedded Kernel Gateway and real kernels: what kernel code tries and must fail.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellsOf, findCell, insertCell } from '../../common/notebook/model';
import { readEnv } from '../../server/http/env';
import { startServer, type RunningServer } from '../../server/http/server';
import type { KernelService } from '../../server/kernel/kernel-service';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { silenceJupyterServicesLogs } from '../support/gateway';
import { readHostFolder } from '../support/kernel-disk';
import { tempDir } from '../support/server';
import { waitFor } from '../support/yclient';
import { scaled } from '../support/timing';

const REPO = path.resolve(import.meta.dirname, '../..');
const VENV_PYTHON = path.join(REPO, 'kernel-gateway/.venv/bin/python');
// A secret in the server's environment that no kernel may see.
const FAKE_KEY = `sk-sandbox-${randomBytes(8).toString('hex')}`;
silenceJupyterServicesLogs();

interface Client {
  doc: Y.Doc;
  provider: WebsocketProvider;
}

interface Harness {
  server: RunningServer;
  kernels: KernelService;
  dataDir: string;
  /** the instance admin's token: it opens every notebook */
  token: string;
  clients: Map<string, Client>;
}

const ADMIN_TOKEN = `admin-${randomBytes(16).toString('hex')}`;

async function startHarness(extraEnv: Record<string, string> = {}): Promise<Harness> {
  const dataDir = tempDir('ynb-sandbox-');
  const env = readEnv({ PORT: '0', DATA_DIR: dataDir, NODE_ENV: 'test', OPENAI_API_KEY: FAKE_KEY, ADMIN_TOKEN, ...extraEnv });
  const server = await startServer({ env, withUi: false, log: () => undefined, model: null, warmKernels: true, rateLimits: { runsPerMinute: 10_000 } } as Parameters<typeof startServer>[0]);
  const kernels = await server.execution.kernels;
  return { server, kernels, dataDir, token: ADMIN_TOKEN, clients: new Map() };
}

async function stopHarness(h: Harness | undefined): Promise<void> {
  if (!h) return;
  for (const c of h.clients.values()) {
    c.provider.destroy();
    c.doc.destroy();
  }
  await h.server.close();
  fs.rmSync(h.dataDir, { recursive: true, force: true });
}

/** fetch on the server's API with the admin token */
function api(h: Harness, route: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${h.server.url}${route}`, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${h.token}` } });
}

async function createNotebook(h: Harness): Promise<string> {
  const res = await api(h, '/api/notebooks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  if (res.status !== 201) throw new Error(`create notebook: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** POSTs to a cell route, retrying while the new cell has not reached the server (404). */
async function postWhenCellArrives(h: Harness, route: string): Promise<{ status: number; body: any }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await api(h, route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    if (res.status !== 404 || Date.now() > deadline) return { status: res.status, body: await res.json() };
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function clientFor(h: Harness, id: string): Promise<Client> {
  let c = h.clients.get(id);
  if (!c) {
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(h.server.url.replace(/^http/, 'ws') + '/sync', id, doc, {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      disableBc: true,
      maxBackoffTime: 300,
      params: { token: h.token },
    });
    c = { doc, provider };
    h.clients.set(id, c);
    await waitFor(() => provider.synced, { what: 'sync', timeoutMs: scaled(10_000) });
  }
  return c;
}

interface RunResult {
  status: string;
  /** for a kernel-error: what failed (KERNEL_DEAD, SANDBOX_UNAVAILABLE...) */
  code?: string;
  /** stdout + stderr, and errors as `ename: evalue` (a kernel failure's: its message alone) */
  text: string;
}

/** Runs code in a new cell of a notebook through the HTTP API and reads the cell's outputs. */
async function runCode(h: Harness, id: string, code: string): Promise<RunResult> {
  const client = await clientFor(h, id);
  const cellId = insertCell(client.doc, 0, { source: code });
  const r = await postWhenCellArrives(h, `/api/notebooks/${id}/cells/${cellId}/run`);
  const doc = client.doc;
  const outputs = await waitFor(
    () => {
      const c = findCell(doc, cellId);
      const st = c?.get('execution_state') as { state?: string } | undefined;
      const outs = (c?.get('outputs') as { toJSON(): any[] } | undefined)?.toJSON() ?? [];
      const isDone = c && st?.state === 'idle' && (c.get('execution_count') !== null || outs.length > 0 || r.body.status !== 'ok');
      return isDone ? outs : null;
    },
    { what: 'run to finish', timeoutMs: scaled(60_000) },
  );
  const text = outputs
    // a kernel failure's error output has no ename: its message, once
    .map((o: any) => (o.output_type === 'stream' ? o.text : o.output_type === 'error' ? `${o.ename ? `${o.ename}: ` : ''}${o.evalue}\n` : String(o.data?.['text/plain'] ?? '')))
    .join('');
  return { status: r.body.status, code: r.body.code as string | undefined, text };
}

/** Runs code whose last stdout line is JSON, and parses it. */
async function runJson(h: Harness, id: string, code: string): Promise<any> {
  const r = await runCode(h, id, code);
  expect(r.status, r.text).toBe('ok');
  const lines = r.text.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!);
}

/** Python that runs `attempt` and prints what happened as JSON: {ok, value} or {ok: false, error}. */
const tryPy = (attempt: string) => `
import json
def __attempt():
${attempt
  .trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
try:
    __v = __attempt()
    print(json.dumps({"ok": True, "value": repr(__v)[:200]}))
except BaseException as e:
    print(json.dumps({"ok": False, "error": type(e).__name__}))
`;

/** A minimal pure-Python wheel, built here with the venv's zipfile (no network, no build backend). */
function buildWheel(dir: string, name: string, marker: string): string {
  const script = `
import base64, hashlib, sys, zipfile
name, marker, out = sys.argv[1], sys.argv[2], sys.argv[3]
files = {
    f"{name}/__init__.py": f"MARKER = {marker!r}\\n",
    f"{name}-0.1.dist-info/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: 0.1\\n",
    f"{name}-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: ynotebook-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = []
with zipfile.ZipFile(out, "w") as z:
    for p, text in files.items():
        data = text.encode()
        z.writestr(p, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{p},sha256={digest},{len(data)}")
    record.append(f"{name}-0.1.dist-info/RECORD,,")
    z.writestr(f"{name}-0.1.dist-info/RECORD", "\\n".join(record) + "\\n")
`;
  const out = path.join(dir, `${name}-0.1-py3-none-any.whl`);
  execFileSync(VENV_PYTHON, ['-c', script, name, marker, out]);
  return out;
}

describe('kernels in the bubblewrap sandbox (embedded gateway)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ KERNEL_SANDBOX: 'required' });
  });
  afterAll(() => stopHarness(h));

  it("a new notebook's first run takes the spare kernel started before the notebook existed; its files land in the notebook's folder", async () => {
    const k = h.kernels;
    await waitFor(() => k.spareKernelIds.length === 1, { what: 'a spare kernel', timeoutMs: scaled(60_000) });
    const spareId = k.spareKernelIds[0];
    const id = await createNotebook(h);
    const r = await runJson(h, id, 'import os, json\nopen("made-by-spare.txt", "w").write("hi")\nprint(json.dumps(os.listdir("..")))');
    expect(r).toHaveLength(1);
    expect((k.kernelFor(id) as unknown as { kernelId: string }).kernelId).toBe(spareId);
    // on the host: in the notebook's folder (its disk image, renamed with the spare's folder)
    expect(readHostFolder(path.join(h.dataDir, 'kernels', id), ['made-by-spare.txt']).files['made-by-spare.txt']?.data.toString()).toBe('hi');
    // the files API goes through that kernel and sees the same folder
    const listed = (await (await api(h, `/api/notebooks/${id}/files`)).json()) as { files: { path: string }[] };
    expect(listed.files.map((f) => f.path)).toEqual(['made-by-spare.txt']);
    // never shared: the pool starts another spare, and no spare folder is left beside the notebook's but that one
    await waitFor(() => k.spareKernelIds.length === 1 && k.spareKernelIds[0] !== spareId, { what: 'a new spare', timeoutMs: scaled(60_000) });
    const spareDirs = fs.readdirSync(path.join(h.dataDir, 'kernels')).filter((n) => n.startsWith('.spare-'));
    expect(spareDirs).toHaveLength(1);
    // a restart gives the notebook a kernel that still works in its folder
    expect((await api(h, `/api/notebooks/${id}/restart`, { method: 'POST' })).status).toBeLessThan(300);
    expect((await runCode(h, id, 'print(open("made-by-spare.txt").read())')).text).toBe('hi\n');
  });

  it('reports the sandbox as active with its limits', () => {
    expect(h.kernels.sandbox).toMatchObject({ mode: 'required', active: true, isRefusing: false, memoryMb: 2048, network: 'internet', networkState: { kind: 'internet' } });
  });

  it('kernel code cannot read the database, another notebook, the server or the gateway, write the app, or kill anything', async () => {
    // Guard: everything below must only ever run inside the sandbox (it signals real pids).
    expect(h.kernels.sandbox?.active).toBe(true);
    const a = await createNotebook(h);
    const b = await createNotebook(h);
    const secret = `only-for-a-${randomBytes(6).toString('hex')}`;
    expect((await api(h, `/api/notebooks/${a}/files/private.txt`, { method: 'PUT', body: secret })).status).toBe(201);
    const dbPath = path.join(h.dataDir, 'notebooks.sqlite');
    const aFile = path.join(h.dataDir, 'kernels', a, 'private.txt');
    expect(fs.existsSync(dbPath)).toBe(true);
    expect(readHostFolder(path.dirname(aFile), ['private.txt']).files['private.txt']?.data.toString()).toBe(secret);
    const serverPid = process.pid;
    const gatewayPid = h.kernels.embeddedGatewayPid!;
    expect(gatewayPid).toBeGreaterThan(2);
    const token = h.kernels.serverSettings.token;
    expect(token.length).toBeGreaterThan(20);

    const read = async (p: string) => runJson(h, b, tryPy(`return open(${JSON.stringify(p)}, "rb").read()`));
    // the SQLite database (and its folder) does not exist in the sandbox
    expect(await read(dbPath)).toMatchObject({ ok: false });
    // of DATA_DIR only the path to this notebook's folder exists (made by bwrap for the mount)
    expect(await runJson(h, b, tryPy(`import os\nreturn os.listdir(${JSON.stringify(h.dataDir)})`))).toMatchObject({ ok: true, value: "['kernels']" });
    // notebook A's file: by absolute path and through ../
    expect(await read(aFile)).toMatchObject({ ok: false });
    expect(await read(`../${a}/private.txt`)).toMatchObject({ ok: false });
    // only its own folder: under its own name, or under the spare's name when the kernel was a
    // spare started before the notebook existed (the sandbox bound that folder, since renamed)
    const [ownName, siblings] = await runJson(h, b, 'import os, json\nprint(json.dumps([os.path.basename(os.getcwd()), os.listdir("..")]))');
    expect(ownName === b || ownName.startsWith('.spare-')).toBe(true);
    expect(siblings).toEqual([ownName]);
    // the server's and the gateway's /proc entries
    expect(await read(`/proc/${serverPid}/environ`)).toMatchObject({ ok: false, error: 'FileNotFoundError' });
    expect(await read(`/proc/${gatewayPid}/environ`)).toMatchObject({ ok: false, error: 'FileNotFoundError' });
    expect(await read(`/proc/${gatewayPid}/cmdline`)).toMatchObject({ ok: false, error: 'FileNotFoundError' });
    const procPids = await runJson(h, b, 'import os, json\nprint(json.dumps(sorted(int(p) for p in os.listdir("/proc") if p.isdigit())))');
    expect(procPids).not.toContain(serverPid);
    expect(procPids).not.toContain(gatewayPid);
    expect(procPids.length).toBeLessThanOrEqual(3); // bwrap's init, the kernel, maybe a child
    // nothing the kernel can read holds the gateway token or the model key
    const leak = await runJson(
      h,
      b,
      `import os, json
found = []
for p in os.listdir("/proc"):
    for f in ("environ", "cmdline"):
        try:
            data = open(f"/proc/{p}/{f}", "rb").read()
        except OSError:
            continue
        for s in (${JSON.stringify(token)}, ${JSON.stringify(FAKE_KEY)}):
            if s.encode() in data: found.append(f"/proc/{p}/{f}")
for v in os.environ.values():
    if ${JSON.stringify(token)} in v or ${JSON.stringify(FAKE_KEY)} in v: found.append("env")
print(json.dumps(found))`,
    );
    expect(leak).toEqual([]);
    // the app's own files: not visible, and not writable. A checkout below /tmp (a fresh clone in
    // CI) lies inside the kernel's private /tmp: there a write lands in that throwaway tmpfs, never
    // in the app, which is what the host-side checks below prove either way.
    const pkg = path.join(REPO, 'package.json');
    const pkgBefore = fs.readFileSync(pkg);
    const isRepoInPrivateTmp = REPO === '/tmp' || REPO.startsWith('/tmp/');
    const appendPkg = await runJson(h, b, tryPy(`return open(${JSON.stringify(pkg)}, "a").write("pwned")`));
    const newFile = await runJson(h, b, tryPy(`return open(${JSON.stringify(path.join(REPO, 'pwned.txt'))}, "w").write("pwned")`));
    if (!isRepoInPrivateTmp) {
      expect(appendPkg).toMatchObject({ ok: false });
      expect(newFile).toMatchObject({ ok: false });
    }
    expect(await read(path.join(REPO, 'server/http/server.ts'))).toMatchObject({ ok: false });
    expect(fs.readFileSync(pkg)).toEqual(pkgBefore);
    expect(fs.existsSync(path.join(REPO, 'pwned.txt'))).toBe(false);
    // the shared Python environment is visible (the kernel runs from it) and read-only
    const sitePackages = path.join(REPO, 'kernel-gateway/.venv/lib/python3.11/site-packages');
    expect(await runJson(h, b, tryPy(`return open(${JSON.stringify(path.join(sitePackages, 'pwned.py'))}, "w").write("x")`))).toMatchObject({ ok: false, error: 'OSError' });
    expect(fs.existsSync(path.join(sitePackages, 'pwned.py'))).toBe(false);
    // signals to the server and the gateway: those pids do not exist in the kernel's namespace
    for (const pid of [serverPid, gatewayPid]) {
      const r = await runJson(h, b, tryPy(`import os, signal\nreturn os.kill(${pid}, signal.SIGKILL)`));
      expect(r.ok).toBe(false);
      expect(['ProcessLookupError', 'PermissionError']).toContain(r.error);
    }
    // everyone is still there: the server serves, the gateway runs, the next run works
    expect(() => process.kill(gatewayPid, 0)).not.toThrow();
    expect((await api(h, `/api/notebooks`)).status).toBe(200);
    expect((await runCode(h, b, 'print(6 * 7)')).text).toBe('42\n');
    expect((await runCode(h, a, 'print(open("private.txt").read())')).text).toBe(`${secret}\n`);
  });

  it('gives the kernel a private /tmp and a writable HOME, and keeps its working directory usable', async () => {
    const a = await createNotebook(h);
    const b = await createNotebook(h);
    await runJson(h, a, 'import json\nopen("/tmp/mark-a", "w").write("a")\nprint(json.dumps(1))');
    expect(await runJson(h, b, 'import os, json\nprint(json.dumps(os.path.exists("/tmp/mark-a")))')).toBe(false);
    expect(fs.existsSync('/tmp/mark-a')).toBe(false);
    const home = await runJson(h, a, 'import os, json, pathlib\np = pathlib.Path.home() / ".cache" / "x"\np.parent.mkdir(parents=True, exist_ok=True)\np.write_text("ok")\nprint(json.dumps([str(pathlib.Path.home()), p.read_text()]))');
    expect(home).toEqual(['/home/ynotebook', 'ok']);
    // a plot needs matplotlib's cache dir in HOME; the files API reads what the kernel wrote
    const plot = await runCode(h, a, 'import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.savefig("plot.png"); print("saved")');
    expect(plot.text).toContain('saved');
    expect(plot.text).not.toMatch(/Matplotlib created a temporary/);
    const png = await api(h, `/api/notebooks/${a}/files/plot.png`);
    expect(png.status).toBe(200);
    expect(Buffer.from(await png.arrayBuffer()).subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it('interrupts a busy sandboxed kernel without killing it', async () => {
    const id = await createNotebook(h);
    await runCode(h, id, 'kept = 41');
    const running = runCode(h, id, "print('looping', flush=True)\nwhile True: pass");
    // interrupt once the loop runs (an interrupt before it starts only clears the queue)
    const client = await clientFor(h, id);
    await waitFor(() => JSON.stringify(cellsOf(client.doc).toJSON()).includes('looping'), { what: 'the loop running', timeoutMs: scaled(60_000) });
    expect((await api(h, `/api/notebooks/${id}/interrupt`, { method: 'POST' })).status).toBeLessThan(300);
    expect((await running).text).toContain('KeyboardInterrupt');
    expect((await runCode(h, id, 'print(kept + 1)')).text).toBe('42\n');
  });

  it('`%pip install` goes to the notebook\'s own folder: importable at once there, not in another notebook, the shared env unchanged', async () => {
    const a = await createNotebook(h);
    const b = await createNotebook(h);
    const marker = randomBytes(6).toString('hex');
    const name = `ynb_probe_${marker}`;
    const wheelDir = tempDir('ynb-wheel-');
    try {
      const wheel = buildWheel(wheelDir, name, marker);
      const wheelName = path.basename(wheel);
      // the wheel reaches the sandbox the way a person's file does: uploaded into the working directory
      expect((await api(h, `/api/notebooks/${a}/files/${wheelName}`, { method: 'PUT', body: fs.readFileSync(wheel) })).status).toBe(201);
      // a failed import first: the target folder does not exist yet when the import system looks
      expect((await runCode(h, a, `import ${name}`)).text).toContain('ModuleNotFoundError');
      const install = await runCode(h, a, `%pip install --no-index ./${wheelName}`);
      expect(install.text).toMatch(/Successfully installed/);
      expect((await runCode(h, a, `import ${name}\nprint(${name}.MARKER)`)).text).toBe(`${marker}\n`);
      // `!pip` (a shell subprocess) honours the same target
      expect((await runCode(h, a, `!pip install --no-index ./${wheelName}`)).text).toMatch(/already exists|Successfully installed|Requirement already satisfied/);
      const installed = `.ynotebook/site-packages/${name}/__init__.py`;
      expect(readHostFolder(path.join(h.dataDir, 'kernels', a), [installed]).files[installed]).toBeDefined();
      // the installed packages are the notebook's, but not files the person sees in the files panel
      const listed = (await (await api(h, `/api/notebooks/${a}/files`)).json()).files.map((f: any) => f.path);
      expect(listed).toEqual([wheelName]);
      expect((await runCode(h, b, `import ${name}`)).text).toContain('ModuleNotFoundError');
      expect(fs.readdirSync(path.join(REPO, 'kernel-gateway/.venv/lib/python3.11/site-packages')).some((f) => f.startsWith(name))).toBe(false);
      // after a restart the package is still the notebook's
      expect((await api(h, `/api/notebooks/${a}/restart`, { method: 'POST' })).status).toBeLessThan(300);
      expect((await runCode(h, a, `import ${name}\nprint(${name}.MARKER)`)).text).toBe(`${marker}\n`);
    } finally {
      fs.rmSync(wheelDir, { recursive: true, force: true });
    }
  });
});

describe('kernel resource limits (KERNEL_MEMORY_MB, KERNEL_PIDS_MAX)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ KERNEL_MEMORY_MB: '768', KERNEL_PIDS_MAX: '64' });
  });
  afterAll(() => stopHarness(h));

  it('an allocation past the limit fails with a clear message; the server lives; after a restart the kernel works', async () => {
    expect(h.kernels.sandbox).toMatchObject({ active: true, memoryMb: 768 });
    const id = await createNotebook(h);
    expect((await runCode(h, id, 'import numpy as np\nsmall = np.ones(10_000_000)\nprint(small.sum())')).text).toBe('10000000.0\n');
    const over = await runCode(h, id, 'big = bytearray(1024 * 1024 * 1024)');
    expect(over.status).toBe('error');
    expect(over.text).toMatch(/MemoryError/);
    expect(over.text).toMatch(/at most 768 MiB of memory \(KERNEL_MEMORY_MB\)/);
    const np = await runCode(h, id, 'import numpy as np\nhuge = np.ones((1024, 1024, 256))');
    expect(np.text).toMatch(/MemoryError|Unable to allocate/);
    expect((await api(h, `/api/notebooks`)).status).toBe(200);
    expect((await runCode(h, id, 'print("still here")')).text).toBe('still here\n');
    expect((await api(h, `/api/notebooks/${id}/restart`, { method: 'POST' })).status).toBeLessThan(300);
    expect((await runCode(h, id, 'print(1 + 1)')).text).toBe('2\n');
  });

  it('a kernel cannot start more processes and threads than KERNEL_PIDS_MAX; the server lives', async () => {
    // needs a writable pids cgroup (v1); elsewhere the state says there is no process limit
    if (h.kernels.sandbox?.pidsMax === null) {
      expect(h.kernels.sandbox.reason).toMatch(/no per-kernel process limit/);
      return;
    }
    expect(h.kernels.sandbox?.pidsMax).toBe(64);
    const id = await createNotebook(h);
    const r = await runJson(
      h,
      id,
      `import threading, json, time
stop = threading.Event()
started, error = 0, None
for i in range(200):
    try:
        threading.Thread(target=stop.wait, daemon=True).start()
        started += 1
    except RuntimeError as e:
        error = str(e)
        break
stop.set()
time.sleep(0.5)
print(json.dumps([started, error]))`,
    );
    expect(r[0]).toBeLessThan(64);
    expect(r[1]).toMatch(/can't start new thread/);
    expect((await api(h, `/api/notebooks`)).status).toBe(200);
    expect((await runCode(h, id, 'print("fine")')).text).toBe('fine\n');
  });
});

describe('KERNEL_SANDBOX settings', () => {
  it('off: kernels run without the sandbox, on purpose, and say so', async () => {
    const h = await startHarness({ KERNEL_SANDBOX: 'off' });
    try {
      expect(h.kernels.sandbox).toMatchObject({ mode: 'off', active: false, reason: 'KERNEL_SANDBOX=off' });
      const id = await createNotebook(h);
      const r = await runJson(h, id, `import os, json\nprint(json.dumps([os.getcwd(), ${process.pid} in [int(p) for p in os.listdir("/proc") if p.isdigit()]]))`);
      expect(r).toEqual([path.join(h.dataDir, 'kernels', id), true]);
    } finally {
      await stopHarness(h);
    }
  });

  it('required without a working bubblewrap: no kernel starts, the cell says why, the server lives', async () => {
    const h = await startHarness({ KERNEL_SANDBOX: 'required', KERNEL_SANDBOX_BWRAP: '/nonexistent/bwrap' });
    try {
      expect(h.kernels.sandbox).toMatchObject({ mode: 'required', active: false, isRefusing: true });
      const id = await createNotebook(h);
      const r = await runCode(h, id, 'print("must not run")');
      expect(r.status).toBe('kernel-error');
      expect(r.code).toBe('SANDBOX_UNAVAILABLE');
      expect(r.text).toMatch(/^Kernels are not started: bubblewrap not found at \/nonexistent\/bwrap; KERNEL_SANDBOX=required/);
      expect(r.text).not.toContain('must not run');
      expect((await api(h, `/api/notebooks`)).status).toBe(200);
    } finally {
      await stopHarness(h);
    }
  });

  it('auto without a working bubblewrap: kernels run unsandboxed and the state says why', async () => {
    const h = await startHarness({ KERNEL_SANDBOX_BWRAP: '/nonexistent/bwrap' });
    try {
      expect(h.kernels.sandbox).toMatchObject({ mode: 'auto', active: false, reason: 'bubblewrap not found at /nonexistent/bwrap' });
      const id = await createNotebook(h);
      expect((await runCode(h, id, 'print(2 + 3)')).text).toBe('5\n');
    } finally {
      await stopHarness(h);
    }
  });

  it('KERNEL_NETWORK=none: no network in the kernel, yet it runs, restarts and moves files (ipc to the gateway)', async () => {
    const h = await startHarness({ KERNEL_NETWORK: 'none' });
    try {
      expect(h.kernels.sandbox).toMatchObject({ active: true, network: 'none', isRefusing: false });
      const id = await createNotebook(h);
      const serverPort = Number(new URL(h.server.url).port);
      const gatewayPort = Number(new URL(h.kernels.gatewayUrl).port);
      const probe = (host: string, port: number) => tryPy(`import socket\nreturn socket.create_connection((${JSON.stringify(host)}, ${port}), timeout=3).close()`);
      // loopback of its own: neither the server nor the gateway is reachable, nor the outside
      expect(await runJson(h, id, probe('127.0.0.1', serverPort))).toMatchObject({ ok: false, error: 'ConnectionRefusedError' });
      expect(await runJson(h, id, probe('127.0.0.1', gatewayPort))).toMatchObject({ ok: false, error: 'ConnectionRefusedError' });
      expect(await runJson(h, id, probe('1.1.1.1', 80))).toMatchObject({ ok: false });
      expect((await api(h, `/api/notebooks/${id}/files/in.txt`, { method: 'PUT', body: 'hello' })).status).toBe(201);
      expect((await runCode(h, id, 'print(open("in.txt").read())')).text).toBe('hello\n');
      expect((await api(h, `/api/notebooks/${id}/restart`, { method: 'POST' })).status).toBeLessThan(300);
      expect((await runCode(h, id, 'print(3 * 3)')).text).toBe('9\n');
    } finally {
      await stopHarness(h);
    }
  });

  it('KERNEL_NETWORK=none without the sandbox refuses to start kernels', async () => {
    const h = await startHarness({ KERNEL_NETWORK: 'none', KERNEL_SANDBOX: 'off' });
    try {
      expect(h.kernels.sandbox).toMatchObject({ active: false, isRefusing: true });
      const id = await createNotebook(h);
      const r = await runCode(h, id, 'print("must not run")');
      expect(r.code).toBe('SANDBOX_UNAVAILABLE');
      expect(r.text).toMatch(/^Kernels are not started: .*KERNEL_NETWORK=none needs the sandbox/);
    } finally {
      await stopHarness(h);
    }
  });
});
