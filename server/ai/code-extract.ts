// Pure functions that find the Python code in a model's reply: a run_python tool call's JSON
// arguments, a fenced block, or a tool call the model printed as text (local models served by
// Ollama, llama.cpp or vLLM without a tool parser often do that). No I/O, no model knowledge.

export type CodeSource = 'fence' | 'text-tool';

export interface ExtractedCode {
  /** The Python code, or null when the reply holds none. */
  code: string | null;
  /** The reply without the code (and without the printed tool call), trimmed. */
  prose: string;
  /** Where the code came from; null when there is none. */
  via: CodeSource | null;
}

/** The tool the model is offered; also the name a printed tool call is recognised by. */
export const RUN_PYTHON_TOOL_NAME = 'run_python';

const PYTHON_LANGS = new Set(['python', 'py', 'python3', 'py3', 'ipython', 'ipython3', 'jupyter', 'pycon']);

interface Fence {
  /** Index of the first character of the opening fence line. */
  start: number;
  /** Index just past the closing fence line (or text.length when still open). */
  end: number;
  /** Index of the first content character. */
  contentStart: number;
  /** Index just past the last content character. */
  contentEnd: number;
  lang: string;
  isClosed: boolean;
}

const OPEN_FENCE = /^( {0,3})(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n`]*$/;

/**
 * Fenced blocks of a Markdown text, in order (CommonMark rules, simplified: a closing fence uses
 * the same character, is at least as long, and carries no info string). An opening fence whose
 * line has not ended yet (`text` is still streaming) is not a block yet.
 */
function findFences(text: string): Fence[] {
  const fences: Fence[] = [];
  let pos = 0;
  while (pos < text.length) {
    const lineEnd = text.indexOf('\n', pos);
    if (lineEnd === -1) break; // an unfinished line cannot open a block
    const line = text.slice(pos, lineEnd).replace(/\r$/, '');
    const open = OPEN_FENCE.exec(line);
    if (!open) {
      pos = lineEnd + 1;
      continue;
    }
    const marker = open[2]!;
    const lang = (open[3] ?? '').toLowerCase().replace(/^\{?\.?/, '').replace(/\}$/, '');
    const contentStart = lineEnd + 1;
    const close = new RegExp(`^ {0,3}${marker[0] === '`' ? '`' : '~'}{${marker.length},}[ \\t]*\\r?$`);
    let scan = contentStart;
    let found: Fence | null = null;
    while (scan <= text.length) {
      const nextEnd = text.indexOf('\n', scan);
      const end = nextEnd === -1 ? text.length : nextEnd;
      const candidate = text.slice(scan, end);
      // The last line of a streaming text is only a closing fence once it is complete or final.
      if (close.test(candidate)) {
        found = {
          start: pos,
          end: nextEnd === -1 ? text.length : nextEnd + 1,
          contentStart,
          contentEnd: Math.max(contentStart, scan - 1),
          lang,
          isClosed: true,
        };
        break;
      }
      if (nextEnd === -1) break;
      scan = nextEnd + 1;
    }
    if (!found) {
      fences.push({ start: pos, end: text.length, contentStart, contentEnd: text.length, lang, isClosed: false });
      break;
    }
    fences.push(found);
    pos = found.end;
  }
  return fences;
}

function isPythonLang(lang: string): boolean {
  return PYTHON_LANGS.has(lang);
}

/** The block the code is taken from: the largest python-tagged block, else the largest untagged one. */
function pickCodeFence(text: string, fences: Fence[], isEmptyOpenAllowed = false): Fence | null {
  const size = (f: Fence) => text.slice(f.contentStart, f.contentEnd).trim().length;
  const isCandidate = (f: Fence) => size(f) > 0 || (isEmptyOpenAllowed && !f.isClosed);
  const largest = (list: Fence[]) =>
    list.reduce<Fence | null>((best, f) => (best === null || size(f) > size(best) ? f : best), null);
  const python = fences.filter((f) => isPythonLang(f.lang) && isCandidate(f));
  if (python.length > 0) return largest(python);
  const untagged = fences.filter((f) => f.lang === '' && isCandidate(f));
  return largest(untagged);
}

function fenceContent(text: string, fence: Fence): string {
  return text.slice(fence.contentStart, fence.contentEnd);
}

function tidyProse(text: string): string {
  return text.replace(/[ \t]+\n/g, '\n').replace(/\n{3,}/g, '\n\n').trim();
}

/** The prose around a removed span; the span becomes a paragraph break. */
function joinAround(text: string, span: { start: number; end: number }): string {
  return tidyProse(`${text.slice(0, span.start)}\n\n${text.slice(span.end)}`);
}

function cleanCode(code: string): string {
  // Strip trailing whitespace lines, keep the code's own indentation.
  return code.replace(/\r\n/g, '\n').replace(/\s+$/, '');
}

// ---------------------------------------------------------------------------------------------
// Tool calls printed as text

interface TextToolCall {
  code: string;
  /** The span of the text the call occupies, removed from the prose. */
  start: number;
  end: number;
}

/** The index just past the JSON value (object) starting at `start`, or -1 when it is unbalanced. */
function matchJsonObject(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') {
      depth--;
      if (depth === 0) return i + 1;
      if (depth < 0) return -1;
    }
  }
  return -1;
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function parseMaybeJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * The code of a parsed printed tool call. Shapes seen from local models:
 * `{"name":"run_python","arguments":{"code":..}}` (arguments may be a JSON string),
 * `{"name":..,"parameters":{..}}` (Llama 3.1), `{"function":{"name":..,"arguments":..}}`,
 * `{"tool":..,"tool_input":{..}}`, and, inside `<tool_call>` or `run_python(..)`, just `{"code":..}`.
 */
function codeFromToolObject(value: unknown, isBareArgsAllowed: boolean): string | null {
  const obj = asRecord(value);
  if (!obj) return null;
  const fn = asRecord(obj.function);
  if (fn) return codeFromToolObject(fn, false);
  for (const key of ['arguments', 'parameters', 'args', 'input', 'tool_input']) {
    const args = asRecord(parseMaybeJson(obj[key]));
    if (args && typeof args.code === 'string') return args.code;
  }
  if (isBareArgsAllowed && typeof obj.code === 'string') return obj.code;
  return null;
}

const TOOL_CALL_TAG = /<tool_call>\s*/g;
const FUNCTION_STYLE = new RegExp(`\\b${RUN_PYTHON_TOOL_NAME}\\s*\\(\\s*`, 'g');
const BARE_TOOL_JSON = /\{\s*"(?:name|function|tool|type)"\s*:/g;

function findTextToolCall(text: string, skip: Fence[]): TextToolCall | null {
  const isSkipped = (i: number) => skip.some((f) => i >= f.start && i < f.end);

  // a JSON object right after `opener`, with an optional `closer` after it
  const wrapped = (opener: RegExp, closer: RegExp): TextToolCall | null => {
    for (const m of text.matchAll(opener)) {
      const jsonStart = m.index! + m[0].length;
      if (text[jsonStart] !== '{' || isSkipped(m.index!)) continue;
      const jsonEnd = matchJsonObject(text, jsonStart);
      if (jsonEnd === -1) continue;
      const code = codeFromToolObject(parseMaybeJson(text.slice(jsonStart, jsonEnd)), true);
      if (code === null) continue;
      const close = closer.exec(text.slice(jsonEnd));
      return { code, start: m.index!, end: jsonEnd + (close ? close[0].length : 0) };
    }
    return null;
  };
  // <tool_call>{...}</tool_call> (Qwen, Hermes), then run_python({"code": "..."})
  const call = wrapped(TOOL_CALL_TAG, /^\s*<\/tool_call>/) ?? wrapped(FUNCTION_STYLE, /^\s*\)/);
  if (call) return call;

  // {"name": "run_python", "arguments": {...}} on its own, maybe inside a ```json fence
  for (const m of text.matchAll(BARE_TOOL_JSON)) {
    if (isSkipped(m.index!)) continue;
    const jsonEnd = matchJsonObject(text, m.index!);
    if (jsonEnd === -1) continue;
    const code = codeFromToolObject(parseMaybeJson(text.slice(m.index!, jsonEnd)), false);
    if (code === null) continue;
    return { code, start: m.index!, end: jsonEnd };
  }
  return null;
}

/** Widen a span to the whole fenced block when the block holds nothing else. */
function widenToFence(text: string, span: { start: number; end: number }, fences: Fence[]) {
  for (const f of fences) {
    if (span.start >= f.contentStart && span.end <= f.contentEnd + 1) {
      const rest = text.slice(f.contentStart, span.start) + text.slice(span.end, f.contentEnd);
      if (rest.trim() === '') return { start: f.start, end: f.end };
    }
  }
  return span;
}

/**
 * The code of a complete model reply. A printed tool call wins over fences (its JSON may itself
 * sit in a ```json block); otherwise the largest ```python block, else the largest untagged one.
 */
export function extractCode(text: string): ExtractedCode {
  const fences = findFences(text);
  const pythonFences = fences.filter((f) => isPythonLang(f.lang));
  const tool = findTextToolCall(text, pythonFences);
  if (tool) {
    const span = widenToFence(text, tool, fences);
    return {
      code: cleanCode(tool.code),
      prose: joinAround(text, span),
      via: 'text-tool',
    };
  }
  const fence = pickCodeFence(text, fences);
  if (!fence) return { code: null, prose: tidyProse(text), via: null };
  return {
    code: cleanCode(fenceContent(text, fence)),
    prose: joinAround(text, fence),
    via: 'fence',
  };
}

// ---------------------------------------------------------------------------------------------
// Streaming

const PARTIAL_TEXT_TOOL = new RegExp(
  `(<tool_call>|\\b${RUN_PYTHON_TOOL_NAME}\\s*\\(|\\{\\s*"(?:name|function|tool)"\\s*:\\s*(?:"${RUN_PYTHON_TOOL_NAME}"|\\{))`,
);

/**
 * The code so far of a reply that is still streaming, so the cell can show it as it arrives:
 * the content of the (possibly still open) code block, or the code of a printed tool call that
 * is still being written. Null while no code has started.
 */
export function partialCode(text: string): string | null {
  const fences = findFences(text);
  const pythonFences = fences.filter((f) => isPythonLang(f.lang));
  const toolStart = PARTIAL_TEXT_TOOL.exec(text);
  if (toolStart && !pythonFences.some((f) => toolStart.index >= f.start && toolStart.index < f.end)) {
    const complete = findTextToolCall(text, pythonFences);
    if (complete) return cleanCode(complete.code);
    // Until its "code" key arrives, the printed call has no code; never show its JSON as code.
    return partialJsonCode(text.slice(toolStart.index));
  }
  // An empty block that is still open counts: the code has started, even if not a character yet.
  const fence = pickCodeFence(text, fences, true);
  if (!fence) return null;
  let code = fenceContent(text, fence);
  if (!fence.isClosed) {
    // The closing fence may be half typed ("\n``"): do not flash it into the cell.
    code = code.replace(/(^|\n) {0,3}(`{1,}|~{1,})[ \t]*$/, '$1');
  }
  return code.replace(/\r\n/g, '\n');
}

/**
 * The decoded `code` of a run_python call's JSON arguments while they stream in, e.g.
 * `{"code": "import pa` → `import pa`. Handles every JSON escape, and an escape or a surrogate
 * pair cut at the end of the text (left out until its rest arrives). Null before `"code":"`.
 */
export function partialJsonCode(argsSoFar: string): string | null {
  try {
    const parsed = asRecord(JSON.parse(argsSoFar));
    if (parsed && typeof parsed.code === 'string') return parsed.code;
  } catch {
    // still streaming: decode by hand below
  }
  const key = /"code"\s*:\s*"/.exec(argsSoFar);
  if (!key) return null;
  return decodePartialJsonString(argsSoFar, key.index + key[0].length);
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/** Decode a JSON string body from `start` up to its closing quote or the end of the text. */
function decodePartialJsonString(text: string, start: number): string {
  let out = '';
  let i = start;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') break;
    if (ch !== '\\') {
      out += ch;
      i++;
      continue;
    }
    const esc = text[i + 1];
    if (esc === undefined) break; // a lone backslash at the end: wait for the rest
    if (esc !== 'u') {
      out += SIMPLE_ESCAPES[esc] ?? esc;
      i += 2;
      continue;
    }
    const hex = text.slice(i + 2, i + 6);
    if (hex.length < 4) break; // \u12 at the end: wait for the rest
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
      i += 2; // invalid escape: skip it rather than show garbage
      continue;
    }
    const unit = parseInt(hex, 16);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      // A high surrogate needs its low half; wait when it has not arrived yet.
      const next = text.slice(i + 6, i + 12);
      if (next.length < 6) break;
      const low = /^\\u([dD][c-fC-F][0-9a-fA-F]{2})$/.exec(next);
      if (low) {
        out += String.fromCharCode(unit, parseInt(low[1]!, 16));
        i += 12;
        continue;
      }
    }
    out += String.fromCharCode(unit);
    i += 6;
  }
  return out;
}
