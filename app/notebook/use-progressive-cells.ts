// How many cells of a newly arrived list to render: the first screen's worth at once, then the rest
// a step at a time, appended below, so a thousand-cell notebook shows its first cells without
// waiting for all of them (docs/decisions/0017-open-benchmark.md).
import { startTransition, useEffect, useState } from 'react';

/** Cells rendered in the first paint of a newly arrived list. */
export const FIRST_PAINT_CELLS = 40;
/** Cells appended per later step (one task each). */
export const RENDER_STEP_CELLS = 100;

/** How many of `total` cells to render now: Infinity once a generation's list was rendered whole. */
export function useRenderedCount(total: number, generation: number): number {
  const [state, setState] = useState({ generation, count: FIRST_PAINT_CELLS });
  const count = state.generation === generation ? state.count : FIRST_PAINT_CELLS;
  useEffect(() => {
    if (count === Infinity) return;
    if (count >= total) {
      setState({ generation, count: Infinity });
      return;
    }
    const next = count + RENDER_STEP_CELLS;
    // a transition: React renders it in slices, and a click or a keystroke goes first
    const timer = setTimeout(() => startTransition(() => setState({ generation, count: next >= total ? Infinity : next })), 0);
    return () => clearTimeout(timer);
  }, [count, total, generation]);
  return count;
}
