// Outputs of a code cell, its execution count and its run state, read straight from the cell map
// (the server's kernel service writes them). Plain rendering for now: text, images, errors.
import { memo, useEffect, useState } from 'react';
import type * as Y from 'yjs';
import { cellOutputs, outputsToJSON, type YCell, type YOutput } from '../../common/notebook/model';
import type { ExecutionState, Output } from '../../common/notebook/types';
import { useYMapValue } from '~/notebook/use-cells';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

function joinText(value: unknown): string {
  if (Array.isArray(value)) return value.join('');
  return typeof value === 'string' ? value : value == null ? '' : JSON.stringify(value, null, 2);
}

function MimeOutput({ data }: { data: Record<string, unknown> }) {
  const png = data['image/png'];
  if (typeof png === 'string' || Array.isArray(png)) {
    const src = `data:image/png;base64,${joinText(png).replace(/\s/g, '')}`;
    return <img className="output-image" src={src} alt={joinText(data['text/plain']) || 'image output'} />;
  }
  if ('text/plain' in data) return <pre className="output-text">{joinText(data['text/plain'])}</pre>;
  const kinds = Object.keys(data);
  return <div className="output-note">Output of type {kinds.join(', ') || 'unknown'} cannot be shown yet.</div>;
}

function OutputItem({ output }: { output: Output }) {
  switch (output.output_type) {
    case 'stream':
      return <pre className={`output-text output-stream-${output.name}`}>{joinText(output.text)}</pre>;
    case 'display_data':
    case 'execute_result':
      return <MimeOutput data={output.data ?? {}} />;
    case 'error':
      return (
        <pre className="output-text output-error">
          {(output.traceback?.length ? output.traceback.join('\n') : `${output.ename}: ${output.evalue}`).replace(ANSI, '')}
        </pre>
      );
    default:
      return null;
  }
}

/**
 * The cell's outputs as plain nbformat objects. Streams are Y.Maps whose text grows a chunk at a
 * time, so this observes deeply and re-renders at most once per frame.
 */
function useOutputs(array: Y.Array<YOutput> | undefined): Output[] {
  const [outputs, setOutputs] = useState<Output[]>(() => outputsToJSON(array));
  useEffect(() => {
    setOutputs(outputsToJSON(array));
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
      {outputs.map((output, i) => (
        <div className="output" key={i} data-output-type={output.output_type}>
          {output.output_type === 'execute_result' && output.execution_count != null ? (
            <span className="output-prompt">Out[{output.execution_count}]:</span>
          ) : null}
          <OutputItem output={output} />
        </div>
      ))}
    </div>
  );
});

/** `[n]:` in the gutter; `[*]:` while queued or running, as in Jupyter. */
export const ExecutionCount = memo(function ExecutionCount({ cell }: { cell: YCell }) {
  const count = useYMapValue<number | null>(cell, 'execution_count');
  const state = useYMapValue<ExecutionState>(cell, 'execution_state');
  const isBusy = state?.state === 'queued' || state?.state === 'running';
  const label = isBusy ? '*' : count ?? ' ';
  return (
    <span className="exec-count" data-testid="execution-count">
      [{label}]:
    </span>
  );
});

/** "queued" / "running · Ada" badge while the kernel works on this cell. */
export const ExecutionBadge = memo(function ExecutionBadge({ cell }: { cell: YCell }) {
  const state = useYMapValue<ExecutionState>(cell, 'execution_state');
  if (!state || state.state === 'idle') return null;
  const by = state.by?.name;
  return (
    <span
      className={`exec-badge exec-${state.state}`}
      data-testid="execution-state"
      data-state={state.state}
      style={state.by?.color ? ({ '--who': state.by.color } as React.CSSProperties) : undefined}
      title={by ? `${state.state} · asked by ${by}` : state.state}
    >
      <span className="exec-dot" aria-hidden />
      {state.state}
      {by ? <span className="exec-by"> · {by}</span> : null}
    </span>
  );
});
