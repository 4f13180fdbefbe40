import { describe, expect, it } from 'vitest';
import { extractCode, partialCode, partialJsonCode } from '../../server/ai/code-extract';

const fence = (lang: string, body: string) => '```' + lang + '\n' + body + '\n```';

describe('extractCode', () => {
  it('takes a ```python block and keeps the rest as prose', () => {
    const text = `Here is the plot:\n\n${fence('python', 'import pandas as pd\ndf = pd.read_csv("sales.csv")')}\n\nIt reads the file.`;
    expect(extractCode(text)).toEqual({
      code: 'import pandas as pd\ndf = pd.read_csv("sales.csv")',
      prose: 'Here is the plot:\n\nIt reads the file.',
      via: 'fence',
    });
  });

  it('accepts ```py and untagged fences, and prefers python-tagged ones', () => {
    expect(extractCode(fence('py', 'x = 1')).code).toBe('x = 1');
    expect(extractCode(fence('', 'y = 2')).code).toBe('y = 2');
    const mixed = `${fence('', 'not this one, it is longer than the other')}\n${fence('python', 'z = 3')}`;
    expect(extractCode(mixed).code).toBe('z = 3');
  });

  it('picks the largest python block when there are several', () => {
    const text = `First a snippet:\n${fence('python', 'x = 1')}\nThe full code:\n${fence('python', 'import math\nx = 1\nprint(math.pi * x)')}`;
    const out = extractCode(text);
    expect(out.code).toBe('import math\nx = 1\nprint(math.pi * x)');
    expect(out.prose).toContain('x = 1'); // the smaller block stays in the prose
  });

  it('ignores blocks in other languages', () => {
    const text = `Install it first:\n${fence('bash', 'pip install seaborn')}\nThen nothing.`;
    expect(extractCode(text)).toEqual({ code: null, prose: text, via: null });
  });

  it('returns no code for plain prose', () => {
    expect(extractCode('  The mean is 4.2.  ')).toEqual({ code: null, prose: 'The mean is 4.2.', via: null });
  });

  it('keeps indentation and inner backticks, and takes an unclosed block to the end', () => {
    const body = 'def f():\n    s = "``"\n    return s';
    expect(extractCode(fence('python', body)).code).toBe(body);
    expect(extractCode('Truncated:\n```python\nfor i in range(3):\n    print(i)\n').code).toBe('for i in range(3):\n    print(i)');
  });

  it('handles ~~~ fences and longer backtick fences containing ```', () => {
    expect(extractCode('~~~python\na = 1\n~~~').code).toBe('a = 1');
    expect(extractCode('````python\ns = """\n```\n"""\n````').code).toBe('s = """\n```\n"""');
  });

  it('reads a tool call printed as JSON (local models)', () => {
    const text = 'I will run it.\n{"name": "run_python", "arguments": {"code": "print(\\"hi\\")\\nx = 1"}}';
    expect(extractCode(text)).toEqual({ code: 'print("hi")\nx = 1', prose: 'I will run it.', via: 'text-tool' });
  });

  it('reads a printed tool call whose arguments are a JSON string, or Llama-style parameters', () => {
    const a = JSON.stringify({ name: 'run_python', arguments: JSON.stringify({ code: 'a = 1' }) });
    expect(extractCode(a)).toMatchObject({ code: 'a = 1', via: 'text-tool', prose: '' });
    const b = JSON.stringify({ name: 'run_python', parameters: { code: 'b = 2' } });
    expect(extractCode(b)).toMatchObject({ code: 'b = 2', via: 'text-tool' });
    const c = JSON.stringify({ type: 'function', function: { name: 'run_python', arguments: { code: 'c = 3' } } });
    expect(extractCode(c)).toMatchObject({ code: 'c = 3', via: 'text-tool' });
  });

  it('reads <tool_call> tags (Qwen/Hermes) and drops them from the prose', () => {
    const text = 'Sure.\n<tool_call>\n{"name": "run_python", "arguments": {"code": "import os\\nprint(os.listdir())"}}\n</tool_call>';
    expect(extractCode(text)).toEqual({ code: 'import os\nprint(os.listdir())', prose: 'Sure.', via: 'text-tool' });
    expect(extractCode('<tool_call>{"code": "x = 1"}</tool_call>')).toMatchObject({ code: 'x = 1', prose: '' });
  });

  it('reads run_python({...}) calls', () => {
    expect(extractCode('run_python({"code": "print(42)"})')).toEqual({ code: 'print(42)', prose: '', via: 'text-tool' });
  });

  it('reads a printed tool call inside a ```json fence and drops the whole fence', () => {
    const text = `Running:\n${fence('json', '{"name": "run_python", "arguments": {"code": "x = [1, 2]"}}')}\nDone.`;
    expect(extractCode(text)).toEqual({ code: 'x = [1, 2]', prose: 'Running:\n\nDone.', via: 'text-tool' });
  });

  it('does not mistake a dict inside python code for a tool call', () => {
    const body = 'cfg = {"name": "run_python", "arguments": {"code": "evil()"}}\nprint(cfg)';
    expect(extractCode(fence('python', body))).toMatchObject({ code: body, via: 'fence' });
  });

  it('leaves JSON that is not a tool call in the prose', () => {
    const text = 'The config is {"name": "x", "size": 3}.';
    expect(extractCode(text)).toEqual({ code: null, prose: text, via: null });
  });
});

