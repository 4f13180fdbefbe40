// A document loaded into a fresh room has no run or generation in progress in this process: any
// "queued", "running" or "generating" it still shows was cut short by a crash or restart. Say so,
// instead of leaving a spinner that never stops.
import type * as Y from 'yjs';
import { aiInfo, cellsOf, executionState } from '../../common/notebook/model';
import type { AiInfo, ExecutionState } from '../../common/notebook/types';
import { ORIGIN_SERVER } from '../sync/room';

const ACTIVE_AI = new Set(['generating', 'running', 'fixing']);

export function resetInterruptedWork(doc: Y.Doc): number {
  let fixed = 0;
  doc.transact(() => {
    for (const cell of cellsOf(doc).toArray()) {
      const st = executionState(cell);
      // jupyter_ydoc / nbmodel-client write a plain string ('idle', 'busy'); ours is an object
      const state = typeof st === 'string' ? (st as string) : st?.state;
      if (st && state !== 'idle') {
        cell.set('execution_state', { state: 'idle', since: Date.now() } satisfies ExecutionState);
        fixed++;
      }
      const ai = aiInfo(cell);
      if (ai?.status === 'answering') {
        // the code had run; only the model's answer was cut short
        cell.set('ai', { ...ai, status: 'done', detail: "The server restarted before the model's answer was complete.", finishedAt: Date.now() } satisfies AiInfo);
        fixed++;
      } else if (ai && ACTIVE_AI.has(ai.status)) {
        cell.set('ai', { ...ai, status: 'failed', detail: 'Interrupted: the server restarted while this was in progress. Regenerate to try again.', finishedAt: Date.now() } satisfies AiInfo);
        fixed++;
      }
    }
  }, ORIGIN_SERVER);
  return fixed;
}
