// Shared types of the notebook document, imported by both the browser (app/) and the server.
// The layout mirrors jupyter_ydoc's YNotebook so the mapping to nbformat stays one-to-one.

export type CellType = 'code' | 'markdown' | 'raw';
export const CELL_TYPES: readonly CellType[] = ['code', 'markdown', 'raw'];

/** Someone who asked for something: a run, a generation. */
export interface Actor {
  name: string;
  color?: string;
}

export type ExecutionStateName = 'idle' | 'queued' | 'running';

/** Stored as a plain object under the cell map's `execution_state` key. */
export interface ExecutionState {
  state: ExecutionStateName;
  by?: Actor;
  /** ms since epoch when this state began */
  since: number;
  /** on the idle state after a run someone interrupted: who did ("interrupted by Bob") */
  interruptedBy?: Actor;
}

export type KernelStatus = 'starting' | 'idle' | 'busy' | 'restarting' | 'dead' | 'unreachable' | 'not-started';

/** Stored as a plain object under meta `kernel`. */
export interface KernelState {
  status: KernelStatus;
  detail?: string;
  since: number;
}

// nbformat 4.5 output objects (https://nbformat.readthedocs.io/en/latest/format_description.html#code-cell-outputs)
export type MimeBundle = Record<string, unknown>;

export interface StreamOutput {
  output_type: 'stream';
  name: 'stdout' | 'stderr';
  text: string;
}
export interface DisplayDataOutput {
  output_type: 'display_data';
  data: MimeBundle;
  metadata: Record<string, unknown>;
  /** ours, not nbformat: lets update_display_data find the output; dropped on export */
  transient?: { display_id?: string };
}
export interface ExecuteResultOutput {
  output_type: 'execute_result';
  data: MimeBundle;
  metadata: Record<string, unknown>;
  execution_count: number | null;
  transient?: { display_id?: string };
}
export interface ErrorOutput {
  output_type: 'error';
  ename: string;
  evalue: string;
  traceback: string[];
}
export type Output = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

/**
 * `answering`: the code has run and the model writes only its short answer; the cell's code is
 * never written in this phase, so it is editable again (only generating and fixing write code).
 */
export type AiStatus = 'generating' | 'running' | 'fixing' | 'answering' | 'done' | 'failed' | 'stopped';

export interface AiAttempt {
  /** which generation (1 = first ask, 2 = first regenerate, ...) */
  generation: number;
  code: string;
  /** null while running; 'ok' or a short error summary after */
  outcome: 'ok' | 'error' | 'stopped' | 'provider-error' | null;
  error?: string;
  startedAt: number;
  finishedAt?: number;
}

/** Provenance of an AI cell, stored as a plain object under the cell's `ai` key (prompt is a Y.Text). */
export interface AiInfo {
  model: string;
  endpoint: string;
  status: AiStatus;
  /** "fixing (attempt 2 of 3)" style detail, or the error message when failed */
  detail?: string;
  attempt: number;
  maxAttempts: number;
  attempts: AiAttempt[];
  by?: Actor;
  startedAt: number;
  finishedAt?: number;
  /** the model's short answer after seeing the output */
  answer?: string;
  /**
   * A reasoning model's thoughts in this generation (`reasoning_content` / `reasoning` deltas or
   * `<think>…</think>`), all its turns in order, live while it thinks; cut to MAX_THOUGHTS_CHARS.
   * Never taken as code.
   */
  thoughts?: string;
  /** id of a cell that another step of the same request added */
  parentCellId?: string;
  /** 1 for the first ask, incremented by each regenerate */
  generation: number;
  /** the prompt as it was when this generation started */
  promptAtStart?: string;
  /**
   * Files the person attached to the request (uploaded from the ask bar into the working
   * directory; paths relative to it). The model is told these are the files meant; a regenerate
   * keeps them.
   */
  attachments?: string[];
}

/** Key of the cell map that holds, as a string, what the model was sent (the context). */
export const AI_CONTEXT_KEY = 'ai_context';

/** JSON view of one cell (what `cellToJSON` returns). */
export interface CellJSON {
  id: string;
  cell_type: CellType;
  source: string;
  metadata: Record<string, unknown>;
  outputs?: Output[];
  execution_count?: number | null;
  execution_state?: ExecutionState;
  ai?: AiInfo;
  prompt?: string;
}

export interface NotebookJSON {
  title: string;
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: CellJSON[];
}
