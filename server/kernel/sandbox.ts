// Whether and how the embedded gateway's kernels are sandboxed and limited: the settings, the one
// probe at gateway start, and the state the UI shows ("not sandboxed"). The sandbox itself is
// kernel-gateway/kernel_launcher.py (bubblewrap); see docs/decisions/0009-kernel-sandbox.md.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';

export type SandboxMode = 'auto' | 'required' | 'off';

/** Where the embedded gateway's kernel launcher is: it probes what of the per-kernel limits works here. */
export interface LauncherPaths {
  python: string;
  launcher: string;
}
/**
 * `internet` (default): a network namespace of its own, outbound connections through slirp4netns,
 * the host's loopback and addresses unreachable. `none`: the namespace with only its own loopback.
 * `host`: the host's network (an explicit, unsafe opt-out). See docs/decisions/0022-kernel-network-namespace.md.
 */
export type KernelNetwork = 'internet' | 'none' | 'host';
export const DEFAULT_KERNEL_NETWORK: KernelNetwork = 'internet';

/** Memory one kernel may use, in MiB: it and its children together (memory cgroup), and each process's address space. */
export const DEFAULT_KERNEL_MEMORY_MB = 2048;
/**
 * The unprivileged user (uid:gid) sandboxed kernels run as when the server is root: nobody:nogroup,
 * which owns nothing on a Debian host. Files a kernel makes are never root's.
 */
export const DEFAULT_KERNEL_USER = '65534:65534';
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
  /** the working directory's quota in MiB (FILES_QUOTA_MB): a file system of that size per notebook where it can be mounted; 0 = none */
  diskMb?: number;
  /** uid:gid sandboxed kernels run as (when the server is root); default DEFAULT_KERNEL_USER */
  kernelUser?: string;
  /** the kernels' network (default `internet`); `none` and `internet` need the sandbox */
  network?: KernelNetwork;
  /** the bubblewrap executable; tests point it at a missing path to simulate a machine without it */
  bwrapPath?: string;
  /** the user-mode networking tool behind `internet`; tests point it at a missing path */
  slirp4netnsPath?: string;
}

/** What kernels of this service actually get as network, and the one line the UI shows for it. */
export interface KernelNetworkState {
  /** `internet`: own namespace with outbound connections; `none`: own namespace, only its own loopback; `host`: this machine's network */
  kind: 'internet' | 'none' | 'host';
  /** what carries `internet` */
  via?: 'slirp4netns';
  /** e.g. "Internet: yes via slirp4netns", "No network", "Host network (unsafe)" */
  label: string;
  /** why it is not what KERNEL_NETWORK asked for, or why it is unsafe */
  reason?: string;
}

/** What the UI shows: are this server's kernels sandboxed, and if not, why. */
export interface SandboxState {
  mode: SandboxMode;
  /** true when every kernel of this service runs under bubblewrap */
  active: boolean;
  /** why not (when `active` is false), or a note on a limit that could not be applied */
  reason?: string;
  /** per-kernel memory limit in MiB, null when none */
  memoryMb: number | null;
  /** true when memoryMb bounds a kernel and all its children together (a memory cgroup); false: each process on its own (RLIMIT_AS) */
  isMemoryPerKernel: boolean;
  /** the working directory's quota in MiB, enforced on the kernel's own writes (a file system of that size); null when there is none (then `fileMaxMb`) */
  diskMb: number | null;
  /** without diskMb: the largest file a kernel may write, in MiB (RLIMIT_FSIZE), null when none */
  fileMaxMb: number | null;
  /** the uid kernels run as on this host (never 0 when the sandbox is active and the server is root) */
  kernelUid: number;
  /** per-kernel process limit, null when it cannot be applied on this machine */
  pidsMax: number | null;
  /** KERNEL_NETWORK as asked for */
  network: KernelNetwork;
  /** what the kernels get (it differs from `network` without the sandbox or without slirp4netns) */
  networkState: KernelNetworkState;
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

/** Can slirp4netns run here (the `internet` network)? */
export function probeSlirp4netns(slirpPath: string): { ok: true } | { ok: false; reason: string } {
  if (slirpPath.includes('/') && !existsSync(slirpPath)) return { ok: false, reason: `slirp4netns not found at ${slirpPath}` };
  const r = spawnSync(slirpPath, ['--version'], { timeout: PROBE_TIMEOUT_MS, encoding: 'utf8', env: { PATH: '/usr/local/bin:/usr/bin:/bin' } as unknown as NodeJS.ProcessEnv });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? 'slirp4netns is not installed' : `slirp4netns could not run: ${r.error.message}` };
  }
  if (r.status !== 0) return { ok: false, reason: `slirp4netns --version failed (exit ${r.status})` };
  return { ok: true };
}

