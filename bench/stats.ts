// Shared helpers of the benchmarks: percentiles, formatting, a cross-process clock.

export interface Summary {
  n: number;
  median: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
}

/** Nearest-rank percentiles (p in 0..1) of a sample; NaN everywhere for an empty one. */
export function summarize(samples: number[]): Summary {
  const s = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return { n: 0, median: NaN, p95: NaN, p99: NaN, mean: NaN, max: NaN };
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { n: s.length, median: at(0.5), p95: at(0.95), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length, max: s[s.length - 1] };
}

/**
 * Milliseconds on CLOCK_MONOTONIC: the same clock in every process of this machine, so a time
 * taken in the typist's process and one taken in a reader's process can be subtracted.
 */
export const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export const ms = (n: number, digits = 1): string => (Number.isFinite(n) ? `${n.toFixed(digits)} ms` : '–');
export const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '–');
export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
export const kb = (bytes: number): string => `${(bytes / 1e3).toFixed(0)} kB`;
export const sleep = (t: number) => new Promise<void>((r) => setTimeout(r, t));

export function table(head: string[], rows: (string | number)[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Quiets @jupyterlab/services' and the kernel layer's chatter on the console while `fn` runs. */
export async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const { log, debug } = console;
  const isChatter = (a: unknown[]) => /^(Starting WebSocket|Kernel: )/.test(String(a[0]));
  console.log = (...a: unknown[]) => (isChatter(a) ? undefined : log(...a));
  console.debug = () => undefined;
  try {
    return await fn();
  } finally {
    console.log = log;
    console.debug = debug;
  }
}
