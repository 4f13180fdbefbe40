// A kernel of the app's gateway driven directly with @jupyterlab/services, no Yjs, no queue: the
// baseline of the execution and flood benchmarks. It is started with the same kernel-start body as
// the product's (an explicit `env` with the working directory): the embedded gateway's sandbox does
// not start a kernel without one.
import { KernelAPI, KernelConnection, type Kernel, type ServerConnection } from '@jupyterlab/services';
import fs from 'node:fs';
import { DEFAULT_PYTHON_DIR, venvBinDir } from '../server/kernel/embedded-gateway';
import { kernelEnv, notebookWorkDir } from '../server/kernel/kernel-env';

export async function startBareKernel(settings: ServerConnection.ISettings, workRoot: string, name: string): Promise<Kernel.IKernelConnection> {
  const workDir = notebookWorkDir(workRoot, name);
  fs.mkdirSync(workDir, { recursive: true });
  const body = { env: kernelEnv(workDir, { venvBin: venvBinDir(DEFAULT_PYTHON_DIR), isLocal: true }) } as unknown as Kernel.IKernelOptions;
  const model = await KernelAPI.startNew(body, settings);
  const conn = new KernelConnection({ model, serverSettings: settings, handleComms: false });
  // wait until the kernel answers (bounded)
  const deadline = Date.now() + 60_000;
  while (conn.connectionStatus !== 'connected' || conn.status === 'starting' || conn.status === 'unknown') {
    if (conn.status === 'dead' || Date.now() > deadline) throw new Error(`bare kernel did not start (${conn.status}, ${conn.connectionStatus})`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await conn.requestKernelInfo();
  return conn;
}
