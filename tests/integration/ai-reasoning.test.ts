// Reasoning models end to end: the scripted OpenAI-compatible server streams thoughts in both real
// wire forms (a `reasoning_content` / `reasoning` delta field, and `<think>…</think>` in the content
// with the tags cut across chunks); everything else is real — server, sync, Kernel Gateway,
// ipykernel. Thoughts are kept in the provenance, never run, even when they hold a fenced block.
// Also: the answer phase ('answering') leaves the cell's code alone and editable.
import { beforeAll, describe, expect, it } from 'vitest';
import { aiInfo, cellSource, findCell, replaceText } from '../../common/notebook/model';
import type { AiStatus } from '../../common/notebook/types';
import type { FakeOpenAI } from '../support/fake-openai';
import { waitFor, type YClient } from '../support/yclient';
import { aiOf, cellOf, outText, useAiServer } from '../support/ai-server';

const ctx = useAiServer('fake-reasoner');
let fake: FakeOpenAI;
beforeAll(() => {
  ({ fake } = ctx());
});
const setup = (sources?: string[]) => ctx().setup(sources);
const generate = (id: string, cellId: string, prompt: string, wait = true) => ctx().generate(id, cellId, prompt, wait);
const cell = cellOf;
const ai = aiOf;

/** Every source the cell had while `during` ran, as another client saw it. */
async function sourcesSeen(c: YClient, cellId: string, during: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const observe = () => {
    const cur = findCell(c.doc, cellId);
    if (cur) seen.push(cellSource(cur).toString());
  };
  c.doc.on('update', observe);
  try {
    await during();
  } finally {
    c.doc.off('update', observe);
  }
  return seen;
}

const THOUGHT_CODE = 'print("RAN FROM THOUGHTS")';

describe('reasoning models', () => {
  for (const field of ['reasoning_content', 'reasoning'] as const) {
    it(`thoughts in a \`${field}\` delta are kept as thoughts, and their fenced block is not run`, async () => {
      const { id, b, ids } = await setup();
      fake.script([
        {
          reasoning: `The user wants 6*7. I could write:\n\`\`\`python\n${THOUGHT_CODE}\n\`\`\`\nBut plain print is enough.`,
          reasoningField: field,
          content: 'Here it is:\n```python\nprint(6 * 7)\n```\n',
          chunkSize: 6,
        },
        { reasoning: 'The output is 42, so say so.', reasoningField: field, content: 'It prints 42.' },
      ]);
      const seen = await sourcesSeen(b, ids[0], () => generate(id, ids[0], 'six times seven'));
      const c = cell(b, ids[0]);
      expect(c.source).toBe('print(6 * 7)');
      expect(outText(c)).toBe('42\n');
      expect(seen.some((s) => s.includes('RAN FROM THOUGHTS'))).toBe(false);
      const info = ai(b, ids[0]);
      expect(info).toMatchObject({ status: 'done', answer: 'It prints 42.' });
      expect(info.attempts).toHaveLength(1);
      expect(info.thoughts).toContain('I could write:');
      expect(info.thoughts).toContain(THOUGHT_CODE);
      expect(info.thoughts).toContain('The output is 42, so say so.');
      // thoughts are not sent back to the model as part of its messages
      const history = JSON.stringify(fake.requests[1].messages);
      expect(history).not.toContain('I could write');
    });
  }

  it('<think>…</think> in the content, its tags cut across chunks, is thoughts; the code outside runs', async () => {
    const { id, b, ids } = await setup();
    const first = `<think>\nMaybe this:\n\`\`\`python\n${THOUGHT_CODE}\n\`\`\`\nNo, compute it.\n</think>\n\n\`\`\`python\nprint(sum(range(5)))\n\`\`\`\n`;
    const cutAt = [3, 9, 25, 50, first.indexOf('</think>') + 4, first.indexOf('</think>') + 8, first.length - 6];
    const chunks = cutAt.map((at, i) => first.slice(i === 0 ? 0 : cutAt[i - 1], at)).concat(first.slice(cutAt[cutAt.length - 1]));
    fake.script([
      { content: first, chunks },
      { content: '<think>The output says 10.</think>The sum of 0 to 4 is 10.', chunkSize: 3 },
    ]);
    const seen = await sourcesSeen(b, ids[0], () => generate(id, ids[0], 'sum 0..4'));
    const c = cell(b, ids[0]);
    expect(c.source).toBe('print(sum(range(5)))');
    expect(outText(c)).toBe('10\n');
    expect(seen.some((s) => s.includes('RAN FROM THOUGHTS') || s.includes('<think>'))).toBe(false);
    const info = ai(b, ids[0]);
    expect(info.status).toBe('done');
    expect(info.answer).toBe('The sum of 0 to 4 is 10.');
    expect(info.thoughts).toContain(THOUGHT_CODE);
    expect(info.thoughts).toContain('The output says 10.');
    expect(info.thoughts).not.toContain('<think>');
  });

  it('a reply whose only code is inside its thoughts runs nothing', async () => {
    const { id, b, ids } = await setup(['# mine']);
    fake.script([{ content: `<think>\`\`\`python\n${THOUGHT_CODE}\n\`\`\`</think>I am not sure what you mean.` }]);
    await generate(id, ids[0], 'do the thing');
    const c = cell(b, ids[0]);
    expect(c.source).toBe('# mine');
    expect(c.outputs ?? []).toEqual([]);
    const info = ai(b, ids[0]);
    expect(info.status).toBe('failed');
    expect(info.attempts).toHaveLength(0);
    expect(info.thoughts).toContain(THOUGHT_CODE);
    expect(info.answer).toBe('I am not sure what you mean.');
  });
});

describe('the answer phase', () => {
  it("while the model writes only its answer the status is 'answering' and the code is the people's again", async () => {
    const { id, a, b, ids } = await setup();
    fake.script([
      { toolCall: { name: 'run_python', arguments: { code: 'print("v1")' } } },
      // a slow answer: time to edit the code while it streams
      { content: 'The cell prints v1, which is what you asked for.', chunkSize: 4, delayMs: 60 },
    ]);
    const statuses: AiStatus[] = [];
    const observe = () => {
      const s = aiInfo(findCell(b.doc, ids[0])!)?.status;
      if (s && statuses[statuses.length - 1] !== s) statuses.push(s);
    };
    b.doc.on('update', observe);
    const done = generate(id, ids[0], 'print v1');
    await waitFor(() => ai(b, ids[0])?.status === 'answering', { what: 'the answering status' });
    expect(outText(cell(b, ids[0]))).toBe('v1\n'); // the code has run
    // someone edits the code while the answer streams
    a.doc.transact(() => replaceText(cellSource(findCell(a.doc, ids[0])!), 'print("edited")'));
    await done;
    b.doc.off('update', observe);
    expect(statuses).toEqual(['generating', 'running', 'answering', 'done']);
    const info = ai(b, ids[0]);
    expect(info.answer).toBe('The cell prints v1, which is what you asked for.');
    expect(info.attempts[0]).toMatchObject({ code: 'print("v1")', outcome: 'ok' });
    // the agent never wrote the source in that phase: the edit stands, everywhere
    await waitFor(() => cell(b, ids[0]).source === 'print("edited")', { what: 'the edit on b' });
    expect(cell(a, ids[0]).source).toBe('print("edited")');
  });
});
