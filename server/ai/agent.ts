// The agent loop: a prompt becomes code streamed live into a shared cell, run on the shared kernel
// (the same queue as everyone's runs), fixed on errors up to an attempt budget, and summed up in a
// short answer. Everything it does is written into the document for every collaborator to see.
// It receives the notebook (rooms) and the kernel (execution service) it works on.
import type * as Y from 'yjs';
import {
  cellIndex,
  cellOutputs,
  cellPrompt,
  cellType,
  ensurePrompt,
  findCell,
  insertCell,
  outputsToJSON,
  replaceText,
  cellSource,
  aiInfo,
} from '../../common/notebook/model';
import { AI_CONTEXT_KEY, type Actor, type AiAttempt, type AiInfo, type AiStatus } from '../../common/notebook/types';
import { ORIGIN_SERVER } from '../sync/room';
import type { RoomManager } from '../sync/rooms';
import type { ExecutionService } from '../notebook/execution';
import type { RunOutcome } from '../notebook/runner';
import { attachmentsOf, buildContext, inspectKernel, summarizeOutputs, SYSTEM_PROMPT } from './context';
import {
  GENERATION_TIMEOUT_MS,
  MAX_ANSWER_CHARS,
  MAX_ATTEMPTS,
  MAX_ERROR_OUTPUT_CHARS,
  MAX_THOUGHTS_CHARS,
  MAX_TOKENS_PER_GENERATION,
  THOUGHTS_FLUSH_MS,
} from './limits';
import { cutThoughts } from './reasoning';
import {
  assistantMessageFor,
  ProviderError,
  streamTurn,
  toolResultMessage,
  type ChatMessage,
  type ModelConfig,
  type ModelTurn,
  type StreamTurnOptions,
} from './provider';

/** Cells one request may add below the first, for requests that need several steps. */
export const MAX_EXTRA_STEPS = 3;
/** How often streamed code is written into the cell (everyone sees it within this). */
export const CODE_FLUSH_MS = 80;

export class AiError extends Error {
  constructor(
    readonly code: 'NOT_CONFIGURED' | 'NOT_FOUND' | 'BUSY' | 'NO_PROMPT' | 'NOT_CODE',
    message: string,
  ) {
    super(message);
  }
}

type Log = (level: 'info' | 'warn' | 'error', msg: string) => void;

export interface AiServiceOptions {
  rooms: RoomManager;
  execution: ExecutionService;
  model: ModelConfig | null;
  log: Log;
  maxAttempts?: number;
  /** tokens one generation may spend (default MAX_TOKENS_PER_GENERATION) */
  maxTokens?: number;
  /** passed to every model call (tests shorten timeouts and retry delays) */
  turnOptions?: Partial<StreamTurnOptions>;
}

interface Generation {
  abort: AbortController;
  done: Promise<AiInfo | undefined>;
  runningCellId: string | null;
}

export class AiService {
  private active = new Map<string, Generation>();

  constructor(private opts: AiServiceOptions) {}

  get model(): ModelConfig | null {
    return this.opts.model;
  }

  isGenerating(notebookId: string, cellId: string): boolean {
    return this.active.has(`${notebookId}/${cellId}`);
  }

