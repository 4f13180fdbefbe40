// The settings for kernels on an external gateway (Enterprise Gateway): checked at boot, with a
// message naming the variable; what the start request then carries.
import { describe, expect, it } from 'vitest';
import { EnvError, readEnv } from '../../server/http/env';
import { kernelEnv, remoteNotebookWorkDir } from '../../server/kernel/kernel-env';

const base = { DATA_DIR: '/tmp/x', NODE_ENV: 'test' } as const;
const bootError = (extra: Record<string, string>) => {
  try {
    readEnv({ ...base, ...extra });
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(EnvError);
    return (err as Error).message;
  }
};

describe('external gateway kernel settings', () => {
  it('defaults: no kernelspec named, user ynotebook, notebooks/<id> under where the gateway starts kernels', () => {
    const env = readEnv(base);
    expect(env.KERNEL_SPEC).toBeUndefined();
    expect(env.KERNEL_USERNAME).toBe('ynotebook');
    expect(env.KERNEL_START_ENV).toEqual({});
    expect(remoteNotebookWorkDir('abc')).toBe('notebooks/abc');
  });

  it('accepts EG options and puts them in the start request', () => {
    const env = readEnv({
      ...base,
      KERNEL_SPEC: 'python_kubernetes',
      KERNEL_USERNAME: 'alice@example.org',
      KERNEL_WORKDIR_ROOT: '/home/jovyan/work',
      KERNEL_START_ENV: '{"KERNEL_NAMESPACE":"notebooks","KERNEL_IMAGE":"elyra/kernel-py:3.2.3"}',
    });
    const dir = remoteNotebookWorkDir('abc', env.KERNEL_WORKDIR_ROOT);
    expect(dir).toBe('/home/jovyan/work/abc');
    const startEnv = kernelEnv(dir, { isLocal: false, username: env.KERNEL_USERNAME, extra: env.KERNEL_START_ENV });
    expect(startEnv).toMatchObject({
      KERNEL_USERNAME: 'alice@example.org',
      KERNEL_WORKING_DIR: '/home/jovyan/work/abc',
      KERNEL_NAMESPACE: 'notebooks',
      KERNEL_IMAGE: 'elyra/kernel-py:3.2.3',
    });
    // nothing of the host: no PATH or HOME of this server on a remote kernel
    expect(startEnv.PATH).toBeUndefined();
    expect(startEnv.HOME).toBeUndefined();
  });

  it('an id that is not a safe name still maps to one directory under the root', () => {
    expect(remoteNotebookWorkDir('../../etc', '/srv/work')).toMatch(/^\/srv\/work\/etc-[0-9a-f]{12}$/);
  });

  it('refuses bad values at boot, naming the variable', () => {
    expect(bootError({ KERNEL_SPEC: 'python 3; rm' })).toContain('KERNEL_SPEC');
    expect(bootError({ KERNEL_USERNAME: '../root' })).toContain('KERNEL_USERNAME');
    expect(bootError({ KERNEL_WORKDIR_ROOT: 'relative/dir' })).toContain('KERNEL_WORKDIR_ROOT');
    expect(bootError({ KERNEL_START_ENV: '{not json' })).toContain('KERNEL_START_ENV must be a JSON object');
    expect(bootError({ KERNEL_START_ENV: '["KERNEL_A"]' })).toContain('KERNEL_START_ENV');
    expect(bootError({ KERNEL_START_ENV: '{"OPENAI_API_KEY":"x"}' })).toContain('OPENAI_API_KEY must be a KERNEL_* name');
    expect(bootError({ KERNEL_START_ENV: '{"KERNEL_X":1}' })).toContain('KERNEL_X must be a KERNEL_* name with a string value');
  });
});
