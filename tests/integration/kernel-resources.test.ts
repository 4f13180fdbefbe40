// Resources per kernel, not per process, and nothing of root's from a kernel
// (docs/decisions/0023-kernel-resources.md): against the real server, a real embedded Kernel
// Gateway and real sandboxed kernels, with the default settings except small limits.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findCell, insertCell } from '../../common/notebook/model';
import { DATA_DIR_MODE, prepareDataDir } from '../../server/http/data-dir';
import { readEnv } from '../../server/http/env';
import { startServer, type RunningServer } from '../../server/http/server';
import type { KernelService } from '../../server/kernel/kernel-service';
import { resolveSandbox } from '../../server/kernel/sandbox';
import { silenceJupyterServicesLogs } from '../support/gateway';
import { DISK_IMAGE_NAME, readHostFolder } from '../support/kernel-disk';
import { tempDir } from '../support/server';
import { HOOK_MS, KERNEL_MS, scaled, TEST_MS } from '../support/timing';
import { waitFor } from '../support/yclient';

silenceJupyterServicesLogs();

const REPO = path.resolve(import.meta.dirname, '../..');
const VENV_PYTHON = path.join(REPO, 'kernel-gateway/.venv/bin/python');
const LAUNCHER = path.join(REPO, 'kernel-gateway/kernel_launcher.py');
const MEMORY_MB = 300;
const QUOTA_MB = 20;
const MiB = 1024 * 1024;
const ADMIN_TOKEN = `admin-${randomBytes(16).toString('hex')}`;

interface Harness {
  server: RunningServer;
  kernels: KernelService;
  dataDir: string;
  docs: Map<string, { doc: Y.Doc; provider: WebsocketProvider }>;
}

let h: Harness;

function api(route: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${h.server.url}${route}`, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${ADMIN_TOKEN}` } });
}