  /**
   * Starts a generation on a cell. `prompt`, when given, replaces the cell's prompt first (the
   * prompt is shared text: the UI edits it in place and calls this without one).
   */
  async generate(notebookId: string, cellId: string, opts: { prompt?: string; by: Actor; attachments?: string[] }): Promise<{ done: Promise<AiInfo | undefined> }> {
    const model = this.opts.model;
    if (!model) {
      throw new AiError('NOT_CONFIGURED', 'No language model is configured. Set OPENAI_API_KEY (and OPENAI_BASE_URL and OPENAI_MODEL for Ollama, vLLM or another OpenAI-compatible endpoint) on the server and restart it.');
    }
    const key = `${notebookId}/${cellId}`;
    if (this.active.has(key)) throw new AiError('BUSY', 'This cell is already being generated; stop it first.');
    const held = await this.opts.rooms.acquire(notebookId);
    if (!held) throw new AiError('NOT_FOUND', 'notebook not found');
    const doc = held.room.doc;
    const cell = findCell(doc, cellId);
    if (!cell) {
      held.release();
      throw new AiError('NOT_FOUND', `cell ${cellId} not found`);
    }
    if (cellType(cell) !== 'code') {
      held.release();
      throw new AiError('NOT_CODE', 'Only code cells can be generated.');
    }
    let prompt = '';
    doc.transact(() => {
      const p = ensurePrompt(cell);
      if (opts.prompt !== undefined) replaceText(p, opts.prompt);
      prompt = p.toString();
    }, ORIGIN_SERVER);
    if (!prompt.trim()) {
      held.release();
      throw new AiError('NO_PROMPT', 'Write a prompt first: what should the code do?');
    }
    const gen: Generation = { abort: new AbortController(), done: Promise.resolve(undefined), runningCellId: null };
    this.active.set(key, gen);
    gen.done = this.loop(doc, notebookId, cellId, prompt, opts.by, gen, opts.attachments)
      .catch((err) => {
        this.opts.log('error', `generation ${key}: ${(err as Error).stack}`);
        return this.finish(doc, cellId, 'failed', `Internal error: ${(err as Error).message}`);
      })
      // whoever waited for the generation sees its end in the document once answered (group
      // commit, docs/decisions/0018): stored and broadcast first
      .then(async (info) => {
        await held.room.flushed();
        return info;
      })
      .finally(() => {
        for (const [k, g] of this.active) if (g === gen) this.active.delete(k);
        held.release();
      });
    return { done: gen.done };
  }

  /** Stops a generation: the model stream is cancelled and a run it started is interrupted. */
  async stop(notebookId: string, cellId: string, by?: Actor): Promise<boolean> {
    const gen = this.active.get(`${notebookId}/${cellId}`);
    if (!gen) return false;
    gen.abort.abort();
    if (gen.runningCellId) {
      await this.opts.execution.interrupt(notebookId, by).catch(() => undefined);
    }
    await gen.done;
    return true;
  }