/**
 * The network kernels get. Only a sandboxed kernel can have a namespace of its own; `internet`
 * degrades to `none` (never to `host`) when slirp4netns cannot run.
 */
function resolveNetwork(
  network: KernelNetwork,
  isSandboxed: boolean,
  slirpPath: string,
  log: (m: string) => void,
): KernelNetworkState {
  if (!isSandboxed) {
    return { kind: 'host', label: 'Host network (not sandboxed)', reason: "kernels are not sandboxed, so they share this machine's network" };
  }
  if (network === 'host') {
    const reason = "KERNEL_NETWORK=host: kernels share this machine's network (they can listen on and connect to its loopback: the app, the gateway, other kernels' ports)";
    log(`!!! ${reason}. Unset it for a network namespace per kernel`);
    return { kind: 'host', label: 'Host network (unsafe)', reason };
  }
  if (network === 'none') return { kind: 'none', label: 'No network' };
  const probe = probeSlirp4netns(slirpPath);
  if (probe.ok) return { kind: 'internet', via: 'slirp4netns', label: 'Internet: yes via slirp4netns' };
  const reason = `${probe.reason}: kernels have NO network (install Debian's slirp4netns package for outbound internet)`;
  log(`!!! ${reason}`);
  return { kind: 'none', label: 'No network', reason };
}

