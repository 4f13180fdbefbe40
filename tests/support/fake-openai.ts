// A small OpenAI-compatible HTTP server for tests: the one stand-in of the project, since no
// language model is reachable here. It speaks the real wire format of `POST /v1/chat/completions`
// (SSE chunks when `stream: true`, a chat.completion JSON otherwise) and `GET /v1/models`, and
// answers each request with the next scripted reply, including the failures a real endpoint
// produces: error statuses, a stream cut mid-way, a malformed chunk, a hang.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A reasoning model's thoughts sent before the reply, as DeepSeek, vLLM and llama.cpp stream them:
 * deltas `{content: null, reasoning_content: "..."}` (or `reasoning`, as OpenRouter and Ollama do).
 * (The other form, `<think>…</think>` inside the content, is just content: use `chunks` to split
 * the tags across chunks exactly.)
 */
export interface FakeReasoning {
  reasoning?: string;
  /** the delta field that carries it (default `reasoning_content`) */
  reasoningField?: 'reasoning_content' | 'reasoning';
}

export type FakeReply =
  | ({
      /** Assistant text, streamed in pieces of `chunkSize` characters (default 8). */
      content: string;
      chunkSize?: number;
      /** Stream exactly these pieces of `content` instead (they must join to it). */
      chunks?: string[];
      /** Delay before each streamed piece. */
      delayMs?: number;
      finishReason?: 'stop' | 'length';
    } & FakeReasoning)
  | ({
      /** A tool call; `arguments` as an object is JSON-encoded, a string is sent as is. */
      toolCall: { name: string; arguments: object | string; id?: string };
      /** Text streamed before the tool call, as some models do. */
      content?: string;
      chunkSize?: number;
      chunks?: string[];
      delayMs?: number;
    } & FakeReasoning)
  | {
      /** An error status with OpenAI's error JSON (or `body` as given). */
      status: number;
      body?: unknown;
      headers?: Record<string, string>;
    }
  | {
      /** Streams the first `cutAfterChars` characters of `content`, then destroys the socket. */
      cutAfterChars: number;
      content: string;
      chunkSize?: number;
    }
  | {
      /** Sends one valid chunk, then a `data:` line that is not JSON. */
      malformed: true;
    }
  | {
      /** Sends the 200 headers, then nothing for `hangMs`, then ends the response without data. */
      hangMs: number;
    };

export interface FakeRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export interface FakeOpenAI {
  /** Base URL ending in `/v1`, to pass as the client's `baseURL`. */
  url: string;
  /** The model `GET /v1/models` lists. */
  model: string;
  /** Parsed bodies of the chat completion requests received, in order. */
  requests: any[];
  /** Every request received, with method, path and headers. */
  received: FakeRequest[];
  /** Queue replies; each chat completion request takes the next one. */
  script(replies: FakeReply[]): void;
  /** Compute replies from the request once the script is exhausted. */
  respond(responder: ((body: any) => FakeReply) | null): void;
  /** Scripted replies not yet used. */
  readonly pending: number;
  /**
   * Clear the script, the responder and the recorded requests. Inside a test (see `beginTest`),
   * replies still scripted are an error: a test that throws its script away hides a reply it meant
   * to be used.
   */
  reset(): void;
  /**
   * Binds what follows to one test: the script, a responder set during it and the recorded
   * requests start empty. A request that carries a reply served to an earlier test (a generation
   * that outlived its test) gets a 500 naming that test, never this test's reply.
   */
  beginTest(name: string): void;
  /**
   * Ends the test `beginTest` named: answers the replies it scripted and never used (a test should
   * fail on them), and clears them. Until the next `beginTest`, a completion request gets a 500
   * saying no test is running.
   */
  endTest(): FakeReply[];
  close(): Promise<void>;
}

export interface FakeOpenAIOptions {
  model?: string;
  /** When set, requests without `Authorization: Bearer <apiKey>` get a 401. */
  apiKey?: string;
  /** Record requests (default true); the long-running offline demo turns it off. */
  keepRequests?: boolean;
}

