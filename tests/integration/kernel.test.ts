// server/kernel against a real Jupyter Kernel Gateway and ipykernel (kernel-gateway/.venv).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KernelError, KernelService, type KernelOutputMessage, type KernelStatus, type NotebookKernel } from '../../server/kernel/index.js';
import { createTestKernelService, silenceJupyterServicesLogs, startExternalGateway, useKernelService } from '../support/gateway.js';
import { scaled } from '../support/timing';

// Before any kernel starts: a secret in the server's environment that no kernel may see.
const FAKE_KEY = `sk-test-${randomBytes(8).toString('hex')}`;
process.env.OPENAI_API_KEY = FAKE_KEY;
silenceJupyterServicesLogs();

const kernels = useKernelService();
let nextId = 0;
/** A fresh notebook kernel per test, so tests do not share variables. */
const freshKernel = (name = 'nb'): NotebookKernel => kernels().service.kernelFor(`${name}-${++nextId}`);

async function run(k: NotebookKernel, code: string, signal?: AbortSignal) {
  const outputs: KernelOutputMessage[] = [];
  const result = await k.execute(code, { onOutput: (m) => outputs.push(m), signal });
  const stdout = outputs
    .filter((m) => m.msg_type === 'stream' && m.content.name === 'stdout')
    .map((m) => m.content.text as string)
    .join('');
  return { result, outputs, stdout };
}

function waitForStatus(k: NotebookKernel, want: KernelStatus, timeoutMs = 15_000): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`status ${want} not seen within ${timeoutMs} ms (now ${k.status})`));
    }, timeoutMs);
    const off = k.onStatus((s, detail) => {
      if (s === want) {
        clearTimeout(timer);
        off();
        resolve(detail);
      }
    });
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