function canUsePidsCgroup(): boolean {
  try {
    accessSync(CGROUP_V1_PIDS, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** What of the per-kernel limits the launcher can apply here: null where it can, else why not. */
export interface KernelLimitsProbe {
  memoryCgroup: string | null;
  disk: string | null;
}

/**
 * Asks the kernel launcher itself (the code that applies them at each kernel start) whether a
 * memory cgroup can be made and a file system mounted per notebook, once at gateway start.
 */
export function probeKernelLimits(paths: LauncherPaths, memoryMb: number): KernelLimitsProbe {
  const r = spawnSync(paths.python, [paths.launcher, '--probe', '--memory-mb', String(memoryMb)], {
    timeout: PROBE_TIMEOUT_MS,
    encoding: 'utf8',
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } as unknown as NodeJS.ProcessEnv,
  });
  const failed = (why: string): KernelLimitsProbe => ({ memoryCgroup: why, disk: why });
  if (r.error) return failed(`the kernel launcher could not run: ${r.error.message}`);
  try {
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
    const field = (v: unknown) => (v === null ? null : String(v));
    return { memoryCgroup: field(out.memoryCgroup), disk: field(out.disk) };
  } catch {
    return failed(`the kernel launcher's probe failed (exit ${r.status}): ${(r.stderr || '').trim().slice(0, 300)}`);
  }
}

/** Parses KERNEL_USER (`uid:gid`); root is refused: the point is that kernels are not root. */
export function parseKernelUser(value: string): { uid: number; gid: number } {
  const m = /^(\d{1,10}):(\d{1,10})$/.exec(value.trim());
  if (!m) throw new Error(`KERNEL_USER must be uid:gid (numbers), not ${JSON.stringify(value)}`);
  const uid = Number(m[1]);
  const gid = Number(m[2]);
  if (uid === 0 || gid === 0) throw new Error('KERNEL_USER must not be root (uid or gid 0)');
  return { uid, gid };
}

export function resolveSandbox(opts: KernelSandboxOptions | undefined, workRoot: string, log: (m: string) => void, launcher?: LauncherPaths): ResolvedSandbox {
  const mode = opts?.mode ?? 'off';
  const memoryMb = opts?.memoryMb ?? DEFAULT_KERNEL_MEMORY_MB;
  const requestedPids = opts?.pidsMax ?? DEFAULT_KERNEL_PIDS_MAX;
  const tmpMb = opts?.tmpMb ?? DEFAULT_KERNEL_TMP_MB;
  const network = opts?.network ?? DEFAULT_KERNEL_NETWORK;
  const bwrapPath = opts?.bwrapPath ?? 'bwrap';
  const slirpPath = opts?.slirp4netnsPath ?? 'slirp4netns';
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
  // resources per kernel (docs/decisions/0023-kernel-resources.md)
  const requestedDisk = Math.max(0, Math.floor(opts?.diskMb ?? 0));
  // (no kernel starts when refusing: nothing to probe or to say about limits)
  const isProbed = Boolean(launcher) && !isRefusing;
  const limits = isProbed ? probeKernelLimits(launcher!, memoryMb) : { memoryCgroup: 'not probed', disk: 'not probed' };
  const isMemoryPerKernel = memoryMb > 0 && limits.memoryCgroup === null;
  if (memoryMb > 0 && !isMemoryPerKernel && isProbed) notes.push(`memory limited per process only, not per kernel (no memory cgroup: ${limits.memoryCgroup})`);
  const diskMb = requestedDisk > 0 && limits.disk === null ? requestedDisk : null;
  if (requestedDisk > 0 && diskMb === null && isProbed) notes.push(`no disk quota on the kernel's own writes (${limits.disk}); one file at most ${requestedDisk} MiB`);
  const serverUid = process.getuid?.() ?? -1;
  const user = active && serverUid === 0 ? parseKernelUser(opts?.kernelUser ?? DEFAULT_KERNEL_USER) : null;
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

  const networkState: KernelNetworkState = isRefusing ? { kind: 'none', label: 'No network', reason: 'no kernel starts' } : resolveNetwork(network, active, slirpPath, log);

  const gatewayEnv: Record<string, string> = {
    KG_KERNEL_LAUNCHER: '1',
    KG_SANDBOX: active ? 'on' : 'off',
    KG_SANDBOX_BWRAP: bwrapPath,
    KG_WORK_ROOT: workRoot,
    KG_KERNEL_MEMORY_MB: String(memoryMb > 0 ? Math.floor(memoryMb) : 0),
    KG_KERNEL_PIDS_MAX: String(pidsMax ?? 0),
    KG_KERNEL_TMP_MB: String(Math.max(1, Math.floor(tmpMb))),
    // what the kernels get: `none` when `internet` cannot be had, `host` without the sandbox
    KG_KERNEL_NETWORK: networkState.kind,
    KG_KERNEL_SLIRP4NETNS: slirpPath,
    KG_KERNEL_MEMORY_CGROUP: isMemoryPerKernel ? '1' : '0',
    KG_KERNEL_DISK_MB: String(requestedDisk),
    KG_KERNEL_DISK_QUOTA: diskMb !== null ? '1' : '0',
    KG_KERNEL_USER: user ? `${user.uid}:${user.gid}` : '',
  };
  return {
    state: {
      mode,
      active,
      ...(reason || notes.length ? { reason: [reason, ...notes].filter(Boolean).join('; ') } : {}),
      memoryMb: memoryMb > 0 ? memoryMb : null,
      isMemoryPerKernel,
      diskMb,
      fileMaxMb: diskMb === null && requestedDisk > 0 ? requestedDisk : null,
      kernelUid: user ? user.uid : serverUid,
      pidsMax,
      network,
      networkState,
      isRefusing,
    },
    gatewayEnv,
  };
}
