// What a kernel is allowed to see of the server: an explicit allow-list, never process.env.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { KernelError } from './errors.js';

const SAFE_NOTEBOOK_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const SYSTEM_PATH = ['/usr/local/bin', '/usr/bin', '/bin'];

/**
 * Directory name for a notebook id. Ids that are already safe are used as they are; anything
 * else (`../../etc`, slashes, dots, unicode) becomes a readable slug plus a hash, so two ids never
 * share a directory and none can leave workRoot.
 */
export function notebookDirName(notebookId: string): string {
  if (SAFE_NOTEBOOK_ID.test(notebookId)) return notebookId;
  const slug = notebookId.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^[_-]+/, '').slice(0, 64);
  const hash = createHash('sha256').update(notebookId).digest('hex').slice(0, 12);
  return slug ? `${slug}-${hash}` : `nb-${hash}`;
}

export function notebookWorkDir(workRoot: string, notebookId: string): string {
  if (typeof notebookId !== 'string' || notebookId.length === 0) {
    throw new KernelError('KERNEL_START_FAILED', 'notebook id must be a non-empty string');
  }
  const root = path.resolve(workRoot);
  const dir = path.resolve(root, notebookDirName(notebookId));
  if (path.dirname(dir) !== root) {
    throw new KernelError('KERNEL_START_FAILED', `notebook id ${JSON.stringify(notebookId)} does not map inside the work root`);
  }
  return dir;
}

/**
 * Working directory on an external gateway's host: under `root` (an absolute path of that host)
 * when given, else relative to the directory the gateway starts kernels in.
 */
export function remoteNotebookWorkDir(notebookId: string, root?: string): string {
  return root ? path.posix.join(root, notebookDirName(notebookId)) : `notebooks/${notebookDirName(notebookId)}`;
}

export interface KernelEnvOptions {
  /** bin directory of the Python environment the (embedded) gateway runs kernels from. */
  venvBin?: string;
  /** true when the gateway shares our machine (embedded): host paths such as HOME make sense. */
  isLocal: boolean;
  /** KERNEL_USERNAME (Enterprise Gateway runs the kernel as, or labels it with, this user) */
  username?: string;
  /** extra KERNEL_* variables (Enterprise Gateway's kernel start options); never secrets of ours */
  extra?: Record<string, string>;
}

/**
 * The `env` of the kernel-start request. Kernel Gateway copies only PATH plus allow-listed keys
 * (gateway_config.py `env_whitelist`) and KERNEL_* keys; we send no secret in the first place.
 * MPLBACKEND is deliberately absent so ipykernel selects the inline backend (image/png outputs).
 */
export function kernelEnv(workDir: string, opts: KernelEnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    PYTHONUNBUFFERED: '1',
    ...opts.extra,
    KERNEL_USERNAME: opts.username ?? 'ynotebook',
  };
  // Enterprise Gateway's convention for the kernel's working directory (ignored by Kernel Gateway);
  // only a path of the kernel's own host makes sense there.
  if (path.isAbsolute(workDir)) env.KERNEL_WORKING_DIR = workDir;
  if (opts.isLocal) {
    env.PATH = [...(opts.venvBin ? [opts.venvBin] : []), ...SYSTEM_PATH].join(path.delimiter);
    env.HOME = process.env.HOME ?? workDir;
    if (process.env.TZ) env.TZ = process.env.TZ;
  }
  return env;
}