describe('KernelService (real Kernel Gateway)', () => {
  it('evaluates 1+1 to an execute_result of text/plain "2"', async () => {
    const k = freshKernel();
    const { result, outputs } = await run(k, '1+1');
    expect(result).toEqual({ status: 'ok', execution_count: 1 });
    const res = outputs.find((m) => m.msg_type === 'execute_result');
    expect(res?.content.data['text/plain']).toBe('2');
    expect(res?.content.execution_count).toBe(1);
    expect(k.status).toBe('idle');
  });

  it('delivers prints in order as stream messages', async () => {
    const k = freshKernel();
    const { stdout, outputs } = await run(k, 'import sys, time\nfor i in range(5):\n    print(i)\n    sys.stdout.flush()\n    time.sleep(0.02)\nprint("done")');
    expect(stdout).toBe('0\n1\n2\n3\n4\ndone\n');
    expect(outputs.every((m) => m.msg_type === 'stream')).toBe(true);
    expect(outputs.length).toBeGreaterThan(1); // really streamed, not one message at the end
  });

  it('renders a matplotlib plot as display_data image/png', async () => {
    const k = freshKernel();
    const { result, outputs } = await run(k, 'import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title("t")\nplt.show()');
    expect(result.status).toBe('ok');
    const img = outputs.find((m) => m.msg_type === 'display_data' && m.content.data['image/png']);
    expect(img).toBeDefined();
    const png = Buffer.from(img!.content.data['image/png'] as string, 'base64');
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it('renders a pandas DataFrame as text/html with a <table', async () => {
    const k = freshKernel();
    const { outputs } = await run(k, 'import pandas as pd\npd.DataFrame({"a": [1, 2], "b": ["x", "y"]})');
    const res = outputs.find((m) => m.msg_type === 'execute_result');
    expect(res?.content.data['text/html']).toContain('<table');
    expect(res?.content.data['text/plain']).toContain('a  b');
  });

  it('turns a Python exception into an error output (not a server error)', async () => {
    const k = freshKernel();
    const { result, outputs } = await run(k, 'def f():\n    return 1/0\nf()');
    expect(result.status).toBe('error');
    const err = outputs.find((m) => m.msg_type === 'error');
    expect(err?.content.ename).toBe('ZeroDivisionError');
    expect(err?.content.evalue).toBe('division by zero');
    expect(Array.isArray(err?.content.traceback)).toBe(true);
    expect((err?.content.traceback as string[]).join('\n')).toContain('f()');
    expect((await run(k, '2+2')).result.status).toBe('ok'); // the kernel carries on
  });

  it('makes input() fail fast with StdinNotImplementedError instead of hanging', async () => {
    const k = freshKernel();
    const t0 = Date.now();
    const { result, outputs } = await run(k, 'input("name? ")');
    expect(Date.now() - t0).toBeLessThan(scaled(5_000));
    expect(result.status).toBe('error');
    expect(outputs.find((m) => m.msg_type === 'error')?.content.ename).toBe('StdinNotImplementedError');
  });

  it('interrupts `while True: pass` within seconds, and the next execute works', async () => {
    const k = freshKernel();
    await run(k, 'x = 41');
    const busy = waitForStatus(k, 'busy');
    const pending = run(k, 'while True: pass');
    await busy;
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await k.interrupt();
    const { result, outputs } = await pending;
    expect(Date.now() - t0).toBeLessThan(scaled(5_000));
    expect(result.status).toBe('error');
    expect(outputs.find((m) => m.msg_type === 'error')?.content.ename).toBe('KeyboardInterrupt');
    const next = await run(k, 'x + 1');
    expect(next.outputs.find((m) => m.msg_type === 'execute_result')?.content.data['text/plain']).toBe('42');
  });

  it('aborting the signal interrupts and resolves with status aborted', async () => {
    const k = freshKernel();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 1_500);
    const { result } = await run(k, 'import time\ntime.sleep(60)', ac.signal);
    expect(result.status).toBe('aborted');
    expect((await run(k, '1')).result.status).toBe('ok');
  });

  it('restart clears variables and keeps the working directory', async () => {
    const k = freshKernel();
    await run(k, 'secret = 123');
    await k.restart();
    expect(k.status).toBe('idle');
    const { outputs } = await run(k, 'secret');
    expect(outputs.find((m) => m.msg_type === 'error')?.content.ename).toBe('NameError');
    expect(await k.evaluateSilently('import os; print(os.getcwd())')).toBe(`${k.workDir}\n`);
  });

  it('reports a killed kernel as dead, fails the pending execute, and restart() recovers', async () => {
    const k = freshKernel();
    const pid = Number((await k.evaluateSilently('import os; print(os.getpid())')).trim());
    expect(pid).toBeGreaterThan(0);
    const busy = waitForStatus(k, 'busy');
    const dead = waitForStatus(k, 'dead', 20_000);
    const pending = run(k, 'import time\ntime.sleep(60)');
    await busy;
    process.kill(pid, 'SIGKILL');
    const err = await pending.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).code).toBe('KERNEL_DEAD');
    expect(await dead).toMatch(/died/);
    expect(k.status).toBe('dead');
    await k.restart();
    expect(k.status).toBe('idle');
    const { outputs } = await run(k, '6*7');
    expect(outputs.find((m) => m.msg_type === 'execute_result')?.content.data['text/plain']).toBe('42');
    expect(await k.evaluateSilently('import os; print(os.getcwd())')).toBe(`${k.workDir}\n`);
  });

  it('a kernel that kills itself (os.kill inside) reports dead, and the next execute starts a new one', async () => {
    const k = freshKernel();
    const err = await run(k, 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)').then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as KernelError).code).toBe('KERNEL_DEAD');
    expect(k.status).toBe('dead');
    expect((await run(k, '1+1')).result.status).toBe('ok');
  });

  it('does not bump execution_count with evaluateSilently, and returns its stdout', async () => {
    const k = freshKernel();
    expect((await run(k, '1')).result.execution_count).toBe(1);
    expect(await k.evaluateSilently('v = 5\nprint(v * 2)\nprint("ok")')).toBe('10\nok\n');
    expect((await run(k, 'v')).result.execution_count).toBe(2);
    await expect(k.evaluateSilently('raise ValueError("nope")')).rejects.toMatchObject({ code: 'EVAL_FAILED', message: 'ValueError: nope' });
    await expect(k.evaluateSilently('import time; time.sleep(5)', 500)).rejects.toMatchObject({ code: 'TIMEOUT' });
    await k.interrupt();
  });

  it('gives each notebook its own working directory, and ids cannot escape the work root', async () => {
    const { service, workRoot } = kernels();
    const a = service.kernelFor('cwd-a');
    const b = service.kernelFor('cwd-b');
    const evil = service.kernelFor('../../etc');
    const cwd = async (k: NotebookKernel) => (await k.evaluateSilently('import os; print(os.getcwd())')).trim();
    expect(await cwd(a)).toBe(path.join(workRoot, 'cwd-a'));
    expect(await cwd(b)).toBe(path.join(workRoot, 'cwd-b'));
    const evilCwd = await cwd(evil);
    expect(path.dirname(evilCwd)).toBe(workRoot);
    await run(a, 'open("only-a.txt", "w").write("hi")');
    expect(await b.evaluateSilently('import os; print(os.path.exists("only-a.txt"))')).toBe('False\n');
    expect(await a.evaluateSilently('import os; print(os.path.exists("only-a.txt"))')).toBe('True\n');
  });

  it('keeps OPENAI_API_KEY and the gateway token out of the kernel environment', async () => {
    const k = freshKernel();
    const env = JSON.parse(await k.evaluateSilently('import os, json; print(json.dumps(dict(os.environ)))')) as Record<string, string>;
    const values = Object.values(env).join('\n');
    expect(env.OPENAI_API_KEY).toBeUndefined();
    expect(env.KG_AUTH_TOKEN).toBeUndefined();
    expect(values).not.toContain(FAKE_KEY);
    const { outputs } = await run(k, 'import matplotlib; matplotlib.get_backend()');
    expect(outputs.find((m) => m.msg_type === 'execute_result')?.content.data['text/plain']).toContain('inline');
  });

  it('culls idle kernels and restarts them transparently on the next execute', async () => {
    const t = await createTestKernelService({ idleCullMs: 1_000 });
    try {
      const k = t.service.kernelFor('cull');
      await run(k, 'y = 1');
      expect(k.isRunning).toBe(true);
      const detail = await waitForStatus(k, 'idle', 10_000);
      expect(detail).toMatch(/culled/);
      expect(k.isRunning).toBe(false);
      const { outputs } = await run(k, 'y');
      expect(outputs.find((m) => m.msg_type === 'error')?.content.ename).toBe('NameError');
      expect(k.isRunning).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('restarts a crashed embedded gateway; kernels report dead, then work again', async () => {
    const t = await createTestKernelService();
    try {
      const k = t.service.kernelFor('crash');
      await run(k, 'z = 1');
      const oldPid = t.service.embeddedGatewayPid!;
      const busy = waitForStatus(k, 'busy');
      const pending = run(k, 'import time\ntime.sleep(60)');
      await busy;
      process.kill(oldPid, 'SIGKILL');
      const err = await pending.then(() => null, (e: unknown) => e);
      expect((err as KernelError).code).toBe('KERNEL_DEAD');
      expect(k.status).toBe('dead');
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          const { outputs } = await run(k, 'z');
          expect(outputs.find((m) => m.msg_type === 'error')?.content.ename).toBe('NameError');
          break;
        } catch (e) {
          if (!(e instanceof KernelError) || e.code !== 'GATEWAY_UNREACHABLE' || Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      expect(t.service.embeddedGatewayPid).not.toBe(oldPid);
      expect(t.logs.join('\n')).toMatch(/exited unexpectedly/);
    } finally {
      await t.close();
    }
  });

  it('fails fast with GATEWAY_UNREACHABLE on a wrong gateway URL', async () => {
    const port = await freePort(); // nothing listens there
    const workRoot = mkdtempSync(path.join(os.tmpdir(), 'yn-kernel-unreach-'));
    const svc = await KernelService.create({ gatewayUrl: `http://127.0.0.1:${port}`, workRoot, log: () => {} });
    try {
      const k = svc.kernelFor('x');
      const t0 = Date.now();
      const err = await k.execute('1', { onOutput: () => {} }).then(() => null, (e: unknown) => e);
      expect(Date.now() - t0).toBeLessThan(scaled(5_000));
      expect(err).toBeInstanceOf(KernelError);
      expect((err as KernelError).code).toBe('GATEWAY_UNREACHABLE');
      expect((err as KernelError).message).toContain(`127.0.0.1:${port}`);
      expect(k.status).toBe('unreachable');
    } finally {
      await svc.close();
      rmSync(workRoot, { recursive: true, force: true });
    }
  });

  it('uses an external gateway (start.sh) and still keeps its secrets from the kernel', async () => {
    // The gateway process itself holds secrets here, as a careless deployment would.
    const gw = await startExternalGateway({ OPENAI_API_KEY: FAKE_KEY, DATABASE_URL: 'postgres://secret' });
    const workRoot = mkdtempSync(path.join(os.tmpdir(), 'yn-kernel-ext-'));
    try {
      const bad = await KernelService.create({ gatewayUrl: gw.url, gatewayToken: 'wrong', workRoot, log: () => {} });
      const authErr = await bad.kernelFor('a').execute('1', { onOutput: () => {} }).then(() => null, (e: unknown) => e);
      expect((authErr as KernelError).code).toBe('GATEWAY_AUTH_FAILED');
      await bad.close();

      const svc = await KernelService.create({ gatewayUrl: gw.url, gatewayToken: gw.token, workRoot, log: () => {} });
      try {
        const k = svc.kernelFor('ext');
        const env = JSON.parse(await k.evaluateSilently('import os, json; print(json.dumps(dict(os.environ)))')) as Record<string, string>;
        expect(env.OPENAI_API_KEY).toBeUndefined();
        expect(env.DATABASE_URL).toBeUndefined();
        expect(env.KG_AUTH_TOKEN).toBeUndefined();
        expect(Object.values(env).join('\n')).not.toContain(gw.token);
        // the working directory is on the gateway's side, under where it starts kernels, not in our work root
        expect(await k.evaluateSilently('import os; print(os.getcwd())')).toBe(`${path.join(gw.root, 'notebooks', 'ext')}\n`);
      } finally {
        await svc.close();
      }
    } finally {
      await gw.stop();
      rmSync(workRoot, { recursive: true, force: true });
    }
  });
});
