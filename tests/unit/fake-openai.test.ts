// The fake endpoint must speak the real wire format: these tests read it with the official
// `openai` client and with plain fetch, so a drift from OpenAI's format fails here first.
import OpenAI, { APIError } from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LATE_REQUEST_MESSAGE, NO_SCRIPTED_REPLY_MESSAGE, NO_TEST_MESSAGE, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { scaled } from '../support/timing';

let fake: FakeOpenAI;
let client: OpenAI;

beforeEach(async () => {
  fake = await startFakeOpenAI();
  client = new OpenAI({ apiKey: 'sk-test', baseURL: fake.url, maxRetries: 0, logLevel: 'off' });
});
afterEach(async () => {
  await fake.close();
});

const userMessage = [{ role: 'user' as const, content: 'hi' }];

describe('fake-openai', () => {
  it('serves its base URL on loopback ending in /v1 and lists the model', async () => {
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['fake-model']);
  });

  it('streams content deltas the openai client reassembles, then [DONE]', async () => {
    fake.script([{ content: 'Hello, notebook world!', chunkSize: 5 }]);
    const stream = await client.chat.completions.create({ model: 'm1', messages: userMessage, stream: true });
    const deltas: string[] = [];
    const finish: (string | null)[] = [];
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      expect(chunk.model).toBe('m1');
      const choice = chunk.choices[0]!;
      if (choice.delta.content) deltas.push(choice.delta.content);
      finish.push(choice.finish_reason);
    }
    expect(deltas).toEqual(['Hello', ', not', 'ebook', ' worl', 'd!']);
    expect(finish.at(-1)).toBe('stop');
    expect(finish.slice(0, -1).every((f) => f === null)).toBe(true);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0].messages).toEqual(userMessage);
    expect(fake.requests[0].stream).toBe(true);
  });

  it('sends the exact SSE framing on the wire', async () => {
    fake.script([{ content: 'ab', chunkSize: 1 }]);
    const res = await fetch(`${fake.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: userMessage, stream: true }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const raw = await res.text();
    const frames = raw.split('\n\n').filter(Boolean);
    expect(frames.every((f) => f.startsWith('data: '))).toBe(true);
    expect(frames.at(-1)).toBe('data: [DONE]');
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.slice('data: '.length)));
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('ab');
    expect(chunks.at(-1).choices[0]).toMatchObject({ index: 0, delta: {}, finish_reason: 'stop' });
    for (const c of chunks) expect(Object.keys(c)).toEqual(expect.arrayContaining(['id', 'object', 'created', 'model', 'choices']));
  });

  it('streams a tool call: id and name first, then the arguments in pieces', async () => {
    fake.script([{ toolCall: { name: 'run_python', arguments: { code: 'print("hi")\n' } }, chunkSize: 4 }]);
    const stream = await client.chat.completions.create({ model: 'm', messages: userMessage, stream: true });
    const calls: OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finishReason: string | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0]!;
      calls.push(...(choice.delta.tool_calls ?? []));
      finishReason = choice.finish_reason ?? finishReason;
    }
    expect(calls[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'run_python', arguments: '' } });
    expect(calls[0]!.id).toMatch(/^call_/);
    expect(calls.length).toBeGreaterThan(3);
    expect(calls.slice(1).every((c) => c.id === undefined && c.function?.name === undefined)).toBe(true);
    const args = calls.map((c) => c.function?.arguments ?? '').join('');
    expect(JSON.parse(args)).toEqual({ code: 'print("hi")\n' });
    expect(finishReason).toBe('tool_calls');
  });

  it('sends usage in a final chunk when stream_options.include_usage is set', async () => {
    fake.script([{ content: 'x' }]);
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: userMessage,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    expect(usage?.total_tokens).toBeGreaterThan(0);
  });

  it('answers a non-streaming request with a chat.completion', async () => {
    fake.script([{ content: 'plain' }, { toolCall: { name: 'run_python', arguments: '{"code":"1+1"}' } }]);
    const a = await client.chat.completions.create({ model: 'm', messages: userMessage });
    expect(a.object).toBe('chat.completion');
    expect(a.choices[0]!.message.content).toBe('plain');
    expect(a.choices[0]!.finish_reason).toBe('stop');
    const b = await client.chat.completions.create({ model: 'm', messages: userMessage });
    const call = b.choices[0]!.message.tool_calls![0]!;
    expect(call.type).toBe('function');
    expect(call.type === 'function' && call.function).toEqual({ name: 'run_python', arguments: '{"code":"1+1"}' });
    expect(b.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('answers scripted errors in OpenAI error shape, which the client maps to its error classes', async () => {
    fake.script([{ status: 401 }, { status: 429, headers: { 'retry-after': '1' } }, { status: 503, body: { error: { message: 'busy', type: 'server_error', code: null } } }]);
    const errors: APIError[] = [];
    for (let i = 0; i < 3; i++) {
      try {
        await client.chat.completions.create({ model: 'm', messages: userMessage, stream: true });
      } catch (err) {
        errors.push(err as APIError);
      }
    }
    expect(errors.map((e) => e.constructor.name)).toEqual(['AuthenticationError', 'RateLimitError', 'InternalServerError']);
    expect(errors.map((e) => e.status)).toEqual([401, 429, 503]);
    expect(errors[0]!.code).toBe('invalid_api_key');
    expect(errors[1]!.headers?.get('retry-after')).toBe('1');
    expect(errors[2]!.message).toContain('busy');
  });

  it('answers a 500 naming the cause when the script is exhausted', async () => {
    const res = await fetch(`${fake.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: userMessage }),
    });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: { message: NO_SCRIPTED_REPLY_MESSAGE, type: 'server_error', param: null, code: null },
    });
  });

  it('computes replies with respond() once the script is used up', async () => {
    fake.script([{ content: 'scripted' }]);
    fake.respond((body) => ({ content: `echo ${body.messages.at(-1).content}` }));
    const first = await client.chat.completions.create({ model: 'm', messages: userMessage });
    const second = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'again' }] });
    expect(first.choices[0]!.message.content).toBe('scripted');
    expect(second.choices[0]!.message.content).toBe('echo again');
    expect(fake.pending).toBe(0);
  });

  it('cuts a stream mid-way: the client sees an error, not a clean end', async () => {
    fake.script([{ cutAfterChars: 6, content: 'abcdefghijkl', chunkSize: 3 }]);
    const stream = await client.chat.completions.create({ model: 'm', messages: userMessage, stream: true });
    let text = '';
    await expect(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })(),
    ).rejects.toThrow();
    expect(text).toBe('abcdef');
  });

  it('sends a malformed data line the client cannot parse', async () => {
    fake.script([{ malformed: true }]);
    const stream = await client.chat.completions.create({ model: 'm', messages: userMessage, stream: true });
    await expect(
      (async () => {
        for await (const _ of stream) void _;
      })(),
    ).rejects.toThrow(SyntaxError);
  });

  it('hangs after the headers for hangMs, then ends without data', async () => {
    fake.script([{ hangMs: 150 }]);
    const started = Date.now();
    const stream = await client.chat.completions.create({ model: 'm', messages: userMessage, stream: true });
    const chunks: unknown[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('checks the API key when told to', async () => {
    const locked = await startFakeOpenAI({ apiKey: 'sk-right' });
    try {
      locked.script([{ content: 'ok' }]);
      const wrong = new OpenAI({ apiKey: 'sk-wrong', baseURL: locked.url, maxRetries: 0, logLevel: 'off' });
      await expect(wrong.chat.completions.create({ model: 'm', messages: userMessage })).rejects.toMatchObject({ status: 401 });
      const right = new OpenAI({ apiKey: 'sk-right', baseURL: locked.url, maxRetries: 0, logLevel: 'off' });
      const ok = await right.chat.completions.create({ model: 'm', messages: userMessage });
      expect(ok.choices[0]!.message.content).toBe('ok');
      expect(locked.received.at(-1)!.headers.authorization).toBe('Bearer sk-right');
    } finally {
      await locked.close();
    }
  });

  it('closes promptly even with a hanging response open', async () => {
    fake.script([{ hangMs: 60_000 }]);
    const pending = fetch(`${fake.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: userMessage, stream: true }),
    }).then((r) => r.text()).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await fake.close();
    expect(Date.now() - started).toBeLessThan(scaled(1_000));
    await pending;
    fake = await startFakeOpenAI(); // afterEach closes it
  });
});

// Issue 24: a reply scripted for one test never reaches another.
describe('fake-openai bound to tests', () => {
  const ask = (messages: any[]) => client.chat.completions.create({ model: 'm', messages });

  it('answers what a test left unused when it ends, and starts the next test empty', async () => {
    fake.beginTest('first');
    fake.script([{ content: 'used' }, { toolCall: { name: 'run_python', arguments: { code: 'print(1)' } } }, { content: 'The total is 8.' }]);
    await ask(userMessage);
    const left = fake.endTest();
    expect(left).toHaveLength(2);
    fake.beginTest('second');
    expect(fake.pending).toBe(0);
    expect(fake.requests).toEqual([]);
    // the second test's request gets the second test's reply, not the first's leftovers
    fake.script([{ content: 'mine' }]);
    expect((await ask(userMessage)).choices[0]!.message.content).toBe('mine');
    expect(fake.endTest()).toEqual([]);
  });

  it("a finished test's late request gets an error naming it, and leaves the next test's reply alone", async () => {
    fake.beginTest('writes code');
    fake.script([{ toolCall: { name: 'run_python', arguments: { code: 'print(1)' } } }, { content: 'Done early.' }]);
    const first = await ask(userMessage);
    const call = first.choices[0]!.message.tool_calls![0]!;
    fake.endTest();
    fake.beginTest('the next test');
    fake.script([{ content: 'for the next test' }]);
    // the first test's generation goes on: it sends the tool's output back
    const late = ask([...userMessage, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: '1' }]);
    await expect(late).rejects.toThrow(`${LATE_REQUEST_MESSAGE} ("writes code")`);
    // a late fix attempt that echoes the first test's text is refused the same way
    fake.endTest();
    fake.beginTest('third');
    fake.script([{ content: 'third reply' }]);
    await expect(ask([...userMessage, { role: 'assistant', content: 'Done early.' }, { role: 'user', content: 'again' }])).resolves.toBeTruthy();
    expect(fake.pending).toBe(0);
    fake.endTest();
    // 'for the next test' was never used: the late request did not take it
    fake.beginTest('fourth');
    fake.script([{ content: 'x' }]);
    await ask(userMessage);
    fake.endTest();
  });

  it('refuses a request between tests, and a reset() that would throw a test\'s replies away', async () => {
    fake.beginTest('a');
    fake.endTest();
    await expect(ask(userMessage)).rejects.toThrow(`${NO_TEST_MESSAGE} (after "a")`);
    fake.beginTest('b');
    fake.script([{ content: 'never asked for' }]);
    expect(() => fake.reset()).toThrow(/reset\(\) with 1 scripted reply of "b" never used: the text "never asked for"/);
    expect(fake.endTest()).toHaveLength(1);
  });
});
