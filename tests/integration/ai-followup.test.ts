// Asking as in Code Interpreter (issue 9): a follow-up ("now do the same by region") is understood
// because the model sees the earlier requests as a conversation (each earlier AI cell's prompt,
// code, output and answer), and runs in the same kernel as they did; files attached to a request
// are named to the model. The scripted model stands in; server, sync and kernel are real.
import { beforeAll, describe, expect, it } from 'vitest';
import { findCell, insertCell } from '../../common/notebook/model';
import { AI_CONTEXT_KEY } from '../../common/notebook/types';
import type { FakeOpenAI } from '../support/fake-openai';
import { aiOf, cellOf, outText, useAiServer, userText } from '../support/ai-server';
import { fetchAsAdmin } from '../support/auth';
import { waitFor } from '../support/yclient';

const ctx = useAiServer('fake-analyst');
let fake: FakeOpenAI;
beforeAll(() => {
  ({ fake } = ctx());
});

const FIRST_PROMPT = 'make a dataframe df of sales and summarise revenue by month';
const FIRST_CODE = [
  'import pandas as pd',
  'df = pd.DataFrame({',
  "    'month': ['2024-01', '2024-01', '2024-02', '2024-02', '2024-03'],",
  "    'region': ['north', 'south', 'north', 'south', 'north'],",
  "    'revenue': [120, 80, 150, 95, 210],",
  '})',
  "print(df.groupby('month')['revenue'].sum().to_string())",
].join('\n');
const FIRST_ANSWER = 'Revenue grows every month and peaks in 2024-03 at 210.';
const FOLLOW_UP = 'now do the same by region';
const SECOND_CODE = "print(df.groupby('region')['revenue'].sum().to_string())";

describe('follow-up requests', () => {
  it("the second request sees the first one's prompt, code, output and answer, and its code uses df in the shared kernel", async () => {
    const { id, a, b, ids } = await setup();
    fake.script([
      { toolCall: { name: 'run_python', arguments: { code: FIRST_CODE } } },
      { content: FIRST_ANSWER },
      { toolCall: { name: 'run_python', arguments: { code: SECOND_CODE } } },
      { content: 'North sold 480 and south 175.' },
    ]);
    const r1 = await ctx().generate(id, ids[0], FIRST_PROMPT);
    expect(r1.status).toBe(200);
    expect(r1.body.ai).toMatchObject({ status: 'done', answer: FIRST_ANSWER });
    expect(outText(cellOf(b, ids[0]))).toContain('2024-03    210');

    // the ask bar's way: a new AI cell below, with the request as its prompt
    const second = insertCell(a.doc, 1, { cell_type: 'code', prompt: FOLLOW_UP });
    await waitFor(() => findCell(b.doc, second));
    const r2 = await ctx().generate(id, second, FOLLOW_UP);
    expect(r2.status).toBe(200);

    // the first model call of request 2 (requests 0 and 1 were request 1's code and answer)
    expect(fake.requests).toHaveLength(4);
    const seen = userText(fake.requests[2]);
    expect(seen).toContain(`Request (asked by Grace): ${FIRST_PROMPT}`);
    expect(seen).toContain(FIRST_CODE);
    expect(seen).toContain('2024-03    210'); // its output
    expect(seen).toContain(`Answer: ${FIRST_ANSWER}`);
    expect(seen).toMatch(/## Request\nnow do the same by region$/);
    // in that order, as a conversation reads
    const order = [FIRST_PROMPT, FIRST_CODE, '2024-03    210', FIRST_ANSWER, FOLLOW_UP].map((s) => seen.indexOf(s));
    expect(order).toEqual([...order].sort((x, y) => x - y));
    // the kernel's df is listed with its columns
    expect(seen).toMatch(/- df: pandas\.(core\.frame\.)?DataFrame shape \(5, 3\); columns: month \((object|str)\), region \((object|str)\), revenue \(int64\)/);

    // the scripted reply used df: it ran without error in the same kernel
    const c = cellOf(b, second);
    expect(c.outputs!.some((o) => o.output_type === 'error')).toBe(false);
    expect(outText(c)).toBe('region\nnorth    480\nsouth    175\n');
    expect(aiOf(b, second)).toMatchObject({ status: 'done', answer: 'North sold 480 and south 175.' });
    // what the model saw is on the cell for everyone
    expect(String(findCell(b.doc, second)!.get(AI_CONTEXT_KEY))).toContain(`Answer: ${FIRST_ANSWER}`);
  });

  it('files attached to a request are named to the model with their header, kept on the cell, and kept by a regenerate', async () => {
    const { id, a, b, ids } = await setup();
    const put = await fetchAsAdmin(`${ctx().server.url}/api/notebooks/${id}/files/sales.csv`, {
      method: 'PUT',
      body: new TextEncoder().encode('month,region,revenue\n2024-01,north,120\n2024-02,south,95\n'),
    });
    expect(put.status).toBe(201);
    const code = "import pandas as pd\nsales = pd.read_csv('sales.csv')\nprint(sales['revenue'].sum())";
    fake.script([{ toolCall: { name: 'run_python', arguments: { code } } }, { content: 'Total revenue is 215.' }]);
    const r = await ctx().post(`/notebooks/${id}/cells/${ids[0]}/generate`, { prompt: 'total revenue', attachments: ['sales.csv'], wait: true });
    expect(r.status).toBe(200);
    const seen = userText(fake.requests[0]);
    expect(seen).toContain('## Files attached to this request (the person means these)\n- sales.csv (');
    expect(seen).toContain('first row: month,region,revenue');
    expect(seen).toContain('## Request\ntotal revenue\n(attached: sales.csv)');
    expect(outText(cellOf(b, ids[0]))).toBe('215\n');
    expect(aiOf(b, ids[0]).attachments).toEqual(['sales.csv']);

    // Regenerate (the AI cell's button sends no attachments): the request still means the file
    fake.reset();
    fake.script([{ toolCall: { name: 'run_python', arguments: { code } } }, { content: 'Still 215.' }]);
    const again = await ctx().generate(id, ids[0], 'total revenue');
    expect(again.status).toBe(200);
    expect(userText(fake.requests[0])).toContain('(attached: sales.csv)');
    expect(aiOf(b, ids[0])).toMatchObject({ generation: 2, attachments: ['sales.csv'] });

    // a later request sees which file the earlier one was about
    const next = insertCell(a.doc, 1, { cell_type: 'code', prompt: 'and by region' });
    await waitFor(() => findCell(b.doc, next));
    fake.reset();
    fake.script([{ content: 'By region: north 120, south 95.' }]);
    await ctx().generate(id, next, 'and by region');
    expect(userText(fake.requests[0])).toContain('Request (asked by Grace): total revenue\nAttached: sales.csv');
  });

  it('an attachment that is not a plain relative path is refused before anything runs', async () => {
    const { id, ids } = await setup();
    for (const bad of ['../etc/passwd', '/abs.csv', 'a\\b.csv']) {
      const r = await ctx().post(`/notebooks/${id}/cells/${ids[0]}/generate`, { prompt: 'x', attachments: [bad] });
      expect(r.status, bad).toBe(400);
      expect(r.body.error.code).toBe('BAD_ATTACHMENT');
    }
    expect(fake.requests).toHaveLength(0);
  });
});

const setup = () => ctx().setup();
