// The model client against the fake OpenAI-compatible endpoint, over real HTTP.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  assistantMessageFor,
  modelConfigFromEnv,
  ProviderError,
  streamTurn,
  toolResultMessage,
  type ChatMessage,
  type ModelConfig,
} from '../../server/ai/provider';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { scaled } from '../support/timing';

let fake: FakeOpenAI;
let cfg: ModelConfig;
const messages: ChatMessage[] = [
  { role: 'system', content: 'You write Python for a notebook.' },
  { role: 'user', content: 'print hello' },
];
// Short delays so retry tests stay fast; the retry logic itself is what is under test.
const fast = { retryBaseDelayMs: 10, retryMaxDelayMs: 50 };

beforeEach(async () => {
  fake = await startFakeOpenAI();
  cfg = { apiKey: 'sk-test-secret', baseURL: fake.url, model: 'fake-model', endpointName: new URL(fake.url).host };
});
afterEach(async () => {
  await fake.close();
});

async function expectProviderError(promise: Promise<unknown>, code: ProviderError['code']): Promise<ProviderError> {
  const err = await promise.then(
    () => {
      throw new Error(`expected a ProviderError ${code}, but the turn succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderError);
  expect((err as ProviderError).code).toBe(code);
  expect((err as ProviderError).message).not.toContain('sk-test-secret');
  return err as ProviderError;
}

describe('modelConfigFromEnv', () => {
  it('is null when nothing is configured', () => {
    expect(modelConfigFromEnv({})).toBeNull();
    expect(modelConfigFromEnv({ OPENAI_MODEL: 'llama3' })).toBeNull();
    expect(modelConfigFromEnv({ OPENAI_API_KEY: '  ' })).toBeNull();
  });

  it('defaults to OpenAI and gpt-4o-mini with only a key', () => {
    expect(modelConfigFromEnv({ OPENAI_API_KEY: 'sk-abc' })).toEqual({
      apiKey: 'sk-abc',
      baseURL: undefined,
      model: 'gpt-4o-mini',
      endpointName: 'openai',
    });
  });

  it('takes a local endpoint without a key, named by its host only', () => {
    const c = modelConfigFromEnv({ OPENAI_BASE_URL: 'http://user:pw@localhost:11434/v1?key=x', OPENAI_MODEL: 'qwen2.5-coder' });
    expect(c).toEqual({
      apiKey: undefined,
      baseURL: 'http://user:pw@localhost:11434/v1?key=x',
      model: 'qwen2.5-coder',
      endpointName: 'localhost:11434',
    });
  });

  it('fails loudly on a base URL that is not a URL', () => {
    expect(() => modelConfigFromEnv({ OPENAI_BASE_URL: 'localhost:11434' })).toThrow(/OPENAI_BASE_URL/);
    expect(() => modelConfigFromEnv({ OPENAI_BASE_URL: 'not a url' })).toThrow(/OPENAI_BASE_URL/);
  });
});

describe('streamTurn', () => {
  it('reads a plain fenced reply, reporting text and code as they grow', async () => {
    const reply = 'Here you go:\n```python\nprint("hello")\nx = 41 + 1\n```\nThis prints hello.';
    fake.script([{ content: reply, chunkSize: 3 }]);
    const texts: string[] = [];
    const codes: string[] = [];
    const turn = await streamTurn(cfg, messages, {
      events: { onText: (t) => texts.push(t), onCode: (c) => codes.push(c) },
    });
    expect(turn).toMatchObject({
      text: reply,
      code: 'print("hello")\nx = 41 + 1',
      prose: 'Here you go:\n\nThis prints hello.',
      via: 'fence',
      finishReason: 'stop',
      model: 'fake-model',
      requestCount: 1,
    });
    expect(turn.usage?.totalTokens).toBeGreaterThan(0);
    expect(texts.at(-1)).toBe(reply);
    expect(codes.length).toBeGreaterThan(3);
    expect(codes.at(-1)).toBe('print("hello")\nx = 41 + 1');
    // The request offered the run_python tool and carried the conversation.
    const body = fake.requests[0];
    expect(body.stream).toBe(true);
    expect(body.model).toBe('fake-model');
    expect(body.messages).toEqual(messages);
    expect(body.tools[0].function.name).toBe('run_python');
    expect(body.tools[0].function.parameters.required).toEqual(['code']);
    expect(body.max_tokens).toBeGreaterThan(0);
    expect(fake.received[0]!.headers.authorization).toBe('Bearer sk-test-secret');
  });

  it('reads a tool-call reply, with onCode called on growing code', async () => {
    const code = 'import math\nprint("pi =", math.pi)\n';
    fake.script([{ toolCall: { name: 'run_python', arguments: { code }, id: 'call_abc' }, chunkSize: 5 }]);
    const codes: string[] = [];
    const turn = await streamTurn(cfg, messages, { events: { onCode: (c) => codes.push(c) } });
    expect(turn).toMatchObject({ code, via: 'tool', toolCallId: 'call_abc', toolName: 'run_python', finishReason: 'tool_calls' });
    expect(codes.length).toBeGreaterThan(4);
    for (let i = 1; i < codes.length; i++) {
      expect(codes[i]!.length).toBeGreaterThan(codes[i - 1]!.length);
      expect(codes[i]!.startsWith(codes[i - 1]!)).toBe(true);
    }
    expect(codes.at(-1)).toBe(code);
    // The history messages for the next attempt follow the tool-call protocol.
    expect(assistantMessageFor(turn)).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_abc', type: 'function', function: { name: 'run_python', arguments: JSON.stringify({ code }) } }],
    });
    expect(toolResultMessage(turn, 'pi = 3.14')).toEqual({ role: 'tool', tool_call_id: 'call_abc', content: 'pi = 3.14' });
  });

  it('sends the traceback of a failed run back to the model on the next turn', async () => {
    fake.script([
      { toolCall: { name: 'run_python', arguments: { code: '1/0' }, id: 'call_1' } },
      { toolCall: { name: 'run_python', arguments: { code: 'print(1)' }, id: 'call_2' } },
    ]);
    const first = await streamTurn(cfg, messages);
    const traceback = 'ZeroDivisionError: division by zero';
    const second = await streamTurn(cfg, [...messages, assistantMessageFor(first), toolResultMessage(first, traceback)]);
    expect(second.code).toBe('print(1)');
    const sent = fake.requests[1].messages;
    expect(sent.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_1', content: traceback });
  });

  it('reads a tool call printed as text', async () => {
    fake.script([
      { content: '<tool_call>\n{"name": "run_python", "arguments": {"code": "print(\\"from text\\")"}}\n</tool_call>', chunkSize: 7 },
    ]);
    const codes: string[] = [];
    const turn = await streamTurn(cfg, messages, { events: { onCode: (c) => codes.push(c) } });
    expect(turn).toMatchObject({ code: 'print("from text")', via: 'text-tool', prose: '' });
    expect(codes.at(-1)).toBe('print("from text")');
    expect(codes.every((c) => !c.includes('run_python'))).toBe(true);
    expect(toolResultMessage(turn, 'out')).toEqual({ role: 'user', content: 'out' });
  });

  it('returns prose without code when the model only answers', async () => {
    fake.script([{ content: 'The mean revenue is 4.2k.' }]);
    const turn = await streamTurn(cfg, messages, { tools: false });
    expect(turn).toMatchObject({ code: null, via: null, prose: 'The mean revenue is 4.2k.' });
    expect(fake.requests[0].tools).toBeUndefined();
  });

  it('maps 401 to AUTH without retrying', async () => {
    fake.script([{ status: 401 }, { content: 'never sent' }]);
    const err = await expectProviderError(streamTurn(cfg, messages, fast), 'AUTH');
    expect(err.status).toBe(401);
    expect(err.message).toBe('The model endpoint rejected the API key (401). Check OPENAI_API_KEY on the server.');
    expect(fake.requests).toHaveLength(1);
  });

  it('maps 404 to MODEL_NOT_FOUND without retrying', async () => {
    fake.script([{ status: 404 }, { content: 'never sent' }]);
    const err = await expectProviderError(streamTurn(cfg, messages, fast), 'MODEL_NOT_FOUND');
    expect(err.message).toContain('"fake-model"');
    expect(err.message).toContain('OPENAI_MODEL');
    expect(fake.requests).toHaveLength(1);
  });

  it('retries a 500 and succeeds', async () => {
    fake.script([{ status: 500 }, { content: '```python\nprint(2)\n```' }]);
    const turn = await streamTurn(cfg, messages, fast);
    expect(turn.code).toBe('print(2)');
    expect(turn.requestCount).toBe(2);
    expect(fake.requests).toHaveLength(2);
  });

  it('retries a 429 and succeeds, honouring retry-after', async () => {
    fake.script([{ status: 429, headers: { 'retry-after-ms': '120' } }, { content: '```python\nprint(3)\n```' }]);
    const started = Date.now();
    const turn = await streamTurn(cfg, messages, { retryBaseDelayMs: 1, retryMaxDelayMs: 1_000 });
    expect(turn.code).toBe('print(3)');
    expect(fake.requests).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });

  it('caps retry-after and gives up after the retry budget', async () => {
    fake.script([{ status: 503, headers: { 'retry-after': '3600' } }, { status: 503 }, { status: 503 }, { content: 'never' }]);
    const started = Date.now();
    const err = await expectProviderError(streamTurn(cfg, messages, { ...fast, retries: 2 }), 'SERVER');
    expect(err.status).toBe(503);
    expect(fake.requests).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(scaled(2_000));
  });

  it('maps an unreachable endpoint to UNREACHABLE after retrying', async () => {
    const url = fake.url;
    await fake.close();
    const err = await expectProviderError(streamTurn({ ...cfg, baseURL: url }, messages, { ...fast, retries: 1 }), 'UNREACHABLE');
    expect(err.message).toContain(cfg.endpointName);
    fake = await startFakeOpenAI();
  });

  it('maps a stream cut mid-way to STREAM_CUT, without retrying once text has arrived', async () => {
    fake.script([{ cutAfterChars: 12, content: '```python\nprint("a long line")\n```' }, { content: 'never' }]);
    const codes: string[] = [];
    const err = await expectProviderError(
      streamTurn(cfg, messages, { ...fast, events: { onCode: (c) => codes.push(c) } }),
      'STREAM_CUT',
    );
    expect(err.hasStreamed).toBe(true);
    expect(codes.at(-1)).toBe('pr');
    expect(fake.requests).toHaveLength(1);
  });

  it('maps a malformed chunk to MALFORMED', async () => {
    fake.script([{ malformed: true }]);
    await expectProviderError(streamTurn(cfg, messages, fast), 'MALFORMED');
  });

  it('maps a hang to TIMEOUT (total timeout)', async () => {
    fake.script([{ hangMs: 10_000 }]);
    const started = Date.now();
    await expectProviderError(streamTurn(cfg, messages, { ...fast, timeoutMs: 300 }), 'TIMEOUT');
    expect(Date.now() - started).toBeLessThan(scaled(2_000));
  });

  it('maps silence between chunks to TIMEOUT (idle timeout)', async () => {
    fake.script([{ content: 'slow reply', chunkSize: 2, delayMs: 400 }]);
    const started = Date.now();
    const err = await expectProviderError(streamTurn(cfg, messages, { ...fast, idleTimeoutMs: 150 }), 'TIMEOUT');
    expect(err.message).toMatch(/sent nothing/);
    expect(Date.now() - started).toBeLessThan(scaled(2_000));
  });

  it('maps an abort to ABORTED, mid-stream and before the start', async () => {
    fake.script([{ content: '```python\n' + 'x = 1\n'.repeat(50) + '```', chunkSize: 4, delayMs: 20 }]);
    const controller = new AbortController();
    const codes: string[] = [];
    const turn = streamTurn(cfg, messages, {
      signal: controller.signal,
      events: {
        onCode: (c) => {
          codes.push(c);
          if (c.length > 10) controller.abort();
        },
      },
    });
    await expectProviderError(turn, 'ABORTED');
    expect(codes.length).toBeGreaterThan(0);

    const already = new AbortController();
    already.abort();
    await expectProviderError(streamTurn(cfg, messages, { signal: already.signal }), 'ABORTED');
    expect(fake.requests).toHaveLength(1);
  });

  it('stops waiting for a retry when aborted during the backoff', async () => {
    fake.script([{ status: 500 }, { content: 'never' }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    await expectProviderError(
      streamTurn(cfg, messages, { signal: controller.signal, retryBaseDelayMs: 5_000, retryMaxDelayMs: 5_000 }),
      'ABORTED',
    );
    expect(Date.now() - started).toBeLessThan(scaled(1_000));
    expect(fake.requests).toHaveLength(1);
  });

  it('asks again without tools when the model does not support them (Ollama)', async () => {
    fake.script([
      {
        status: 400,
        body: { error: { message: 'registry.ollama.ai/library/gemma:2b does not support tools', type: 'api_error', code: null } },
      },
      { content: '```python\nprint(4)\n```' },
    ]);
    const turn = await streamTurn(cfg, messages, { ...fast, retries: 0 });
    expect(turn).toMatchObject({ code: 'print(4)', via: 'fence', requestCount: 2 });
    expect(fake.requests[0].tools).toBeDefined();
    expect(fake.requests[1].tools).toBeUndefined();
  });

  it('works against a local endpoint without a key', async () => {
    const local = modelConfigFromEnv({ OPENAI_BASE_URL: fake.url, OPENAI_MODEL: 'llama3' })!;
    fake.script([{ content: '```py\nprint(5)\n```' }]);
    const turn = await streamTurn(local, messages);
    expect(turn.code).toBe('print(5)');
    expect(fake.requests[0].model).toBe('llama3');
    expect(fake.received[0]!.headers.authorization).toBe('Bearer not-needed');
  });
});