async function createNotebook(): Promise<string> {
  const res = await api('/api/notebooks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function docFor(id: string): Promise<Y.Doc> {
  let c = h.docs.get(id);
  if (!c) {
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(h.server.url.replace(/^http/, 'ws') + '/sync', id, doc, {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      disableBc: true,
      params: { token: ADMIN_TOKEN },
    });
    c = { doc, provider };
    h.docs.set(id, c);
    await waitFor(() => provider.synced, { what: 'sync', timeoutMs: KERNEL_MS });
  }
  return c.doc;
}

/** Runs code in a new cell through the HTTP API; the cell's outputs as text (errors as `ename: evalue`). */
async function runCode(id: string, code: string): Promise<{ status: string; text: string }> {
  const doc = await docFor(id);
  const cellId = insertCell(doc, 0, { source: code });
  let res: { status: number; body: any };
  const deadline = Date.now() + KERNEL_MS;
  for (;;) {
    const r = await api(`/api/notebooks/${id}/cells/${cellId}/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    res = { status: r.status, body: await r.json() };
    // 404 while the new cell is still on its way to the server
    if (r.status !== 404 || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const outputs = await waitFor(
    () => {
      const c = findCell(doc, cellId);
      const st = c?.get('execution_state') as { state?: string } | undefined;
      const outs = (c?.get('outputs') as { toJSON(): any[] } | undefined)?.toJSON() ?? [];
      return c && st?.state === 'idle' && (c.get('execution_count') !== null || outs.length > 0) ? outs : null;
    },
    { what: 'the run to finish', timeoutMs: KERNEL_MS },
  );
  const text = outputs
    .map((o: any) => (o.output_type === 'stream' ? o.text : o.output_type === 'error' ? `${o.ename ? `${o.ename}: ` : ''}${o.evalue}\n` : String(o.data?.['text/plain'] ?? '')))
    .join('');
  return { status: res.body.status, text };
}

/** Runs code whose last stdout line is JSON, and parses it. */
async function runJson(id: string, code: string): Promise<any> {
  const r = await runCode(id, code);
  expect(r.status, r.text).toBe('ok');
  const lines = r.text.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!);
}

beforeAll(async () => {
  // a DATA_DIR an earlier version made world-readable: the server tightens it
  const dataDir = tempDir('ynb-resources-');
  fs.chmodSync(dataDir, 0o755);
  const env = readEnv({ PORT: '0', DATA_DIR: dataDir, NODE_ENV: 'test', ADMIN_TOKEN, KERNEL_MEMORY_MB: String(MEMORY_MB), FILES_QUOTA_MB: String(QUOTA_MB) });
  const server = await startServer({ env, withUi: false, log: () => undefined, model: null, rateLimits: { runsPerMinute: 10_000 } } as Parameters<typeof startServer>[0]);
  h = { server, kernels: await server.execution.kernels, dataDir, docs: new Map() };
}, HOOK_MS);

afterAll(async () => {
  if (!h) return;
  for (const c of h.docs.values()) {
    c.provider.destroy();
    c.doc.destroy();
  }
  await h.server.close();
  fs.rmSync(h.dataDir, { recursive: true, force: true });
}, HOOK_MS);

describe('kernel resources per kernel (KERNEL_MEMORY_MB, FILES_QUOTA_MB) and an unprivileged kernel', () => {
  it('says what it enforces: memory per kernel, a disk quota on the folder, kernels not root', () => {
    expect(h.kernels.sandbox).toMatchObject({ active: true, memoryMb: MEMORY_MB, isMemoryPerKernel: true, diskMb: QUOTA_MB, fileMaxMb: null, kernelUid: 65534 });
    expect(h.kernels.sandbox?.reason).toBeUndefined();
  });

  it("a kernel's children together stop at KERNEL_MEMORY_MB; the server and the kernel live on", { timeout: TEST_MS }, async () => {
    const id = await createNotebook();
    // Each child writes 150 MiB and holds it while the next one allocates. One after the other, so
    // that when the group is full the largest process is a child holding its 150 MiB: the OOM
    // killer's choice (children allocating all at once can make the kernel itself the largest).
    const children = (n: number) => `import json, subprocess, sys
code = "import time; b = bytearray(150 * 1024 * 1024); print('held', flush=True); time.sleep(5)"
procs, held = [], []
for _ in range(${n}):
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    held.append(p.stdout.readline().strip())
    procs.append(p)
print(json.dumps([[p.wait(), h] for p, h in zip(procs, held)]))`;
    // one child alone fits: the limit is on the sum, not on each process
    expect(await runJson(id, children(1))).toEqual([[0, 'held']]);
    const three = (await runJson(id, children(3))) as [number, string][];
    // the kernel's OOM killer ends at least one of them (SIGKILL): 3 x 150 MiB > 300 MiB
    expect(three.map(([rc]) => rc)).toContain(-9);
    expect(three.filter(([rc]) => rc === 0).length).toBeLessThan(3);
    expect((await api('/api/notebooks')).status).toBe(200);
    expect((await runCode(id, 'print("still here")')).text).toBe('still here\n');
  });

  it('a kernel filling its folder stops at FILES_QUOTA_MB with a clear error; what it wrote before is kept, across a restart', { timeout: TEST_MS }, async () => {
    const id = await createNotebook();
    await runCode(id, 'open("before.txt", "w").write("kept " * 1000)');
    const full = await runCode(id, 'chunk = b"x" * (1024 * 1024)\nwith open("big.bin", "wb") as f:\n    for i in range(10_000):\n        f.write(chunk)\n        f.flush()');
    expect(full.status).toBe('error');
    expect(full.text).toMatch(/OSError: \[Errno 28\] No space left on device/);
    expect(full.text).toContain(`This notebook's folder holds at most ${QUOTA_MB} MiB (FILES_QUOTA_MB)`);
    const [bigSize, before] = await runJson(id, 'import json, os\nprint(json.dumps([os.path.getsize("big.bin"), open("before.txt").read()]))');
    expect(bigSize).toBeGreaterThan((QUOTA_MB - 4) * MiB);
    expect(bigSize).toBeLessThanOrEqual(QUOTA_MB * MiB);
    expect(before).toBe('kept '.repeat(1000));
    // what the kernel wrote takes at most the quota (and ext4's metadata) of the host's disk
    const image = path.join(h.dataDir, 'kernels', id, DISK_IMAGE_NAME);
    expect(fs.statSync(image).blocks * 512).toBeLessThan((QUOTA_MB + 8) * MiB);
    // an upload into the full folder is refused naming the quota
    const upload = await api(`/api/notebooks/${id}/files/more.bin`, { method: 'PUT', body: Buffer.alloc(2 * MiB, 1) });
    expect(upload.status).toBe(413);
    expect((await upload.json()).error.message).toMatch(/FILES_QUOTA_MB/);
    // the folder is the notebook's files: a new kernel finds them, and room comes back with a delete
    expect((await api(`/api/notebooks/${id}/restart`, { method: 'POST' })).status).toBeLessThan(300);
    expect((await runCode(id, 'print(open("before.txt").read()[:10])')).text).toBe('kept kept \n');
    expect((await api(`/api/notebooks/${id}/files/big.bin`, { method: 'DELETE' })).status).toBe(204);
    // and the host gets that disk back (the image is mounted with discard; ext4 discards at its next commit)
    await waitFor(() => fs.statSync(image).blocks * 512 < 8 * MiB, { what: 'the image to give its blocks back', timeoutMs: scaled(30_000) });
    expect((await runCode(id, 'open("again.bin", "wb").write(b"y" * (5 * 1024 * 1024))\nprint("written")')).text).toBe('written\n');
  });

  it('files a kernel makes are not root\'s, on the host too; the kernel is not root', async () => {
    const id = await createNotebook();
    const ids = await runJson(id, 'import json, os\nopen("mine.txt", "w").write("mine")\nprint(json.dumps([os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()]))');
    expect(ids[0]).not.toBe(0);
    expect(ids[1]).not.toBe(0);
    expect(ids[2]).not.toBe(0);
    expect(ids[3]).not.toBe(0);
    expect(ids[4]).not.toContain(0);
    const host = readHostFolder(path.join(h.dataDir, 'kernels', id), ['mine.txt']);
    expect(host.files['mine.txt']).toMatchObject({ uid: 65534, gid: 65534 });
    expect(host.files['mine.txt']?.data.toString()).toBe('mine');
    // nor can it hand a file to root
    const chown = await runCode(id, 'import os\nos.chown("mine.txt", 0, 0)');
    expect(chown.text).toMatch(/PermissionError/);
  });

  it('a setuid binary a kernel plants gives no privilege: not root\'s on the host, no euid 0 inside, nosuid', async () => {
    const id = await createNotebook();
    const r = await runJson(
      id,
      `import json, os, shutil, subprocess
shutil.copy("/usr/bin/id", "myid")
os.chmod("myid", 0o4755)
euid = subprocess.run(["./myid", "-u"], capture_output=True, text=True).stdout.strip()
print(json.dumps([euid, oct(os.stat("myid").st_mode & 0o7777), bool(os.statvfs(".").f_flag & os.ST_NOSUID)]))`,
    );
    // the bit is there, but the file is the kernel's own user's, and its folder is mounted nosuid
    expect(r[1]).toBe('0o4755');
    expect(r[0]).not.toBe('0');
    expect(r[2]).toBe(true);
    const host = readHostFolder(path.join(h.dataDir, 'kernels', id), ['myid']);
    expect(host.files['myid']?.uid).not.toBe(0);
    expect(host.files['myid']?.mode).toBe(0o4755);
    expect(host.mountOptions).toEqual(expect.arrayContaining(['nosuid', 'nodev']));
  });

  it('DATA_DIR is owner-only: a new one is made 0700, an existing 0755 one is tightened', () => {
    expect(fs.statSync(h.dataDir).mode & 0o777).toBe(DATA_DIR_MODE);
    expect(DATA_DIR_MODE).toBe(0o700);
    const fresh = path.join(os.tmpdir(), `ynb-fresh-data-${randomBytes(6).toString('hex')}`, 'data');
    try {
      prepareDataDir(fresh, () => undefined);
      expect(fs.statSync(fresh).mode & 0o777).toBe(0o700);
    } finally {
      fs.rmSync(path.dirname(fresh), { recursive: true, force: true });
    }
  });
});

