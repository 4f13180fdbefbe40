// Thoughts of reasoning models are split from the answer, whatever the chunking, and never become
// code: the splitter alone, then whole turns against the fake endpoint in the real wire format.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ThinkSplitter, cutThoughts } from '../../server/ai/reasoning';
import { streamTurn, type ModelConfig } from '../../server/ai/provider';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';

function split(chunks: string[]) {
  const s = new ThinkSplitter();
  for (const c of chunks) s.push(c);
  s.end();
  return { thoughts: s.thoughts, answer: s.answer };
}

/** every way to cut `text` in two, and in single characters */
function cuts(text: string): string[][] {
  const out: string[][] = [[...text]];
  for (let i = 1; i < text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  return out;
}

describe('ThinkSplitter', () => {
  const reply = '<think>\nMaybe:\n```python\nprint("thought")\n```\n</think>\n\n```python\nprint("answer")\n```';

  it('splits <think>…</think> at the start, however the tags are cut across chunks', () => {
    for (const chunks of cuts(reply)) {
      const r = split(chunks);
      expect(r.thoughts).toBe('\nMaybe:\n```python\nprint("thought")\n```\n');
      expect(r.answer.trim()).toBe('```python\nprint("answer")\n```');
    }
  });

  it('takes "…</think>" without an opening tag (the template opened it) as thoughts', () => {
    for (const chunks of cuts('plan it\n</think>\nprint(1)')) {
      const r = split(chunks);
      expect(r.thoughts).toBe('plan it\n');
      expect(r.answer.trim()).toBe('print(1)');
    }
  });

  it('leaves replies without thoughts alone, and a <think> inside the answer is the answer', () => {
    expect(split(['Here: ```python\nprint(1)\n```'])).toEqual({ thoughts: '', answer: 'Here: ```python\nprint(1)\n```' });
    expect(split(['print("<think>")'])).toEqual({ thoughts: '', answer: 'print("<think>")' });
    expect(split(['<', 'b>bold</b>'])).toEqual({ thoughts: '', answer: '<b>bold</b>' });
  });

  it('an unclosed <think> stays thoughts', () => {
    expect(split(['<think>still ', 'thinking ```python\nx=1\n```'])).toEqual({ thoughts: 'still thinking ```python\nx=1\n```', answer: '' });
  });

  it('cuts long thoughts to a limit with a notice', () => {
    expect(cutThoughts('a'.repeat(50), 10)).toBe(`${'a'.repeat(10)}\n[… 40 more characters of thoughts not kept]`);
  });
});

describe('streamTurn with a reasoning model', () => {
  let fake: FakeOpenAI;
  let cfg: ModelConfig;
  beforeEach(async () => {
    fake = await startFakeOpenAI();
    cfg = { baseURL: fake.url, model: 'fake-model', endpointName: 'fake' };
  });
  afterEach(async () => {
    await fake.close();
  });

  for (const field of ['reasoning_content', 'reasoning'] as const) {
    it(`keeps a ${field} delta out of the text and the code`, async () => {
      fake.script([{ reasoning: 'I could try:\n```python\nimport os; os.remove("x")\n```\nNo.', reasoningField: field, content: '```python\nprint(2)\n```', chunkSize: 5 }]);
      const codes: string[] = [];
      const thoughts: string[] = [];
      const turn = await streamTurn(cfg, [{ role: 'user', content: 'x' }], { events: { onCode: (c) => codes.push(c), onThoughts: (t) => thoughts.push(t) } });
      expect(turn.code).toBe('print(2)');
      expect(turn.text).toBe('```python\nprint(2)\n```');
      expect(turn.thoughts).toBe('I could try:\n```python\nimport os; os.remove("x")\n```\nNo.');
      expect(codes.some((c) => c.includes('os.remove'))).toBe(false);
      expect(thoughts.length).toBeGreaterThan(1); // streamed as they grew
    });
  }

  it('keeps <think> split across chunks out of the code, even while streaming', async () => {
    const content = '<think>Use ```python\nos.remove("x")\n``` ? no</think>\n```python\nprint(3)\n```';
    fake.script([{ content, chunks: ['<th', 'ink>Use ```py', 'thon\nos.remove("x")\n``` ? no</thi', 'nk>\n```python\npr', 'int(3)\n```'] }]);
    const codes: string[] = [];
    const turn = await streamTurn(cfg, [{ role: 'user', content: 'x' }], { events: { onCode: (c) => codes.push(c) } });
    expect(turn.code).toBe('print(3)');
    expect(turn.thoughts).toBe('Use ```python\nos.remove("x")\n``` ? no');
    expect(codes.some((c) => c.includes('os.remove'))).toBe(false);
  });

  it('a reply of thoughts only has no code', async () => {
    fake.script([{ content: '<think>```python\nprint(1)\n```</think>' }]);
    const turn = await streamTurn(cfg, [{ role: 'user', content: 'x' }]);
    expect(turn.code).toBeNull();
    expect(turn.text).toBe('');
  });
});
