// A document loaded into a fresh room has no run or generation in progress in this process: any
// "queued", "running" or "generating" it still shows was cut short by a crash or restart. Say so,
// instead of leaving a spinner that never stops. With several instances (docs/decisions/0020) the
// instance that takes a notebook over from one that stopped does the same, with its own reason.
import type * as Y from 'yjs';
import { aiInfo, cellId, cellsOf, executionState } from '../../common/notebook/model';
import type { AiInfo, ExecutionState } from '../../common/notebook/types';
import { ORIGIN_SERVER } from '../sync/room';
import { OutputWriter } from './outputs';

const ACTIVE_AI = new Set(['generating', 'running', 'fixing']);

export interface InterruptedReason {
  /** shown on a cell that was running, as an error output of it (every client shows outputs) */
  running?: string;
  /** the AI cell's detail when a generation was cut short */
  ai?: string;
  /** the AI cell's detail when only the model's answer after the run was cut short */
  answer?: string;
}

/** The reasons a takeover gives: the notebook's owner instance stopped (killed, crashed, cut off). */
export const INSTANCE_STOPPED: Required<InterruptedReason> = {
  running: 'Interrupted: the server instance running this cell stopped. Its kernel was kept when the gateway still had it; run the cell again.',
  ai: 'Interrupted: the server instance running this generation stopped. Regenerate to try again.',
  answer: "The server instance running this generation stopped before the model's answer was complete.",
};

function stateName(cell: Y.Map<unknown>): string | null {
  const st = executionState(cell as never);
  if (!st) return null;
  // jupyter_ydoc / nbmodel-client write a plain string ('idle', 'busy'); ours is an object
  return typeof st === 'string' ? (st as string) : st.state;
}

/** True when the document shows a run queued or going, or a generation in progress. */
export function hasActiveWork(doc: Y.Doc): boolean {
  return cellsOf(doc)
    .toArray()
    .some((cell) => {
      const state = stateName(cell as never);
      const ai = aiInfo(cell);
      return (state !== null && state !== 'idle') || (ai !== undefined && (ai.status === 'answering' || ACTIVE_AI.has(ai.status)));
    });
}

export function resetInterruptedWork(doc: Y.Doc, reason: InterruptedReason = {}): number {
  let fixed = 0;
  doc.transact(() => {
    for (const cell of cellsOf(doc).toArray()) {
      const state = stateName(cell as never);
      if (state !== null && state !== 'idle') {
        cell.set('execution_state', { state: 'idle', since: Date.now() } satisfies ExecutionState);
        // only a cell that was running has something to explain; a queued one simply never ran
        if (reason.running && (state === 'running' || state === 'busy')) {
          const id = cellId(cell);
          if (id) {
            const writer = new OutputWriter(doc, id, ORIGIN_SERVER);
            writer.handle({ msg_type: 'error', content: { ename: '', evalue: reason.running, traceback: [reason.running] } });
            writer.finish();
          }
        }
        fixed++;
      }
      const ai = aiInfo(cell);
      if (ai?.status === 'answering') {
        // the code had run; only the model's answer was cut short
        cell.set('ai', { ...ai, status: 'done', detail: reason.answer ?? "The server restarted before the model's answer was complete.", finishedAt: Date.now() } satisfies AiInfo);
        fixed++;
      } else if (ai && ACTIVE_AI.has(ai.status)) {
        cell.set('ai', { ...ai, status: 'failed', detail: reason.ai ?? 'Interrupted: the server restarted while this was in progress. Regenerate to try again.', finishedAt: Date.now() } satisfies AiInfo);
        fixed++;
      }
    }
  }, ORIGIN_SERVER);
  return fixed;
}