  /** Stops every generation of a notebook (it is being deleted). */
  async stopNotebook(notebookId: string): Promise<void> {
    const cells = [...this.active.keys()].filter((k) => k.startsWith(`${notebookId}/`)).map((k) => k.slice(notebookId.length + 1));
    await Promise.all(cells.map((c) => this.stop(notebookId, c).catch(() => false)));
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.active.entries()].map(([key, gen]) => {
        gen.abort.abort();
        return gen.done.catch(() => undefined).then(() => key);
      }),
    );
  }

  // -------------------------------------------------------------------------------------------

  private setAi(doc: Y.Doc, cellId: string, patch: Partial<AiInfo>): AiInfo | undefined {
    let next: AiInfo | undefined;
    doc.transact(() => {
      const cell = findCell(doc, cellId);
      if (!cell) return;
      const cur = aiInfo(cell);
      if (!cur) return;
      next = { ...cur, ...patch };
      cell.set('ai', next);
    }, ORIGIN_SERVER);
    return next;
  }

  private pushAttempt(doc: Y.Doc, cellId: string, attempt: AiAttempt) {
    const cur = aiInfo(findCell(doc, cellId)!);
    if (cur) this.setAi(doc, cellId, { attempts: [...cur.attempts, attempt] });
  }

  private patchLastAttempt(doc: Y.Doc, cellId: string, patch: Partial<AiAttempt>) {
    const cell = findCell(doc, cellId);
    const cur = cell && aiInfo(cell);
    if (!cur || !cur.attempts.length) return;
    const attempts = cur.attempts.slice();
    attempts[attempts.length - 1] = { ...attempts[attempts.length - 1], ...patch };
    this.setAi(doc, cellId, { attempts });
  }

  private finish(doc: Y.Doc, cellId: string, status: AiStatus, detail?: string, answer?: string): AiInfo | undefined {
    return this.setAi(doc, cellId, {
      status,
      detail,
      finishedAt: Date.now(),
      ...(answer !== undefined ? { answer: answer.slice(0, MAX_ANSWER_CHARS) } : {}),
    });
  }

  /**
   * Starts the provenance of a generation on a cell, keeping earlier attempts as history, and the
   * request's attachments (a regenerate, which names none, keeps the earlier ones). Answers the
   * generation's number and its attachments.
   */
  private begin(doc: Y.Doc, cellId: string, prompt: string, by: Actor, opts: { parentCellId?: string; attachments?: string[] } = {}): { generation: number; attachments: string[] } {
    const model = this.opts.model!;
    const { parentCellId } = opts;
    let generation = 1;
    let attachments: string[] = [];
    doc.transact(() => {
      const cell = findCell(doc, cellId)!;
      const prev = aiInfo(cell);
      generation = (prev?.generation ?? 0) + 1;
      attachments = opts.attachments ?? attachmentsOf(prev);
      const info: AiInfo = {
        model: model.model,
        endpoint: model.endpointName,
        status: 'generating',
        attempt: 1,
        maxAttempts: this.maxAttempts,
        attempts: prev?.attempts ?? [],
        by,
        startedAt: Date.now(),
        generation,
        promptAtStart: prompt,
        ...(parentCellId ? { parentCellId } : {}),
        ...(attachments.length ? { attachments } : {}),
      };
      cell.set('ai', info);
    }, ORIGIN_SERVER);
    return { generation, attachments };
  }

  private get maxAttempts(): number {
    return this.opts.maxAttempts ?? MAX_ATTEMPTS;
  }

  private async loop(doc: Y.Doc, notebookId: string, firstCellId: string, prompt: string, by: Actor, gen: Generation, requested?: string[]): Promise<AiInfo | undefined> {
    const signal = gen.abort.signal;
    const deadline = Date.now() + GENERATION_TIMEOUT_MS * (this.maxAttempts + MAX_EXTRA_STEPS);
    let cellId = firstCellId;
    const started = this.begin(doc, cellId, prompt, by, { attachments: requested });
    let generation = started.generation;
    const attachments = started.attachments;
    const runner = await this.opts.execution.runner(notebookId).catch(() => null);
    const kernel = runner?.kernel;
    const inspection = kernel ? await inspectKernel(kernel) : null;
    const context = buildContext(doc, cellId, prompt, inspection, { attachments });
    doc.transact(() => findCell(doc, cellId)?.set(AI_CONTEXT_KEY, `${SYSTEM_PROMPT}\n\n${context}`), ORIGIN_SERVER);
    const messages: ChatMessage[] = [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: context },
    ];

    let attempt = 1;
    let steps = 0;
    let lastAnswer = '';
    /** a turn already received (the next step's call), used instead of asking again */
    let received: ModelTurn | null = null;
    let tokens = 0;
    const tokenBudget = this.opts.maxTokens ?? MAX_TOKENS_PER_GENERATION;
    /** thoughts of this cell's finished turns; the live turn's are shown after them */
    let thoughtsDone = '';
    const joinThoughts = (live: string | undefined) => [thoughtsDone, live?.trim()].filter(Boolean).join('\n\n');
    const showThoughts = (id: string, live: string | undefined) => {
      const all = joinThoughts(live);
      if (all) this.setAi(doc, id, { thoughts: cutThoughts(all, MAX_THOUGHTS_CHARS) });
    };
    /** a turn ended: its thoughts are kept on the cell for good */
    const keepThoughts = (id: string, turn: ModelTurn) => {
      thoughtsDone = joinThoughts(turn.thoughts);
      showThoughts(id, undefined);
    };
    for (;;) {
      if (signal.aborted) return this.finish(doc, cellId, 'stopped', 'Stopped.');
      this.setAi(doc, cellId, {
        status: attempt === 1 ? 'generating' : 'fixing',
        attempt,
        detail: attempt === 1 ? 'writing code' : `fixing (attempt ${attempt} of ${this.maxAttempts})`,
      });
      let turn: ModelTurn;
      try {
        const liveCell = cellId;
        turn = received ?? (await this.streamInto(doc, cellId, messages, signal, deadline, (t) => showThoughts(liveCell, t)));
        received = null;
      } catch (err) {
        if (err instanceof ProviderError && err.code === 'ABORTED') return this.finish(doc, cellId, 'stopped', 'Stopped while the model was writing.');
        const message = err instanceof ProviderError ? err.message : `Model call failed: ${(err as Error).message}`;
        this.pushAttempt(doc, cellId, { generation, code: cellSource(findCell(doc, cellId)!).toString(), outcome: 'provider-error', error: message, startedAt: Date.now(), finishedAt: Date.now() });
        return this.finish(doc, cellId, 'failed', message);
      }
      keepThoughts(cellId, turn);
      tokens += turn.usage?.totalTokens ?? 0;
      if (tokens > tokenBudget && turn.code) {
        return this.finish(doc, cellId, 'failed', `Token budget spent (${tokens} of ${tokenBudget} tokens) before the code worked.`);
      }
      if (!turn.code) {
        // no code: the model answered (after a successful run), or could not write any
        const answer = (turn.prose || turn.text).trim();
        if (steps > 0 || attempt > 1 || lastAnswer) return this.finish(doc, cellId, 'done', undefined, answer || lastAnswer);
        return this.finish(doc, cellId, 'failed', answer ? 'The model replied without code.' : 'The model returned an empty reply.', answer);
      }
      const code = turn.code;
      this.writeCode(doc, cellId, code);
      const startedAt = Date.now();
      this.pushAttempt(doc, cellId, { generation, code, outcome: null, startedAt });
      this.setAi(doc, cellId, { status: 'running', detail: attempt === 1 ? 'running' : `running fix (attempt ${attempt} of ${this.maxAttempts})` });
      if (signal.aborted) return this.finish(doc, cellId, 'stopped', 'Stopped.');

      gen.runningCellId = cellId;
      let outcome: RunOutcome;
      try {
        outcome = await this.opts.execution.run(notebookId, cellId, code, by);
      } catch (err) {
        outcome = { status: 'kernel-error', execution_count: null, message: (err as Error).message };
      } finally {
        gen.runningCellId = null;
      }
      if (signal.aborted) {
        this.patchLastAttempt(doc, cellId, { outcome: 'stopped', finishedAt: Date.now() });
        return this.finish(doc, cellId, 'stopped', 'Stopped while the code was running.');
      }
      const cell = findCell(doc, cellId);
      if (!cell) return undefined; // deleted meanwhile: nothing left to report on
      const outputs = outputsToJSON(cellOutputs(cell));
      if (outcome.status === 'ok') {
        this.patchLastAttempt(doc, cellId, { outcome: 'ok', finishedAt: Date.now() });
        messages.push(assistantMessageFor(turn));
        messages.push(
          toolResultMessage(
            turn,
            `The cell ran without error. Output:\n${summarizeOutputs(outputs) || '(no output)'}\n\nIf this answers the request, reply with a short answer (no code). If another step is needed, call run_python with the next cell.`,
          ),
        );
        // The code has run: only the answer is written now. The cell's source is never written in
        // this phase (a code step goes to a new cell below), so the code is an ordinary, editable
        // cell again: status 'answering' says so to every client.
        this.setAi(doc, cellId, { status: 'answering', detail: 'writing the answer' });
        // the answer, or the next step of a request that needs several
        let next: ModelTurn;
        const answerCell = cellId;
        const answer = throttle((text: string) => this.setAi(doc, answerCell, { answer: text.slice(0, MAX_ANSWER_CHARS) }));
        const thoughts = throttle((t: string) => showThoughts(answerCell, t), THOUGHTS_FLUSH_MS);
        try {
          next = await streamTurn(this.opts.model!, messages, {
            ...this.opts.turnOptions,
            signal,
            tools: steps < MAX_EXTRA_STEPS,
            timeoutMs: Math.max(1000, Math.min(GENERATION_TIMEOUT_MS, deadline - Date.now())),
            // prose streams into the answer; a code step is not an answer (and never the source)
            events: { onText: (t) => answer.push(extractProse(t)), onThoughts: (t) => thoughts.push(t) },
          });
        } catch (err) {
          answer.cancel();
          thoughts.cancel();
          if (err instanceof ProviderError && err.code === 'ABORTED') return this.finish(doc, cellId, 'stopped', 'Stopped while the model was answering.');
          // the code worked; only the summary failed
          return this.finish(doc, cellId, 'done', `The code ran, but the model's answer failed: ${(err as Error).message}`);
        }
        answer.cancel();
        thoughts.cancel();
        tokens += next.usage?.totalTokens ?? 0;
        if (!next.code || steps >= MAX_EXTRA_STEPS || tokens > tokenBudget) {
          keepThoughts(cellId, next);
          return this.finish(doc, cellId, 'done', undefined, (next.prose || next.text).trim());
        }
        // another step: a new AI cell below, with the same request
        steps++;
        lastAnswer = (next.prose || '').trim();
        this.finish(doc, cellId, 'done', undefined, lastAnswer || 'Continued in the next cell.');
        const parent = cellId;
        const at = cellIndex(doc, cellId);
        let newId = '';
        doc.transact(() => {
          newId = insertCell(doc, at + 1, { cell_type: 'code', prompt: `${prompt}\n(step ${steps + 1})` });
        }, ORIGIN_SERVER);
        cellId = newId;
        thoughtsDone = ''; // the next step's thoughts belong to its own cell (kept when its turn is handled)
        // Stop on the new cell stops the whole request
        this.active.set(`${notebookId}/${cellId}`, gen);
        generation = this.begin(doc, cellId, prompt, by, { parentCellId: parent, attachments }).generation;
        attempt = 1;
        // the model's call is this new cell's first turn
        received = next;
        continue;
      }
      // an error: send the traceback back and ask for a fix, within the budget
      const error = outcome.error ? `${outcome.error.ename}: ${outcome.error.evalue}` : (outcome.message ?? outcome.status);
      this.patchLastAttempt(doc, cellId, { outcome: outcome.status === 'aborted' || outcome.status === 'cancelled' ? 'stopped' : 'error', error, finishedAt: Date.now() });
      if (outcome.status === 'aborted' || outcome.status === 'cancelled') {
        return this.finish(doc, cellId, 'stopped', `The run was ${outcome.status === 'aborted' ? 'interrupted' : 'cancelled'}.`);
      }
      if (attempt >= this.maxAttempts) {
        return this.finish(doc, cellId, 'failed', `Still failing after ${attempt} attempt${attempt > 1 ? 's' : ''}: ${error}`);
      }
      messages.push(assistantMessageFor(turn));
      messages.push(
        toolResultMessage(
          turn,
          `The cell raised an error:\n${summarizeOutputs(outputs, MAX_ERROR_OUTPUT_CHARS) || error}\n\nFix the code and run the whole cell again with run_python.`,
        ),
      );
      attempt++;
    }
  }

  private writeCode(doc: Y.Doc, cellId: string, code: string) {
    doc.transact(() => {
      const cell = findCell(doc, cellId);
      if (cell) replaceText(cellSource(cell), code);
    }, ORIGIN_SERVER);
  }

  /**
   * One model turn, its code streamed into the cell every CODE_FLUSH_MS and a reasoning model's
   * thoughts (never code) into the provenance every THOUGHTS_FLUSH_MS.
   */
  private async streamInto(
    doc: Y.Doc,
    cellId: string,
    messages: ChatMessage[],
    signal: AbortSignal,
    deadline: number,
    onThoughts: (thoughtsSoFar: string) => void,
  ): Promise<ModelTurn> {
    const code = throttle((c: string) => this.writeCode(doc, cellId, c));
    const thoughts = throttle(onThoughts, THOUGHTS_FLUSH_MS);
    try {
      return await streamTurn(this.opts.model!, messages, {
        ...this.opts.turnOptions,
        signal,
        timeoutMs: Math.max(1000, Math.min(GENERATION_TIMEOUT_MS, deadline - Date.now())),
        events: { onCode: (c) => code.push(c), onThoughts: (t) => thoughts.push(t) },
      });
    } finally {
      code.cancel();
      thoughts.cancel();
    }
  }
}

/** Keeps the latest value and hands it on at most every `everyMs` (default CODE_FLUSH_MS). */
function throttle(apply: (v: string) => void, everyMs = CODE_FLUSH_MS) {
  let latest: string | null = null;
  let timer: NodeJS.Timeout | null = null;
  return {
    push(v: string) {
      latest = v;
      timer ??= setTimeout(() => {
        timer = null;
        if (latest !== null) apply(latest);
      }, everyMs);
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

/** The prose of a reply so far, without a code fence that may be opening. */
function extractProse(text: string): string {
  const fence = text.search(/(^|\n)\s*(```|~~~)/);
  return (fence < 0 ? text : text.slice(0, fence)).trim();
}

export function promptOf(doc: Y.Doc, cellId: string): string {
  const cell = findCell(doc, cellId);
  return (cell && cellPrompt(cell)?.toString()) ?? '';
}
