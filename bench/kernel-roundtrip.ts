// Execute round trip of a trivial cell (`1`) through KernelService and the embedded gateway.
// Run: npx tsx bench/kernel-roundtrip.ts [runs]   (KERNEL_GATEWAY_URL/TOKEN to bench another gateway)
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KernelService } from '../server/kernel/index.js';

const RUNS = Number(process.argv[2] ?? 50);
const WARMUP = 5;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function benchKernelRoundtrip(runs = RUNS): Promise<{ mean: number; p50: number; p95: number; max: number }> {
  const workRoot = mkdtempSync(path.join(os.tmpdir(), 'yn-bench-kernel-'));
  const svc = await KernelService.create({
    workRoot,
    gatewayUrl: process.env.KERNEL_GATEWAY_URL,
    gatewayToken: process.env.KERNEL_GATEWAY_TOKEN,
    log: () => {},
  });
  try {
    const k = svc.kernelFor('bench');
    const noop = { onOutput: () => {} };
    for (let i = 0; i < WARMUP; i++) await k.execute('1', noop);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await k.execute('1', noop);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return {
      mean: times.reduce((a, b) => a + b, 0) / times.length,
      p50: pct(times, 50),
      p95: pct(times, 95),
      max: times[times.length - 1]!,
    };
  } finally {
    await svc.close();
    rmSync(workRoot, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('kernel-roundtrip.ts')) {
  const origDebug = console.debug;
  const origLog = console.log;
  console.debug = () => {}; // @jupyterlab/services logs every WebSocket start
  const r = await benchKernelRoundtrip();
  console.debug = origDebug;
  const f = (n: number) => `${n.toFixed(1)} ms`;
  origLog(`| benchmark | runs | mean | p50 | p95 | max |`);
  origLog(`|---|---|---|---|---|---|`);
  origLog(`| kernel execute round trip (\`1\`) | ${RUNS} | ${f(r.mean)} | ${f(r.p50)} | ${f(r.p95)} | ${f(r.max)} |`);
}
