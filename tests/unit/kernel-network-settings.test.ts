// KERNEL_NETWORK as the server reads it and the state the UI shows for it
// (docs/decisions/0022-kernel-network-namespace.md). The probes are real: bubblewrap and
// slirp4netns as installed here (npm test installs both as root), or a path that does not exist.
import { describe, expect, it } from 'vitest';
import { readEnv } from '../../server/http/env';
import { resolveSandbox } from '../../server/kernel/sandbox';

function resolve(opts: Parameters<typeof resolveSandbox>[0]) {
  const logs: string[] = [];
  const r = resolveSandbox(opts, '/tmp/work-root', (m) => logs.push(m));
  return { ...r, logs };
}

describe('KERNEL_NETWORK', () => {
  it('defaults to internet, and names the allowed values when wrong', () => {
    expect(readEnv({ NODE_ENV: 'test' }).KERNEL_NETWORK).toBe('internet');
    expect(readEnv({ NODE_ENV: 'test', KERNEL_NETWORK: 'host' }).KERNEL_NETWORK).toBe('host');
    expect(() => readEnv({ NODE_ENV: 'test', KERNEL_NETWORK: 'yes' })).toThrow(/KERNEL_NETWORK: KERNEL_NETWORK must be internet, none or host/);
  });

  it('without the sandbox kernels share the host network, and the state says so (none still refuses)', () => {
    const off = resolve({ mode: 'off', network: 'internet' });
    expect(off.state.networkState).toMatchObject({ kind: 'host', label: 'Host network (not sandboxed)' });
    expect(off.gatewayEnv.KG_KERNEL_NETWORK).toBe('host');
    const auto = resolve({ mode: 'auto', network: 'internet', bwrapPath: '/nonexistent/bwrap' });
    expect(auto.state.networkState.kind).toBe('host');
    const none = resolve({ mode: 'off', network: 'none' });
    expect(none.state.isRefusing).toBe(true);
    expect(none.state.networkState.kind).toBe('none');
  });

  it('sandboxed (bubblewrap installed, as npm test does): internet through slirp4netns; none without it (never host); host logged as unsafe', () => {
    const internet = resolve({ mode: 'required', network: 'internet' });
    expect(internet.state.networkState).toEqual({ kind: 'internet', via: 'slirp4netns', label: 'Internet: yes via slirp4netns' });
    expect(internet.gatewayEnv).toMatchObject({ KG_KERNEL_NETWORK: 'internet', KG_KERNEL_SLIRP4NETNS: 'slirp4netns' });
    expect(internet.logs.filter((l) => l.startsWith('!!!'))).toEqual([]);

    const noSlirp = resolve({ mode: 'required', network: 'internet', slirp4netnsPath: '/nonexistent/slirp4netns' });
    expect(noSlirp.state.networkState).toMatchObject({ kind: 'none', label: 'No network' });
    expect(noSlirp.gatewayEnv.KG_KERNEL_NETWORK).toBe('none');
    expect(noSlirp.logs.some((l) => /^!!! slirp4netns not found at \/nonexistent\/slirp4netns: kernels have NO network/.test(l))).toBe(true);

    const host = resolve({ mode: 'required', network: 'host' });
    expect(host.state.networkState).toMatchObject({ kind: 'host', label: 'Host network (unsafe)' });
    expect(host.gatewayEnv.KG_KERNEL_NETWORK).toBe('host');
    expect(host.logs.some((l) => l.startsWith('!!! KERNEL_NETWORK=host'))).toBe(true);
  });
});