describe('where a limit cannot be had', () => {
  it('the state says which and why, and one file is still bounded (RLIMIT_FSIZE: EFBIG)', () => {
    const workRoot = tempDir('ynb-fallback-');
    try {
      // a launcher that cannot run stands for a machine without cgroups or loop mounts (or not root)
      const r = resolveSandbox({ mode: 'auto', memoryMb: 300, diskMb: 5 }, workRoot, () => undefined, { python: '/nonexistent/python3', launcher: LAUNCHER });
      expect(r.state).toMatchObject({ active: true, isMemoryPerKernel: false, diskMb: null, fileMaxMb: 5 });
      expect(r.state.reason).toMatch(/^memory limited per process only, not per kernel \(no memory cgroup: .+\); no disk quota on the kernel's own writes \(.+\); one file at most 5 MiB$/);
      expect(r.gatewayEnv).toMatchObject({ KG_KERNEL_MEMORY_CGROUP: '0', KG_KERNEL_DISK_QUOTA: '0', KG_KERNEL_DISK_MB: '5' });
      // the launcher with those settings, around a real command in the sandbox
      const wd = path.join(workRoot, 'nb');
      const cf = path.join(workRoot, 'connection.json');
      fs.writeFileSync(cf, '{}', { mode: 0o600 });
      const write = 'import errno\ntry:\n    open("big.bin", "wb").write(b"x" * (6 * 1024 * 1024))\n    print("written")\nexcept OSError as e:\n    print(errno.errorcode[e.errno])';
      const out = spawnSync(
        VENV_PYTHON,
        [LAUNCHER, '--sandbox', 'on', '--work-root', workRoot, '--disk-mb', '5', '--disk-quota', 'off', '--kernel-user', '65534:65534', '--', VENV_PYTHON, '-c', write, '-f', cf],
        { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', KERNEL_WORKING_DIR: wd } as unknown as NodeJS.ProcessEnv, timeout: scaled(30_000) },
      );
      expect(out.stdout.trim(), out.stderr).toBe('EFBIG');
      expect(fs.statSync(path.join(wd, 'big.bin')).size).toBe(5 * MiB);
      expect(fs.statSync(path.join(wd, 'big.bin')).uid).toBe(65534);
    } finally {
      fs.rmSync(workRoot, { recursive: true, force: true });
    }
  });
});
