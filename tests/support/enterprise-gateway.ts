// Test helper: a real Jupyter Enterprise Gateway (PyPI's jupyter_enterprise_gateway, locked in
// enterprise-gateway/requirements.lock) with its local process proxy, as a separate process with
// its own root, the way a deployment points KERNEL_GATEWAY_URL at one. Its kernelspec runs
// ipykernel from kernel-gateway/.venv (pandas, matplotlib...), under a name of its own so the tests
// exercise KERNEL_SPEC.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, type ExternalGateway } from './gateway.js';

const REPO = path.resolve(import.meta.dirname, '../..');
export const EG_KERNEL_SPEC = 'ynotebook_local';

export interface EnterpriseGateway extends ExternalGateway {
  /** what the gateway printed (its log), for assertions and failure messages */
  output(): string;
}

/** Creates enterprise-gateway/.venv from its hashed lock when missing (idempotent, like npm start's). */
export function ensureEnterpriseGatewayEnv(): string {
  const r = spawnSync(process.execPath, [path.join(REPO, 'scripts/setup-python.mjs'), '--dir', path.join(REPO, 'enterprise-gateway')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`could not prepare enterprise-gateway/.venv:\n${r.stdout}\n${r.stderr}`);
  return path.join(REPO, 'enterprise-gateway/.venv/bin/jupyter');
}

export async function startEnterpriseGateway(): Promise<EnterpriseGateway> {
  const jupyter = ensureEnterpriseGatewayEnv();
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const root = mkdtempSync(path.join(os.tmpdir(), 'yn-eg-'));
  const specDir = path.join(root, 'share/jupyter/kernels', EG_KERNEL_SPEC);
  mkdirSync(specDir, { recursive: true });
  writeFileSync(
    path.join(specDir, 'kernel.json'),
    JSON.stringify({
      argv: [path.join(REPO, 'kernel-gateway/.venv/bin/python'), '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
      display_name: 'Python 3 (ynotebook, local process proxy)',
      language: 'python',
      metadata: { process_proxy: { class_name: 'enterprise_gateway.services.processproxies.processproxy.LocalProcessProxy' } },
    }),
  );
  let log = '';
  const gw = spawn(
    jupyter,
    [
      'enterprisegateway',
      '--ip=127.0.0.1',
      `--port=${port}`,
      `--EnterpriseGatewayApp.auth_token=${token}`,
      // lets a test (and an operator) see which kernels run and of which kernelspec
      '--EnterpriseGatewayApp.list_kernels=True',
      // only our kernelspec: a start that names no kernelspec (or another one) fails
      `--KernelSpecManager.whitelist=${JSON.stringify([EG_KERNEL_SPEC])}`,
    ],
    {
      cwd: root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, JUPYTER_PATH: path.join(root, 'share/jupyter'), JUPYTER_RUNTIME_DIR: path.join(root, 'runtime'), JUPYTER_CONFIG_DIR: path.join(REPO, 'enterprise-gateway') } as unknown as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const keep = (b: Buffer) => {
    log = (log + b.toString()).slice(-200_000);
  };
  gw.stdout.on('data', keep);
  gw.stderr.on('data', keep);
  const exited = new Promise((r) => gw.once('exit', r));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${url}/api/kernelspecs`, { headers: { Authorization: `token ${token}` } }).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline || gw.exitCode !== null) {
      gw.kill('SIGKILL');
      throw new Error(`Enterprise Gateway did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    token,
    root,
    output: () => log,
    async stop() {
      if (gw.exitCode === null) gw.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (gw.exitCode === null) gw.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    },
  };
}