describe('partialCode', () => {
  it('returns null before a fence has opened', () => {
    expect(partialCode('')).toBeNull();
    expect(partialCode('Let me load the data')).toBeNull();
    expect(partialCode('Let me load the data\n```pyth')).toBeNull();
  });

  it('returns the code of a block that is still open, growing with the text', () => {
    const full = 'Loading:\n```python\nimport pandas as pd\ndf = pd.read_csv("a.csv")\n```\nDone.';
    const seen: (string | null)[] = [];
    for (let i = 1; i <= full.length; i++) seen.push(partialCode(full.slice(0, i)));
    const codes = seen.filter((c): c is string => c !== null);
    expect(codes[0]).toBe('');
    for (let i = 1; i < codes.length; i++) expect(codes[i]!.startsWith(codes[i - 1]!.replace(/\n$/, ''))).toBe(true);
    expect(codes.at(-1)).toBe('import pandas as pd\ndf = pd.read_csv("a.csv")');
    expect(partialCode('```python\nimport pa')).toBe('import pa');
  });

  it('never shows a half-typed closing fence as code', () => {
    expect(partialCode('```python\nx = 1\n`')).toBe('x = 1\n');
    expect(partialCode('```python\nx = 1\n``')).toBe('x = 1\n');
    expect(partialCode('```python\nx = 1\n```')).toBe('x = 1');
  });

  it('follows a printed tool call as it streams', () => {
    expect(partialCode('{"name": "run_python", "arguments": {"co')).toBeNull();
    expect(partialCode('{"name": "run_python", "arguments": {"code": "print(1)\\npri')).toBe('print(1)\npri');
    expect(partialCode('<tool_call>\n{"name": "run_python", "arguments": {"code": "a = 1')).toBe('a = 1');
  });

  it('agrees with extractCode once the text is complete', () => {
    const text = `Intro\n${fence('python', 'a = 1\nb = 2')}\nOutro`;
    expect(partialCode(text)).toBe(extractCode(text).code);
  });
});

describe('partialJsonCode', () => {
  it('returns null until the code string starts', () => {
    expect(partialJsonCode('')).toBeNull();
    expect(partialJsonCode('{"co')).toBeNull();
    expect(partialJsonCode('{"code":')).toBeNull();
    expect(partialJsonCode('{"code": "')).toBe('');
  });

  it('decodes the code so far', () => {
    expect(partialJsonCode('{"code": "import pa')).toBe('import pa');
    expect(partialJsonCode('{"code":"a = 1\\nb = \\"x\\"\\tc = \'\\\\d\'')).toBe('a = 1\nb = "x"\tc = \'\\d\'');
    expect(partialJsonCode('{"code": "done", "extra": 1}')).toBe('done');
  });

  it('leaves out an escape cut at the end until its rest arrives', () => {
    expect(partialJsonCode('{"code": "a\\')).toBe('a');
    expect(partialJsonCode('{"code": "a\\n')).toBe('a\n');
    expect(partialJsonCode('{"code": "caf\\u00')).toBe('caf');
    expect(partialJsonCode('{"code": "caf\\u00e9')).toBe('café');
  });

  it('joins surrogate pairs, waiting for the low half', () => {
    expect(partialJsonCode('{"code": "x = \'\\ud83d')).toBe("x = '");
    expect(partialJsonCode('{"code": "x = \'\\ud83d\\ude00')).toBe("x = '😀");
  });

  it('matches JSON.parse on every prefix of a real argument string', () => {
    const code = 'import numpy as np\nprint("tab\\t", \'quote"\', "é😀", r"\\d+")\n';
    const args = JSON.stringify({ code });
    let previous = '';
    for (let i = 0; i <= args.length; i++) {
      const got = partialJsonCode(args.slice(0, i));
      if (got === null) continue;
      expect(code.startsWith(got)).toBe(true);
      expect(got.length).toBeGreaterThanOrEqual(previous.length);
      previous = got;
    }
    expect(previous).toBe(code);
  });
});
