// Outputs of a code cell, its execution count and its run state, read straight from the cell map
// (the server's kernel service writes them). Rendering is OutputArea's (outputs/output-area.tsx).
import { memo, useEffect, useState } from 'react';
import type * as Y from 'yjs';
import { cellOutputs, outputsToJSON, type YCell, type YOutput } from '../../common/notebook/model';
import type { ExecutionState, Output } from '../../common/notebook/types';
import { useYMapValue } from '~/notebook/use-cells';
import { OutputArea } from './outputs/output-area';

/**
 * The cell's outputs as plain nbformat objects. Streams are Y.Maps whose text grows a chunk at a
 * time, so this observes deeply and re-renders at most once per frame; OutputView skips outputs
 * that did not change, so a growing stream re-renders one <pre>, not the whole area.
 */
function useOutputs(array: Y.Array<YOutput> | undefined): Output[] {
  const [outputs, setOutputs] = useState<Output[]>(() => outputsToJSON(array));
  useEffect(() => {
    // (a cell with no outputs keeps the same empty list: no second render per cell on open)
    setOutputs((prev) => {
      const next = outputsToJSON(array);
      return prev.length === 0 && next.length === 0 ? prev : next;
    });
    if (!array) return;
    let frame = 0;
    const refresh = () => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        setOutputs(outputsToJSON(array));
      });
    };
    array.observeDeep(refresh);
    return () => {
      array.unobserveDeep(refresh);
      if (frame) cancelAnimationFrame(frame);
    };
  }, [array]);
  return outputs;
}

export const CellOutputs = memo(function CellOutputs({ cell }: { cell: YCell }) {
  const outputs = useOutputs(useYMapValue<Y.Array<YOutput>>(cell, 'outputs') ?? cellOutputs(cell));
  if (outputs.length === 0) return null;
  return (
    <div className="cell-outputs" data-testid="cell-outputs">
      <OutputArea outputs={outputs} />
    </div>
  );
});

/** `[n]:` in the gutter; `[*]:` while running and `[ ]:` while queued. */
export const ExecutionCount = memo(function ExecutionCount({ cell }: { cell: YCell }) {
  const count = useYMapValue<number | null>(cell, 'execution_count');
  const state = useYMapValue<ExecutionState>(cell, 'execution_state');
  const label = state?.state === 'running' ? '*' : state?.state === 'queued' ? ' ' : count ?? ' ';
  return (
    <span className="exec-count" data-testid="execution-count" data-state={state?.state ?? 'idle'}>
      [{label}]:
    </span>
  );
});

/** Seconds since `since`, ticking once a second while mounted. */
function useElapsed(since: number | undefined, isTicking: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!isTicking) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [isTicking, since]);
  return since ? Math.max(0, Math.floor((now - since) / 1000)) : 0;
}

/** "queued by Ada" / "running (Ada) 3s", for everyone, while the kernel works on this cell. */
export const ExecutionBadge = memo(function ExecutionBadge({ cell }: { cell: YCell }) {
  const state = useYMapValue<ExecutionState>(cell, 'execution_state');
  const isRunning = state?.state === 'running';
  const seconds = useElapsed(state?.since, isRunning);
  if (!state) return null;
  if (state.state === 'idle') {
    // who stopped a shared kernel, until the cell runs again (decision 0012)
    const who = state.interruptedBy;
    if (!who?.name) return null;
    return (
      <span
        className="exec-badge exec-interrupted"
        data-testid="execution-interrupted"
        style={who.color ? ({ '--who': who.color } as React.CSSProperties) : undefined}
        title={`${who.name} interrupted the kernel while this cell ran`}
      >
        <span className="exec-dot" aria-hidden />
        interrupted by {who.name}
      </span>
    );
  }
  const by = state.by?.name;
  const text = isRunning ? `running${by ? ` (${by})` : ''} ${seconds}s` : `queued${by ? ` by ${by}` : ''}`;
  return (
    <span
      className={`exec-badge exec-${state.state}`}
      data-testid="execution-state"
      data-state={state.state}
      style={state.by?.color ? ({ '--who': state.by.color } as React.CSSProperties) : undefined}
      title={by ? `${state.state} · asked by ${by}` : state.state}
    >
      <span className="exec-dot" aria-hidden />
      {text}
    </span>
  );
});
