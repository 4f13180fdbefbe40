// The model client: one streamed chat-completion turn against any OpenAI-compatible endpoint
// (OpenAI, Azure, Ollama, vLLM, llama.cpp, LM Studio), on the official `openai` client.
// The client's own retries are off (`maxRetries: 0`): retries, timeouts and error mapping are
// done here so they are explicit and testable. Every failure becomes a ProviderError whose
// message can be shown to a user as is; the API key never appears in one.
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { extractCode, partialCode, partialJsonCode, RUN_PYTHON_TOOL_NAME } from './code-extract';
import { ThinkSplitter } from './reasoning';
import {
  GENERATION_TIMEOUT_MS,
  MAX_COMPLETION_TOKENS,
  PROVIDER_RETRIES,
  PROVIDER_RETRY_BASE_DELAY_MS,
  PROVIDER_RETRY_MAX_DELAY_MS,
  STREAM_IDLE_TIMEOUT_MS,
} from './limits';

export type ChatMessage = ChatCompletionMessageParam;

export interface ModelConfig {
  apiKey?: string;
  baseURL?: string;
  model: string;
  /** Host of baseURL, or 'openai'; shown to users and stored in provenance. Never the key. */
  endpointName: string;
}

export const DEFAULT_MODEL = 'gpt-4o-mini';
/** Local endpoints (Ollama, llama.cpp) need no key, but the client insists on one. */
const NO_KEY_PLACEHOLDER = 'not-needed';
const OPENAI_BASE_URL = 'https://api.openai.com/v1';

/**
 * The model configuration from `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_MODEL`; null when
 * neither a key nor a base URL is set (the app then runs without AI). Throws on a base URL that
 * is not a URL, so a typo fails loudly at boot.
 */
export function modelConfigFromEnv(env: Record<string, string | undefined> = process.env): ModelConfig | null {
  const apiKey = env.OPENAI_API_KEY?.trim() || undefined;
  const baseURL = env.OPENAI_BASE_URL?.trim() || undefined;
  if (!apiKey && !baseURL) return null;
  const model = env.OPENAI_MODEL?.trim() || DEFAULT_MODEL;
  let endpointName = 'openai';
  if (baseURL) {
    let url: URL;
    try {
      url = new URL(baseURL);
    } catch {
      throw new Error('OPENAI_BASE_URL is not a valid URL (expected e.g. http://localhost:11434/v1).');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`OPENAI_BASE_URL must be an http(s) URL, not ${url.protocol}`);
    }
    endpointName = url.host; // host only: never userinfo, path or query, which may carry secrets
  }
  return { apiKey, baseURL, model, endpointName };
}

export type ProviderErrorCode =
  | 'AUTH'
  | 'MODEL_NOT_FOUND'
  | 'RATE_LIMITED'
  | 'SERVER'
  | 'BAD_REQUEST'
  | 'TIMEOUT'
  | 'STREAM_CUT'
  | 'MALFORMED'
  | 'UNREACHABLE'
  | 'ABORTED';

export class ProviderError extends Error {
  override name = 'ProviderError';
  readonly code: ProviderErrorCode;
  readonly status?: number;
  /** The endpoint's own words, cut short; absent for 401 (OpenAI echoes part of the key there). */
  readonly detail?: string;
  /** Whether a fresh request may succeed (429, 5xx, connection errors). */
  readonly isRetryable: boolean;
  /** Whether part of the reply had already arrived (then it is never retried). */
  readonly hasStreamed: boolean;
  /** The server's `retry-after`, in ms, when it sent one. */
  readonly retryAfterMs?: number;

