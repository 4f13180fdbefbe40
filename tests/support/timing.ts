// One named factor for every bound a test puts on work that waits on a kernel, a server process or
// a browser. These machines are shared: a bound tuned to an idle machine fails on a busy one, so
// each bound is a generous budget (not a measurement) times TEST_TIME_SCALE (default 1; CI on a
// loaded machine may set 2 or 3). Tests never sleep a fixed time to let something happen: they
// poll for what a user would see, up to such a budget.

function readScale(): number {
  const raw = process.env.TEST_TIME_SCALE;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`TEST_TIME_SCALE must be a positive number, not "${raw}"`);
  return n;
}

export const TEST_TIME_SCALE = readScale();

/** A budget for work that waits on a kernel, a process or a browser, scaled by TEST_TIME_SCALE. */
export function scaled(ms: number): number {
  return Math.round(ms * TEST_TIME_SCALE);
}

/** Starting a kernel, running a cell, a generation's whole loop. */
export const KERNEL_MS = scaled(90_000);
/** Something a page or a peer shows once the server has it (a sync, a re-render). */
export const UI_MS = scaled(20_000);
/** One test, and one setup or teardown hook (vitest's testTimeout and hookTimeout). */
export const TEST_MS = scaled(120_000);
export const HOOK_MS = scaled(240_000);
