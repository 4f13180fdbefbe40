// Whether and how the embedded gateway's kernels are sandboxed and limited: the settings, the one
// probe at gateway start, and the state the UI shows ("not sandboxed"). The sandbox itself is
// kernel-gateway/kernel_launcher.py (bubblewrap); see docs/decisions/0009-kernel-sandbox.md.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';

export type SandboxMode = 'auto' | 'required' | 'off';
export type KernelNetwork = 'host' | 'none';

/** Memory (address space) one kernel may use, in MiB. */
export const DEFAULT_KERNEL_MEMORY_MB = 2048;
/** Processes and threads one kernel may have at once (pids cgroup, where it can be created). */
export const DEFAULT_KERNEL_PIDS_MAX = 256;
/** Size of the kernel's private /tmp and of its private HOME (each a tmpfs, so RAM), in MiB. */
export const DEFAULT_KERNEL_TMP_MB = 512;
const PROBE_TIMEOUT_MS = 10_000;
const CGROUP_V1_PIDS = '/sys/fs/cgroup/pids';

export interface KernelSandboxOptions {
  /** `auto` (default for the app): bubblewrap when it works, else unsandboxed with a loud log line. */
  mode?: SandboxMode;
  /** 0 = no limit */
  memoryMb?: number;
  /** 0 = no limit */
  pidsMax?: number;
  tmpMb?: number;
  /** `none`: kernels get no network of their own (they reach the gateway over ipc sockets); needs the sandbox. */
  network?: KernelNetwork;
  /** the bubblewrap executable; tests point it at a missing path to simulate a machine without it */
  bwrapPath?: string;
}

/** What the UI shows: are this server's kernels sandboxed, and if not, why. */
export interface SandboxState {
  mode: SandboxMode;
  /** true when every kernel of this service runs under bubblewrap */
  active: boolean;
  /** why not (when `active` is false), or a note on a limit that could not be applied */
  reason?: string;
  /** per-kernel address-space limit in MiB, null when none */
  memoryMb: number | null;
  /** per-kernel process limit, null when it cannot be applied on this machine */
  pidsMax: number | null;
  network: KernelNetwork;
  /** true when kernels may not start at all (mode `required` and no working bubblewrap) */
  isRefusing: boolean;
}

export interface ResolvedSandbox {
  state: SandboxState;
  /** environment for the embedded gateway (gateway_config.py reads it) */
  gatewayEnv: Record<string, string>;
}

/** Runs the probe that decides `auto`: can bubblewrap make a PID namespace here? */
export function probeBubblewrap(bwrapPath: string): { ok: true } | { ok: false; reason: string } {
  if (bwrapPath.includes('/') && !existsSync(bwrapPath)) return { ok: false, reason: `bubblewrap not found at ${bwrapPath}` };
  const r = spawnSync(bwrapPath, ['--unshare-pid', '--die-with-parent', '--ro-bind', '/', '/', 'true'], {
    timeout: PROBE_TIMEOUT_MS,
    encoding: 'utf8',
    env: { PATH: '/usr/local/bin:/usr/bin:/bin' } as unknown as NodeJS.ProcessEnv,
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? 'bubblewrap (bwrap) is not installed' : `bubblewrap could not run: ${r.error.message}` };
  }
  if (r.status !== 0) return { ok: false, reason: `bubblewrap cannot create a sandbox here (exit ${r.status}): ${(r.stderr || '').trim().slice(0, 300)}` };
  return { ok: true };
}

function canUsePidsCgroup(): boolean {
  try {
    accessSync(CGROUP_V1_PIDS, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export function resolveSandbox(opts: KernelSandboxOptions | undefined, workRoot: string, log: (m: string) => void): ResolvedSandbox {
  const mode = opts?.mode ?? 'off';
  const memoryMb = opts?.memoryMb ?? DEFAULT_KERNEL_MEMORY_MB;
  const requestedPids = opts?.pidsMax ?? DEFAULT_KERNEL_PIDS_MAX;
  const tmpMb = opts?.tmpMb ?? DEFAULT_KERNEL_TMP_MB;
  const network = opts?.network ?? 'host';
  const bwrapPath = opts?.bwrapPath ?? 'bwrap';
  const notes: string[] = [];

  let active = false;
  let reason: string | undefined;
  let isRefusing = false;
  if (mode === 'off') {
    reason = 'KERNEL_SANDBOX=off';
    log('KERNEL_SANDBOX=off: kernels run WITHOUT a sandbox (they can read what this server can read)');
  } else {
    const probe = probeBubblewrap(bwrapPath);
    if (probe.ok) {
      active = true;
    } else if (mode === 'required') {
      isRefusing = true;
      reason = `${probe.reason}; KERNEL_SANDBOX=required, so no kernel will start (install Debian's bubblewrap package, or set KERNEL_SANDBOX=auto)`;
      log(`!!! ${reason}`);
    } else {
      reason = probe.reason;
      log(`!!! KERNELS ARE NOT SANDBOXED: ${probe.reason}. Kernel code can read everything this server can (install Debian's bubblewrap package; KERNEL_SANDBOX=required refuses to run without it)`);
    }
  }
  const pidsMax = requestedPids > 0 && canUsePidsCgroup() ? requestedPids : null;
  if (requestedPids > 0 && pidsMax === null) notes.push(`no per-kernel process limit (${CGROUP_V1_PIDS} is not writable here)`);
  if (notes.length) log(notes.join('; '));
  if (network === 'none' && !active && !isRefusing && mode !== 'off') {
    // no sandbox, no network namespace: refuse rather than run kernels with the network they must not have
    isRefusing = true;
    reason = `KERNEL_NETWORK=none needs the sandbox, which cannot run here (${reason})`;
    log(`!!! ${reason}; no kernel will start`);
  } else if (network === 'none' && mode === 'off') {
    isRefusing = true;
    reason = 'KERNEL_NETWORK=none needs the sandbox, but KERNEL_SANDBOX=off';
    log(`!!! ${reason}; no kernel will start`);
  }

  const gatewayEnv: Record<string, string> = {
    KG_KERNEL_LAUNCHER: '1',
    KG_SANDBOX: active ? 'on' : 'off',
    KG_SANDBOX_BWRAP: bwrapPath,
    KG_WORK_ROOT: workRoot,
    KG_KERNEL_MEMORY_MB: String(memoryMb > 0 ? Math.floor(memoryMb) : 0),
    KG_KERNEL_PIDS_MAX: String(pidsMax ?? 0),
    KG_KERNEL_TMP_MB: String(Math.max(1, Math.floor(tmpMb))),
    KG_KERNEL_NETWORK: network,
  };
  return {
    state: {
      mode,
      active,
      ...(reason || notes.length ? { reason: [reason, ...notes].filter(Boolean).join('; ') } : {}),
      memoryMb: memoryMb > 0 ? memoryMb : null,
      pidsMax,
      network,
      isRefusing,
    },
    gatewayEnv,
  };
}
