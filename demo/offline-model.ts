// The offline demo "model": a handful of scripted behaviours behind the same OpenAI-compatible
// test server the suite uses, so a person without any model endpoint can watch the whole AI-cell
// flow (streamed code, run, error and fix, answer). It is not a language model, says so in its
// name, and is never used unless `npm run demo` starts it.
import type { FakeReply } from '../tests/support/fake-openai';
import { DEMO_MODEL_NAME, DEMO_REQUESTS } from '../server/ai/offline-demo';

// the server knows the demo by its name and offers its requests as suggestions in the ask bar
export { DEMO_MODEL_NAME, DEMO_REQUESTS };

interface Message {
  role: string;
  content?: string | null;
}

const SLOW = { chunkSize: 6, delayMs: 25 };

function lastUserText(messages: Message[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if ((m.role === 'user' || m.role === 'tool') && typeof m.content === 'string') return m.content;
  }
  return '';
}

function section(context: string, title: string): string {
  const start = context.indexOf(`## ${title}`);
  if (start < 0) return '';
  const rest = context.slice(start + title.length + 3);
  const end = rest.indexOf('\n## ');
  return (end < 0 ? rest : rest.slice(0, end)).trim();
}

/** DataFrames in the kernel, from the context's variable list: name and numeric columns. */
function dataFrames(context: string): { name: string; numeric: string[]; all: string[] }[] {
  const out: { name: string; numeric: string[]; all: string[] }[] = [];
  for (const line of section(context, 'Variables in the kernel').split('\n')) {
    const m = /^- (\w+): pandas(?:\.core\.frame)?\.DataFrame.*columns: (.*)$/.exec(line);
    if (!m) continue;
    const cols = [...m[2].matchAll(/([^,()]+?) \(([^)]+)\)/g)].map((c) => ({ name: c[1].trim(), dtype: c[2] }));
    out.push({ name: m[1], all: cols.map((c) => c.name), numeric: cols.filter((c) => /int|float/.test(c.dtype)).map((c) => c.name) });
  }
  return out;
}

function csvFiles(context: string): string[] {
  return [...section(context, 'Files in the working directory').matchAll(/^- (\S+\.csv)/gm)].map((m) => m[1]);
}

/** CSV files the person attached to the request (the ask bar's paperclip or a drop on it). */
function attachedCsvFiles(context: string): string[] {
  return [...section(context, 'Files attached to this request').matchAll(/^- (\S+\.csv)/gm)].map((m) => m[1]);
}

function codeFor(request: string, context: string): string {
  const r = request.toLowerCase();
  const frames = dataFrames(context);
  const df = frames[0];
  const csv = attachedCsvFiles(context)[0] ?? csvFiles(context)[0];
  if (/(load|read|open)/.test(r) && csv) {
    return `import pandas as pd\n\ndf = pd.read_csv(${JSON.stringify(csv)})\nprint(df.shape)\ndf.head()`;
  }
  if (/(plot|chart|graph|draw|visuali)/.test(r)) {
    if (df && df.numeric.length) {
      const cols = df.numeric.slice(0, 3).map((c) => JSON.stringify(c)).join(', ');
      return `import matplotlib.pyplot as plt\n\nax = ${df.name}[[${cols}]].plot(figsize=(7, 3.5), marker="o")\nax.set_title("${df.name}")\nplt.tight_layout()\nplt.show()`;
    }
    return 'import numpy as np\nimport matplotlib.pyplot as plt\n\nx = np.linspace(0, 4 * np.pi, 200)\nplt.figure(figsize=(7, 3.5))\nplt.plot(x, np.sin(x), label="sin")\nplt.plot(x, np.cos(x), label="cos")\nplt.legend()\nplt.title("A demo plot")\nplt.show()';
  }
  if (/(describe|summar|stat)/.test(r) && df) return `${df.name}.describe()`;
  if (/(sample|example|demo|fake|generate).*(data|csv)|(data|csv).*(sample|example|demo)/.test(r) || (!df && /(data|sales|revenue)/.test(r))) {
    return 'import numpy as np\nimport pandas as pd\n\nrng = np.random.default_rng(7)\nsales = pd.DataFrame({\n    "month": pd.date_range("2024-01-01", periods=12, freq="MS").strftime("%Y-%m"),\n    "revenue": rng.normal(1000, 150, 12).round(2),\n    "units": rng.integers(20, 60, 12),\n})\nsales.to_csv("sales.csv", index=False)\nsales';
  }
  if (/(error|fail|broken|fix)/.test(r)) {
    // shows the fix loop: the first attempt has a typo the "model" then corrects
    return 'values = [3, 1, 4, 1, 5, 9, 2, 6]\nprint("mean:", sum(values) / len(valuse))';
  }
  return `# The offline demo only knows a few requests: ${DEMO_REQUESTS.map((q) => JSON.stringify(q)).join(', ')}.\n# Connect a real model (OPENAI_API_KEY / OPENAI_BASE_URL) for anything else.\nprint(${JSON.stringify(`You asked: ${request.trim().slice(0, 200)}`)})`;
}

/** Answers one chat completion request of the agent loop. */
export function demoReply(body: { messages?: Message[]; tools?: unknown[] }): FakeReply {
  const messages = body.messages ?? [];
  const last = lastUserText(messages);
  if (last.startsWith('The cell raised an error')) {
    const fixed = /name 'valuse' is not defined/.test(last)
      ? 'values = [3, 1, 4, 1, 5, 9, 2, 6]\nprint("mean:", sum(values) / len(values))'
      : null;
    if (fixed) return { toolCall: { name: 'run_python', arguments: { code: fixed } }, ...SLOW };
    return { content: 'The offline demo cannot fix this error. Connect a real model to get fixes.' };
  }
  if (last.startsWith('The cell ran without error')) {
    const output = last.split('Output:\n')[1]?.split('\n\nIf this answers')[0]?.trim() ?? '';
    const first = output.split('\n').find((l) => l.trim()) ?? '';
    return {
      content: `(Offline demo answer) The code ran without error${first ? `; its output starts with: \`${first.slice(0, 120)}\`` : ''}. A real model would explain the result here.`,
      ...SLOW,
    };
  }
  // the request as typed, without the line naming its attachments (their names say csv, data…)
  const request = (section(last, 'Request') || last).replace(/\n\(attached: [^\n]*\)$/, '');
  return { toolCall: { name: 'run_python', arguments: { code: codeFor(request, last) } }, ...SLOW };
}
