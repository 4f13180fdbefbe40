import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('embedded gateway lifecycle', () => {
  it('stops by itself when the server that started it is killed with SIGKILL', async () => {
    const server = spawn(process.execPath, ['--import', 'tsx', path.resolve('tests/support/kernel-service-process.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (d) => {
        out += d;
        const m = /gateway pid (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      server.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    expect(isAlive(pid)).toBe(true);
    server.kill('SIGKILL');
    const deadline = Date.now() + 15_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(isAlive(pid)).toBe(false);
  });
});