export const NO_SCRIPTED_REPLY_MESSAGE = 'fake-openai: no scripted reply left';
export const LATE_REQUEST_MESSAGE = 'fake-openai: a late request of a test that has ended';
export const NO_TEST_MESSAGE = 'fake-openai: a request between tests';

/** A reply as a person reading a test failure recognises it: its kind and the start of its text. */
export function describeReply(reply: FakeReply): string {
  const cut = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);
  if ('status' in reply) return `an error status ${reply.status}`;
  if ('toolCall' in reply) return `a ${reply.toolCall.name} tool call ${cut(typeof reply.toolCall.arguments === 'string' ? reply.toolCall.arguments : JSON.stringify(reply.toolCall.arguments))}`;
  if ('cutAfterChars' in reply) return `a stream cut after ${reply.cutAfterChars} characters of ${cut(reply.content)}`;
  if ('malformed' in reply) return 'a malformed chunk';
  if ('hangMs' in reply) return `a hang of ${reply.hangMs} ms`;
  return `the text ${cut(reply.content)}`;
}

/** What an assistant message of a request echoes of a reply served earlier: its text, its tool call ids. */
function echoedKeys(body: any): string[] {
  const keys: string[] = [];
  for (const m of Array.isArray(body?.messages) ? body.messages : []) {
    if (m?.role === 'assistant') {
      if (typeof m.content === 'string' && m.content.trim()) keys.push(`text:${m.content.trim()}`);
      for (const call of Array.isArray(m.tool_calls) ? m.tool_calls : []) if (typeof call?.id === 'string') keys.push(`call:${call.id}`);
    }
    if (m?.role === 'tool' && typeof m.tool_call_id === 'string') keys.push(`call:${m.tool_call_id}`);
  }
  return keys;
}

const ERROR_DEFAULTS: Record<number, { message: string; type: string; code: string | null }> = {
  400: { message: 'Bad request.', type: 'invalid_request_error', code: null },
  401: {
    message: 'Incorrect API key provided: sk-fake***. You can find your API key at https://platform.openai.com/account/api-keys.',
    type: 'invalid_request_error',
    code: 'invalid_api_key',
  },
  403: { message: 'You are not allowed to use this model.', type: 'invalid_request_error', code: null },
  404: {
    message: 'The model does not exist or you do not have access to it.',
    type: 'invalid_request_error',
    code: 'model_not_found',
  },
  429: {
    message: 'Rate limit reached for requests. Please try again in 20ms.',
    type: 'requests',
    code: 'rate_limit_exceeded',
  },
  500: { message: 'The server had an error while processing your request.', type: 'server_error', code: null },
  502: { message: 'Bad gateway.', type: 'server_error', code: null },
  503: { message: 'The engine is currently overloaded, please try again later.', type: 'server_error', code: null },
};

function errorBody(status: number, message?: string) {
  const d = ERROR_DEFAULTS[status] ?? { message: `Error ${status}.`, type: 'server_error', code: null };
  return { error: { message: message ?? d.message, type: d.type, param: null, code: d.code } };
}