  constructor(
    code: ProviderErrorCode,
    message: string,
    options: {
      status?: number;
      detail?: string;
      isRetryable?: boolean;
      hasStreamed?: boolean;
      retryAfterMs?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.detail = options.detail;
    this.isRetryable = options.isRetryable ?? false;
    this.hasStreamed = options.hasStreamed ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export interface StreamEvents {
  /** The code so far, each time it grows (from the tool call's arguments or the open fence). */
  onCode?(codeSoFar: string): void;
  /** The assistant's text so far (thoughts left out), each time it changes. */
  onText?(textSoFar: string): void;
  /** A reasoning model's thoughts so far, each time they grow (reasoning field or <think>). */
  onThoughts?(thoughtsSoFar: string): void;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface ModelTurn {
  /** The assistant's text as received, thoughts left out (may hold a fence or a printed tool call). */
  text: string;
  /** What a reasoning model thought before answering (never a source of code); absent when none. */
  thoughts?: string;
  /** `text` without the code it carried. */
  prose: string;
  code: string | null;
  via: 'tool' | 'fence' | 'text-tool' | null;
  toolCallId?: string;
  /** The tool call as received, to put the assistant message back into the history. */
  toolName?: string;
  toolArguments?: string;
  finishReason: string | null;
  /** The model that answered, as the endpoint named it. */
  model?: string;
  usage?: TokenUsage;
  /** Requests made for this turn, retries included. */
  requestCount: number;
}

export interface StreamTurnOptions {
  /** Offer the run_python tool (default true). */
  tools?: boolean;
  signal?: AbortSignal;
  events?: StreamEvents;
  maxTokens?: number;
  /** Whole turn, retries and backoff included. */
  timeoutMs?: number;
  /** No byte for this long (before the headers or between chunks) is a timeout. */
  idleTimeoutMs?: number;
  /** Retries after a 429, a 5xx or a connection error. */
  retries?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
}

export const RUN_PYTHON_TOOL: ChatCompletionTool = {
  type: 'function',
  function: {
    name: RUN_PYTHON_TOOL_NAME,
    description:
      "Run Python code in the notebook's shared Jupyter kernel. The code becomes the cell's source; " +
      'its outputs (or the traceback) are returned. Variables persist between cells.',
    parameters: {
      type: 'object',
      properties: {
        code: { type: 'string', description: 'The complete Python source of the cell.' },
      },
      required: ['code'],
      additionalProperties: false,
    },
  },
};

/** The assistant message of a turn, to append to the history before the tool's result. */
export function assistantMessageFor(turn: ModelTurn): ChatMessage {
  if (turn.via === 'tool' && turn.toolCallId) {
    return {
      role: 'assistant',
      content: turn.text || null,
      tool_calls: [
        {
          id: turn.toolCallId,
          type: 'function',
          function: { name: turn.toolName ?? RUN_PYTHON_TOOL_NAME, arguments: turn.toolArguments ?? '{}' },
        },
      ],
    };
  }
  return { role: 'assistant', content: turn.text };
}

/**
 * The message that carries a run's output back to the model: a tool message when the code came
 * from a tool call, a user message otherwise (fence or printed call: the model made no call).
 */
export function toolResultMessage(turn: ModelTurn, output: string): ChatMessage {
  if (turn.via === 'tool' && turn.toolCallId) return { role: 'tool', tool_call_id: turn.toolCallId, content: output };
  return { role: 'user', content: output };
}

// ---------------------------------------------------------------------------------------------

type AbortReason = 'user' | 'idle' | 'total';

function abortedError(): ProviderError {
  return new ProviderError('ABORTED', 'Generation was stopped.');
}

function timeoutError(reason: 'idle' | 'total', ms: number, hasStreamed: boolean): ProviderError {
  const secs = Math.max(1, Math.round(ms / 1000));
  return new ProviderError(
    'TIMEOUT',
    reason === 'idle'
      ? `The model endpoint sent nothing for ${secs} s, so the request was given up.`
      : `The model did not finish its answer within ${secs} s.`,
    { hasStreamed },
  );
}

function shortDetail(err: APIError): string | undefined {
  const body = err.error as { message?: unknown } | undefined;
  const msg = typeof body?.message === 'string' ? body.message : err.message;
  return msg ? msg.slice(0, 300) : undefined;
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.get('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers.get('retry-after');
  if (!raw) return undefined;
  const secs = Number(raw);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function isSyntaxError(err: unknown): boolean {
  return err instanceof SyntaxError || (err instanceof Error && err.name === 'SyntaxError');
}

/** A failure of one request, as a ProviderError. `hasStreamed`: part of the reply had arrived. */
function toProviderError(err: unknown, cfg: ModelConfig, hasStreamed: boolean, isInStream: boolean): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof APIUserAbortError) return abortedError();
  if (err instanceof APIConnectionTimeoutError) return timeoutError('total', GENERATION_TIMEOUT_MS, hasStreamed);
  if (err instanceof APIConnectionError) {
    return new ProviderError(
      'UNREACHABLE',
      `Could not reach the model endpoint at ${cfg.endpointName}. Check OPENAI_BASE_URL and that the endpoint is running.`,
      { isRetryable: !hasStreamed, hasStreamed, cause: err },
    );
  }
  if (err instanceof APIError) {
    const status = err.status;
    const detail = shortDetail(err);
    if (status === undefined) {
      // An `{"error": ...}` object sent inside the stream.
      return new ProviderError('SERVER', `The model endpoint reported an error mid-answer: ${detail ?? 'no details'}.`, {
        detail,
        isRetryable: !hasStreamed,
        hasStreamed,
        cause: err,
      });
    }
    if (status === 401) {
      return new ProviderError(
        'AUTH',
        `The model endpoint rejected the API key (401). Check OPENAI_API_KEY on the server.`,
        { status, cause: err },
      );
    }
    if (status === 403) {
      return new ProviderError(
        'AUTH',
        `The model endpoint refused access (403). Check that the API key on the server may use model "${cfg.model}".`,
        { status, detail, cause: err },
      );
    }
    if (status === 404) {
      return new ProviderError(
        'MODEL_NOT_FOUND',
        `The model "${cfg.model}" was not found at ${cfg.endpointName} (404). Check OPENAI_MODEL, and that OPENAI_BASE_URL ends in /v1.`,
        { status, detail, cause: err },
      );
    }
    if (status === 429) {
      return new ProviderError(
        'RATE_LIMITED',
        `The model endpoint is rate limiting requests (429)${detail ? `: ${detail}` : ''}. Try again in a moment.`,
        { status, detail, isRetryable: true, retryAfterMs: retryAfterMs(err.headers), cause: err },
      );
    }
    if (status >= 500 || status === 408) {
      return new ProviderError('SERVER', `The model endpoint had an error (${status}). Try again in a moment.`, {
        status,
        detail,
        isRetryable: true,
        retryAfterMs: retryAfterMs(err.headers),
        cause: err,
      });
    }
    return new ProviderError(
      'BAD_REQUEST',
      `The model endpoint refused the request (${status})${detail ? `: ${detail}` : '.'}`,
      { status, detail, cause: err },
    );
  }
  if (isSyntaxError(err)) {
    return new ProviderError(
      'MALFORMED',
      `The model endpoint at ${cfg.endpointName} sent a reply that is not OpenAI-compatible JSON.`,
      { hasStreamed, cause: err },
    );
  }
  if (isInStream) {
    // undici: TypeError "terminated" (cause: SocketError "other side closed") when the socket dies.
    return new ProviderError('STREAM_CUT', 'The connection to the model was cut before its answer was complete.', {
      hasStreamed,
      isRetryable: !hasStreamed,
      cause: err,
    });
  }
  return new ProviderError(
    'UNREACHABLE',
    `Could not reach the model endpoint at ${cfg.endpointName}: ${err instanceof Error ? err.message : String(err)}`,
    { isRetryable: !hasStreamed, hasStreamed, cause: err },
  );
}

/** Endpoints that reject tools for a model say so with a 400 (Ollama: "... does not support tools"). */
function isToolsUnsupported(err: ProviderError): boolean {
  return err.code === 'BAD_REQUEST' && /tool/i.test(err.detail ?? '');
}

function isOpenAIHost(cfg: ModelConfig): boolean {
  if (!cfg.baseURL) return true;
  try {
    return new URL(cfg.baseURL).hostname === 'api.openai.com';
  } catch {
    return false;
  }
}

function backoffDelay(attempt: number, err: ProviderError, base: number, max: number): number {
  if (err.retryAfterMs !== undefined) return Math.min(err.retryAfterMs, max);
  const exp = Math.min(max, base * 2 ** attempt);
  return Math.round(exp / 2 + Math.random() * (exp / 2)); // jitter, so peers do not retry in step
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface AttemptContext {
  cfg: ModelConfig;
  messages: ChatMessage[];
  isToolsOffered: boolean;
  maxTokens: number;
  deadline: number;
  idleTimeoutMs: number;
  totalTimeoutMs: number;
  signal?: AbortSignal;
  events?: StreamEvents;
}

type AttemptResult = Omit<ModelTurn, 'requestCount'>;

/** One request and its stream. Throws a ProviderError on every failure. */
async function attemptOnce(ctx: AttemptContext): Promise<AttemptResult> {
  const { cfg } = ctx;
  const controller = new AbortController();
  let abortReason: AbortReason | null = null;
  const abort = (reason: AbortReason) => {
    if (abortReason === null) abortReason = reason;
    controller.abort();
  };
  const onUserAbort = () => abort('user');
  if (ctx.signal?.aborted) throw abortedError();
  ctx.signal?.addEventListener('abort', onUserAbort, { once: true });

  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => abort('idle'), ctx.idleTimeoutMs);
  };
  const totalTimer = setTimeout(() => abort('total'), Math.max(0, ctx.deadline - Date.now()));
  armIdle();

  let hasStreamed = false;
  let isInStream = false;
  let text = '';
  // thoughts of reasoning models: a separate delta field, or <think> in the content
  const splitter = new ThinkSplitter();
  let fieldThoughts = '';
  let lastThoughts = '';
  const allThoughts = () => [fieldThoughts.trim(), splitter.thoughts.trim()].filter(Boolean).join('\n\n');
  const emitThoughts = () => {
    const t = allThoughts();
    if (t === lastThoughts) return;
    lastThoughts = t;
    ctx.events?.onThoughts?.(t);
  };
  /** the content changed: hand out the answer text and the code in it */
  const onContent = (isRewritten: boolean) => {
    if (splitter.answer !== text) {
      text = splitter.answer;
      ctx.events?.onText?.(text);
    }
    if (toolArguments !== undefined) return;
    const code = partialCode(text);
    // text taken for answer was thoughts after all ("…</think>"): take back code shown from it
    if (isRewritten && code === null && lastCode !== null) {
      lastCode = '';
      ctx.events?.onCode?.('');
    }
    emitCode(code);
  };
  let lastCode: string | null = null;
  let toolCallId: string | undefined;
  let toolName: string | undefined;
  let toolArguments: string | undefined;
  let finishReason: string | null = null;
  let model: string | undefined;
  let usage: TokenUsage | undefined;

  const emitCode = (code: string | null) => {
    if (code === null || code === lastCode) return;
    lastCode = code;
    ctx.events?.onCode?.(code);
  };
  const abortedOutcome = () => {
    const reason = abortReason!;
    return reason === 'user'
      ? abortedError()
      : timeoutError(reason, reason === 'idle' ? ctx.idleTimeoutMs : ctx.totalTimeoutMs, hasStreamed);
  };

  try {
    const client = new OpenAI({
      apiKey: cfg.apiKey || NO_KEY_PLACEHOLDER,
      baseURL: cfg.baseURL ?? OPENAI_BASE_URL,
      maxRetries: 0,
      // Our own timers govern; the client's is a backstop just past them.
      timeout: ctx.totalTimeoutMs + 1_000,
      // Errors are mapped here; the client must not print to the console (tests treat that as a failure).
      logLevel: 'off',
    });
    const params: ChatCompletionCreateParamsStreaming = {
      model: cfg.model,
      messages: ctx.messages,
      stream: true,
      stream_options: { include_usage: true },
      ...(isOpenAIHost(cfg)
        ? { max_completion_tokens: ctx.maxTokens } // newer OpenAI models reject max_tokens
        : { max_tokens: ctx.maxTokens }), // local servers know only max_tokens
      ...(ctx.isToolsOffered && { tools: [RUN_PYTHON_TOOL], tool_choice: 'auto' as const }),
    };
    const stream = await client.chat.completions.create(params, { signal: controller.signal });
    isInStream = true;
    armIdle();

    for await (const chunk of stream as AsyncIterable<ChatCompletionChunk>) {
      armIdle();
      model ??= chunk.model;
      if (chunk.usage) {
        usage = {
          promptTokens: chunk.usage.prompt_tokens,
          completionTokens: chunk.usage.completion_tokens,
          totalTokens: chunk.usage.total_tokens,
        };
      }
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      const delta = (choice.delta ?? {}) as ChatCompletionChunk.Choice.Delta & { reasoning_content?: unknown; reasoning?: unknown };
      // reasoning_content: DeepSeek, vLLM, llama.cpp; reasoning: OpenRouter, Ollama, newer vLLM
      for (const field of [delta.reasoning_content, delta.reasoning]) {
        if (typeof field === 'string' && field.length > 0) {
          hasStreamed = true;
          fieldThoughts += field;
        }
      }
      if (typeof delta.content === 'string' && delta.content.length > 0) {
        hasStreamed = true;
        const isRewritten = splitter.push(delta.content);
        onContent(isRewritten);
      }
      emitThoughts();
      // Only the first tool call is run; a model asked for one cell at a time.
      const call = delta.tool_calls?.find((c) => (c.index ?? 0) === 0);
      if (call) {
        hasStreamed = true;
        if (call.id) toolCallId = call.id;
        if (call.function?.name) toolName = (toolName ?? '') + call.function.name;
        toolArguments = (toolArguments ?? '') + (call.function?.arguments ?? '');
        emitCode(partialJsonCode(toolArguments));
      }
      if (choice.finish_reason) finishReason = choice.finish_reason;
    }
  } catch (err) {
    if (abortReason !== null) throw abortedOutcome();
    const error = toProviderError(err, cfg, hasStreamed, isInStream);
    // A cut after the finish chunk loses only the usage chunk and [DONE]: the answer is whole.
    if (!(error.code === 'STREAM_CUT' && finishReason !== null)) throw error;
  } finally {
    clearTimeout(idleTimer);
    clearTimeout(totalTimer);
    ctx.signal?.removeEventListener('abort', onUserAbort);
  }

  // The client ends the iteration quietly when its request is aborted: tell why.
  if (abortReason !== null) throw abortedOutcome();
  onContent(splitter.end());
  emitThoughts();
  const thoughts = allThoughts() || undefined;
  if (finishReason === null) {
    throw new ProviderError('STREAM_CUT', 'The connection to the model was cut before its answer was complete.', {
      hasStreamed,
      isRetryable: !hasStreamed,
    });
  }

  if (toolArguments !== undefined) {
    let code: string | null = null;
    try {
      const args = JSON.parse(toolArguments) as unknown;
      if (typeof args === 'object' && args !== null && typeof (args as { code?: unknown }).code === 'string') {
        code = (args as { code: string }).code;
      }
    } catch {
      // Local models sometimes send almost-JSON; take what the lenient decoder can read.
      code = partialJsonCode(toolArguments);
    }
    if (code !== null) emitCode(code);
    return {
      text,
      ...(thoughts ? { thoughts } : {}),
      prose: text.trim(),
      code,
      via: code === null ? null : 'tool',
      toolCallId: toolCallId ?? `call_${Date.now().toString(36)}`,
      toolName: toolName ?? RUN_PYTHON_TOOL_NAME,
      toolArguments,
      finishReason,
      model,
      usage,
    };
  }

  const extracted = extractCode(text);
  if (extracted.code !== null) emitCode(extracted.code);
  return {
    text,
    ...(thoughts ? { thoughts } : {}),
    prose: extracted.prose,
    code: extracted.code,
    via: extracted.via,
    finishReason,
    model,
    usage,
  };
}

/**
 * One model turn, streamed: offers the run_python tool, reports the code as it grows, and returns
 * the code from a tool call, a fenced block or a tool call printed as text. Retries 429, 5xx and
 * connection errors with exponential backoff while nothing has streamed yet; never retries 401
 * or 404. Never hangs: an idle stream or the whole turn past `timeoutMs` ends in TIMEOUT.
 */
export async function streamTurn(
  cfg: ModelConfig,
  messages: ChatMessage[],
  opts: StreamTurnOptions = {},
): Promise<ModelTurn> {
  const totalTimeoutMs = opts.timeoutMs ?? GENERATION_TIMEOUT_MS;
  const retries = Math.max(0, opts.retries ?? PROVIDER_RETRIES);
  const baseDelay = opts.retryBaseDelayMs ?? PROVIDER_RETRY_BASE_DELAY_MS;
  const maxDelay = opts.retryMaxDelayMs ?? PROVIDER_RETRY_MAX_DELAY_MS;
  const deadline = Date.now() + totalTimeoutMs;
  let isToolsOffered = opts.tools ?? true;
  let requestCount = 0;

  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw abortedError();
    requestCount++;
    try {
      const result = await attemptOnce({
        cfg,
        messages,
        isToolsOffered,
        maxTokens: opts.maxTokens ?? MAX_COMPLETION_TOKENS,
        deadline,
        idleTimeoutMs: opts.idleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS,
        totalTimeoutMs,
        signal: opts.signal,
        events: opts.events,
      });
      return { ...result, requestCount };
    } catch (err) {
      const error = err instanceof ProviderError ? err : toProviderError(err, cfg, false, false);
      if (isToolsOffered && isToolsUnsupported(error)) {
        // The model cannot take tools: ask again without, and read fences / printed calls instead.
        isToolsOffered = false;
        attempt--;
        continue;
      }
      if (!error.isRetryable || error.hasStreamed || attempt >= retries) throw error;
      const delay = backoffDelay(attempt, error, baseDelay, maxDelay);
      if (Date.now() + delay >= deadline) throw error;
      await sleep(delay, opts.signal);
    }
  }
}