function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  const step = Math.max(1, size);
  for (let i = 0; i < text.length; i += step) out.push(text.slice(i, i + step));
  return out;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const model = options.model ?? 'fake-model';
  let queue: FakeReply[] = [];
  let responder: ((body: any) => FakeReply) | null = null;
  const requests: any[] = [];
  const received: FakeRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let completionSeq = 0;
  let isClosing = false;
  // The test the script belongs to (null: no binding, the fake's plain use; see beginTest).
  let test: { name: string; isOpen: boolean; servedKeys: Set<string>; isResponderOwn: boolean } | null = null;
  // Text and tool call ids served to tests that have ended, with the test's name.
  const servedBefore = new Map<string, string>();

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };

  const isOpen = (res: ServerResponse) => !res.destroyed && !res.writableEnded && !isClosing;

  async function handleCompletion(req: IncomingMessage, res: ServerResponse, body: any) {
    if (test) {
      const keys = echoedKeys(body);
      const late = keys.find((k) => servedBefore.has(k) && !test!.servedKeys.has(k));
      if (late) {
        sendJson(res, 500, errorBody(500, `${LATE_REQUEST_MESSAGE} ("${servedBefore.get(late)}"): its generation outlived it`));
        return;
      }
      if (!test.isOpen) {
        sendJson(res, 500, errorBody(500, `${NO_TEST_MESSAGE} (after "${test.name}")`));
        return;
      }
    }
    if (options.keepRequests !== false) requests.push(body);
    const reply = queue.shift() ?? (responder ? responder(body) : null);
    if (!reply) {
      sendJson(res, 500, errorBody(500, NO_SCRIPTED_REPLY_MESSAGE));
      return;
    }
    if ('status' in reply) {
      sendJson(res, reply.status, reply.body ?? errorBody(reply.status), reply.headers);
      return;
    }

    const seq = ++completionSeq;
    const id = `chatcmpl-fake${seq}`;
    const callId = 'toolCall' in reply ? (reply.toolCall.id ?? `call_fake${seq}`) : '';
    if (test) {
      if ('content' in reply && typeof reply.content === 'string' && reply.content.trim()) test.servedKeys.add(`text:${reply.content.trim()}`);
      if (callId) test.servedKeys.add(`call:${callId}`);
    }
    const created = Math.floor(Date.now() / 1000);
    const replyModel = typeof body?.model === 'string' ? body.model : model;
    const isStream = body?.stream === true;
    const wantsUsage = body?.stream_options?.include_usage === true;

    if (!isStream) {
      if ('hangMs' in reply) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        later(reply.hangMs, () => isOpen(res) && res.end());
        return;
      }
      if ('malformed' in reply) {
        sendJson(res, 200, '{"id": "chatcmpl-broken", "choices": [');
        return;
      }
      const content = 'content' in reply && reply.content !== undefined ? reply.content : null;
      if ('cutAfterChars' in reply) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const full = JSON.stringify({ id, object: 'chat.completion', created, model: replyModel, choices: [] });
        res.write(full.slice(0, Math.min(full.length - 1, reply.cutAfterChars)), () => res.destroy());
        return;
      }
      const toolCall = 'toolCall' in reply ? reply.toolCall : null;
      const completionTokens = Math.ceil((content ?? '').length / 4);
      sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model: replyModel,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content,
              refusal: null,
              ...('reasoning' in reply && reply.reasoning ? { [reply.reasoningField ?? 'reasoning_content']: reply.reasoning } : {}),
              ...(toolCall && {
                tool_calls: [
                  {
                    id: callId,
                    type: 'function',
                    function: {
                      name: toolCall.name,
                      arguments:
                        typeof toolCall.arguments === 'string' ? toolCall.arguments : JSON.stringify(toolCall.arguments),
                    },
                  },
                ],
              }),
            },
            logprobs: null,
            finish_reason: toolCall ? 'tool_calls' : 'stop',
          },
        ],
        usage: { prompt_tokens: 10, completion_tokens: completionTokens, total_tokens: 10 + completionTokens },
      });
      return;
    }

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();

    if ('hangMs' in reply) {
      later(reply.hangMs, () => isOpen(res) && res.end());
      return;
    }

    const chunk = (delta: object, finishReason: string | null = null) =>
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model: replyModel,
        system_fingerprint: 'fp_fake',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      })}\n\n`;
    const write = (frame: string) => new Promise<void>((resolve) => (isOpen(res) ? res.write(frame, () => resolve()) : resolve()));
    const pause = async (ms: number | undefined) => {
      if (ms && ms > 0) await sleep(ms);
    };

    await write(chunk({ role: 'assistant', content: '', refusal: null }));

    if ('malformed' in reply) {
      await write('data: {"id": "chatcmpl-broken", "choices": [{"delta": {"content": "pri\n\n');
      if (isOpen(res)) res.end();
      return;
    }

    if ('cutAfterChars' in reply) {
      const sent = reply.content.slice(0, reply.cutAfterChars);
      for (const piece of pieces(sent, reply.chunkSize ?? 8)) await write(chunk({ content: piece }));
      // Destroy the socket without the terminating chunk of the chunked encoding: a real cut.
      res.socket?.destroy();
      return;
    }

    const chunkSize = reply.chunkSize ?? 8;
    const text = 'content' in reply ? (reply.content ?? '') : '';
    if (reply.reasoning) {
      const field = reply.reasoningField ?? 'reasoning_content';
      for (const piece of pieces(reply.reasoning, chunkSize)) {
        await pause(reply.delayMs);
        if (!isOpen(res)) return;
        await write(chunk({ content: null, [field]: piece }));
      }
    }
    if (reply.chunks && reply.chunks.join('') !== text) throw new Error('fake-openai: chunks do not join to content');
    for (const piece of reply.chunks ?? pieces(text, chunkSize)) {
      await pause(reply.delayMs);
      if (!isOpen(res)) return;
      await write(chunk({ content: piece }));
    }

    let finishReason: string = 'finishReason' in reply && reply.finishReason ? reply.finishReason : 'stop';
    let argsLength = 0;
    if ('toolCall' in reply) {
      const call = reply.toolCall;
      const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
      argsLength = args.length;
      await pause(reply.delayMs);
      await write(
        chunk({
          tool_calls: [
            { index: 0, id: callId, type: 'function', function: { name: call.name, arguments: '' } },
          ],
        }),
      );
      for (const piece of pieces(args, chunkSize)) {
        await pause(reply.delayMs);
        if (!isOpen(res)) return;
        await write(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
      }
      finishReason = 'tool_calls';
    }

    await write(chunk({}, finishReason));
    if (wantsUsage) {
      // roughly 4 characters a token, as OpenAI's tokenizers average on English and code
      const completionTokens = Math.ceil((text.length + argsLength + (reply.reasoning?.length ?? 0)) / 4) + 1;
      await write(
        `data: ${JSON.stringify({
          id,
          object: 'chat.completion.chunk',
          created,
          model: replyModel,
          choices: [],
          usage: { prompt_tokens: 10, completion_tokens: completionTokens, total_tokens: 10 + completionTokens },
        })}\n\n`,
      );
    }
    await write('data: [DONE]\n\n');
    if (isOpen(res)) res.end();
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = undefined;
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      const path = (req.url ?? '/').split('?')[0]!;
      if (options.keepRequests !== false) received.push({ method: req.method ?? 'GET', path, headers: req.headers, body });

      if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
        sendJson(res, 401, errorBody(401));
        return;
      }
      if (req.method === 'GET' && path === '/v1/models') {
        sendJson(res, 200, {
          object: 'list',
          data: [{ id: model, object: 'model', created: 1_700_000_000, owned_by: 'fake-openai' }],
        });
        return;
      }
      if (req.method === 'POST' && path === '/v1/chat/completions') {
        if (typeof body !== 'object' || body === null) {
          sendJson(res, 400, errorBody(400, 'fake-openai: the request body is not a JSON object'));
          return;
        }
        handleCompletion(req, res, body).catch((err) => {
          if (!res.headersSent) sendJson(res, 500, errorBody(500, `fake-openai: ${String(err)}`));
          else res.destroy();
        });
        return;
      }
      sendJson(res, 404, errorBody(404, `fake-openai: no route for ${req.method} ${path}`));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    model,
    requests,
    received,
    script(replies) {
      queue.push(...replies);
    },
    respond(fn) {
      responder = fn;
      if (test?.isOpen) test.isResponderOwn = fn !== null;
    },
    get pending() {
      return queue.length;
    },
    reset() {
      if (test?.isOpen && queue.length) {
        const left = queue.map(describeReply).join('; ');
        throw new Error(`fake-openai: reset() with ${queue.length} scripted repl${queue.length === 1 ? 'y' : 'ies'} of "${test.name}" never used: ${left}`);
      }
      queue = [];
      responder = null;
      requests.length = 0;
      received.length = 0;
    },
    beginTest(name) {
      queue = [];
      if (test?.isResponderOwn) responder = null;
      requests.length = 0;
      received.length = 0;
      test = { name, isOpen: true, servedKeys: new Set(), isResponderOwn: false };
    },
    endTest() {
      const left = queue;
      queue = [];
      if (!test) return left;
      for (const k of test.servedKeys) servedBefore.set(k, test.name);
      if (test.isResponderOwn) responder = null;
      test = { ...test, isOpen: false, servedKeys: new Set(), isResponderOwn: false };
      return left;
    },
    async close() {
      isClosing = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
