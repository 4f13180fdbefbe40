// What the model sees: the notebook's earlier cells with their outputs cut to named limits (an
// earlier AI cell as one turn of the conversation: its request, code, output and answer, so a
// follow-up like "now do the same by region" has what it refers to), the kernel's variables
// (DataFrame columns and dtypes included), the files in the kernel's working directory, read with
// a silent request that leaves no trace in the notebook, and the files attached to the request.
import { z } from 'zod';
import type * as Y from 'yjs';
import { cellIndex, cellsOf, cellToJSON } from '../../common/notebook/model';
import type { AiInfo, CellJSON, Output } from '../../common/notebook/types';
import type { NotebookKernel } from '../kernel/types';
import {
  MAX_CONTEXT_CELLS,
  MAX_CONTEXT_CHARS,
  MAX_CONTEXT_FILES,
  MAX_EXCEL_PEEK_BYTES,
  MAX_FILE_HEADER_CHARS,
  MAX_CONTEXT_VARIABLES,
  MAX_EARLIER_ANSWER_CHARS_IN_CONTEXT,
  MAX_EARLIER_PROMPT_CHARS_IN_CONTEXT,
  MAX_ERROR_OUTPUT_CHARS,
  MAX_OUTPUT_CHARS_PER_CELL_IN_CONTEXT,
  MAX_PROMPT_CHARS,
  MAX_SOURCE_CHARS_PER_CELL_IN_CONTEXT,
} from './limits';

/** How long reading variables and files may take before the context goes without them. */
export const INSPECT_TIMEOUT_MS = 5000;

export const SYSTEM_PROMPT = `You are a data analyst working inside a shared Jupyter notebook (Python 3, IPython kernel).
A person asks for something in plain language. Write Python code for ONE notebook cell that does it, and run it
with the run_python tool (if you cannot call tools, reply with the code in a single \`\`\`python fenced block).
- The kernel keeps state between cells: reuse the variables and imports listed in the context.
- numpy, pandas, matplotlib, scipy and pillow are installed. Plots: use matplotlib and call plt.show().
- End the cell with the expression to display (e.g. a DataFrame) or print results.
- Files live in the kernel's working directory; read them with relative paths.
- Keep the code short and readable: the people in this notebook will read and edit it.
You will see the output or the traceback. On an error, fix the code and run it again (the whole cell).
When the output answers the request, reply with a short answer in plain words (2-4 sentences, no code),
stating what the result shows. If the request needs another step, call run_python again with the next cell.`;

const InspectSchema = z.object({
  variables: z
    .array(
      z.object({
        name: z.string(),
        type: z.string(),
        shape: z.array(z.number().nullable()).optional(),
        len: z.number().optional(),
        dtype: z.string().optional(),
        columns: z.array(z.object({ name: z.string(), dtype: z.string() })).optional(),
        repr: z.string().optional(),
      }),
    )
    .default([]),
  files: z
    .array(z.object({ name: z.string(), size: z.number(), dir: z.boolean(), header: z.string().optional(), sheets: z.array(z.string()).optional() }))
    .default([]),
});
export type KernelInspection = z.infer<typeof InspectSchema>;

const INSPECT_CODE = `
def _ynb_inspect():
    import json, os, types
    ip = get_ipython()
    hidden = set(getattr(ip, 'user_ns_hidden', {}) or {})
    skip = {'In', 'Out', 'exit', 'quit', 'get_ipython', 'open'}
    out = {'variables': [], 'files': []}
    for name, val in list(ip.user_ns.items()):
        if name.startswith('_') or name in hidden or name in skip:
            continue
        if isinstance(val, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)):
            continue
        t = type(val)
        info = {'name': name, 'type': t.__name__ if t.__module__ == 'builtins' else t.__module__ + '.' + t.__name__}
        try:
            shape = getattr(val, 'shape', None)
            if isinstance(shape, tuple):
                info['shape'] = [s if isinstance(s, int) else None for s in shape]
            if t.__name__ == 'DataFrame':
                info['columns'] = [{'name': str(c), 'dtype': str(d)} for c, d in list(val.dtypes.items())[:60]]
            elif t.__name__ == 'Series':
                info['dtype'] = str(val.dtype)
            elif isinstance(val, (list, tuple, dict, set, str, bytes)):
                info['len'] = len(val)
            if t.__name__ not in ('DataFrame', 'Series', 'ndarray'):
                info['repr'] = repr(val)[:160]
        except Exception:
            pass
        out['variables'].append(info)
        if len(out['variables']) >= ${MAX_CONTEXT_VARIABLES}:
            break
    # the files, as the files API lists them (hidden ones left out), with a peek at tables:
    # "what is in the file I uploaded?" needs no blind first run
    try:
        for dirpath, dirnames, filenames in os.walk('.'):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith('.') and d != '__pycache__')
            for f in sorted(filenames):
                if f.startswith('.') or len(out['files']) >= ${MAX_CONTEXT_FILES}:
                    continue
                p = os.path.join(dirpath, f)[2:]
                try:
                    info = {'name': p, 'size': os.stat(p).st_size, 'dir': False}
                except OSError:
                    continue
                ext = os.path.splitext(f)[1].lower()
                try:
                    if ext in ('.csv', '.tsv', '.txt') and info['size'] > 0:
                        with open(p, 'r', encoding='utf-8', errors='replace') as fh:
                            info['header'] = fh.readline(${MAX_FILE_HEADER_CHARS}).rstrip('\\r\\n')
                    elif ext in ('.xlsx', '.xlsm') and info['size'] < ${MAX_EXCEL_PEEK_BYTES}:
                        import openpyxl
                        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
                        try:
                            sheets = wb.sheetnames
                            ws = wb[sheets[0]]
                            first = next(ws.iter_rows(max_row=1, values_only=True), ())
                            info['sheets'] = sheets[:20]
                            info['header'] = ', '.join('' if v is None else str(v) for v in first)[:${MAX_FILE_HEADER_CHARS}]
                        finally:
                            wb.close()
                except Exception:
                    pass
                out['files'].append(info)
            if len(out['files']) >= ${MAX_CONTEXT_FILES}:
                break
    except OSError:
        pass
    print(json.dumps(out))
_ynb_inspect()
del _ynb_inspect
`;

/** Reads variables and files from the kernel; on any failure the context simply goes without. */
export async function inspectKernel(kernel: NotebookKernel): Promise<KernelInspection | null> {
  try {
    const out = await kernel.evaluateSilently(INSPECT_CODE, INSPECT_TIMEOUT_MS);
    const line = out.trim().split('\n').pop() ?? '';
    return InspectSchema.parse(JSON.parse(line));
  } catch {
    return null;
  }
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
export const stripAnsi = (s: string) => s.replace(ANSI, '');

function cut(s: string, max: number, where: 'head' | 'tail' = 'head'): string {
  if (s.length <= max) return s;
  const note = `[…${s.length - max} characters cut…]`;
  return where === 'head' ? `${s.slice(0, max)}\n${note}` : `${note}\n${s.slice(s.length - max)}`;
}

const str = (v: unknown) => (Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : '');

/** A text summary of outputs for the model: text as is, pictures and HTML named, errors with their traceback. */
export function summarizeOutputs(outputs: Output[], maxChars = MAX_OUTPUT_CHARS_PER_CELL_IN_CONTEXT): string {
  const parts: string[] = [];
  for (const o of outputs) {
    if (o.output_type === 'stream') parts.push(stripAnsi(o.text));
    else if (o.output_type === 'error') {
      const tb = stripAnsi(o.traceback.join('\n'));
      // a kernel failure (no ename) carries its message in the traceback already
      parts.push(cut(o.ename ? `${o.ename}: ${o.evalue}\n${tb}` : tb || o.evalue, MAX_ERROR_OUTPUT_CHARS, 'tail'));
    } else {
      const data = o.data ?? {};
      const kinds = Object.keys(data).filter((k) => k !== 'text/plain');
      const plain = str(data['text/plain']);
      if (kinds.some((k) => k.startsWith('image/'))) parts.push(`[${kinds.filter((k) => k.startsWith('image/')).join(', ')} displayed${plain ? `: ${plain}` : ''}]`);
      else if (plain) parts.push(plain);
      else if (kinds.length) parts.push(`[${kinds.join(', ')} displayed]`);
    }
  }
  return cut(parts.join('\n').trim(), maxChars, 'tail');
}

function describeCell(c: CellJSON, n: number): string {
  const src = cut(c.source, MAX_SOURCE_CHARS_PER_CELL_IN_CONTEXT);
  if (c.cell_type !== 'code') return `### Cell ${n} (${c.cell_type})\n${src}`;
  const run = c.execution_count ? `run as [${c.execution_count}]` : 'not run';
  const out = summarizeOutputs(c.outputs ?? []);
  const body = `\`\`\`python\n${src}\n\`\`\`${out ? `\nOutput:\n${out}` : ''}`;
  const request = c.prompt?.trim();
  if (!request) return `### Cell ${n} (code, ${run})\n${body}`;
  // an earlier request of the conversation: what was asked, the code written for it, what it
  // printed and what the model answered
  const ai = c.ai;
  const attached = attachmentsOf(ai);
  const answer = typeof ai?.answer === 'string' ? ai.answer.trim() : '';
  return [
    `### Cell ${n} (AI cell, ${run})`,
    `Request${ai?.by?.name ? ` (asked by ${ai.by.name})` : ''}: ${cut(request, MAX_EARLIER_PROMPT_CHARS_IN_CONTEXT)}`,
    attached.length ? `Attached: ${attached.join(', ')}` : '',
    body,
    answer ? `Answer: ${cut(answer, MAX_EARLIER_ANSWER_CHARS_IN_CONTEXT)}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

/** The attachments of a cell's provenance (an imported notebook may hold anything there). */
export function attachmentsOf(ai: AiInfo | undefined): string[] {
  return Array.isArray(ai?.attachments) ? ai.attachments.filter((a): a is string => typeof a === 'string') : [];
}

/** The files attached to this request, with what the kernel saw of them. */
function describeAttachments(paths: string[], ins: KernelInspection | null): string {
  return paths
    .map((p) => {
      const f = ins?.files.find((x) => x.name === p);
      if (!ins) return `- ${p}`;
      if (!f) return `- ${p} (not found in the working directory)`;
      let line = `- ${p} (${humanSize(f.size)})`;
      if (f.sheets?.length) line += `; sheets: ${f.sheets.join(', ')}`;
      if (f.header !== undefined) line += `; first row: ${f.header}`;
      return line;
    })
    .join('\n');
}

function describeVariables(ins: KernelInspection): string {
  if (!ins.variables.length) return 'No variables defined yet.';
  return ins.variables
    .map((v) => {
      let line = `- ${v.name}: ${v.type}`;
      if (v.shape) line += ` shape (${v.shape.map((s) => s ?? '?').join(', ')})`;
      if (v.len !== undefined) line += ` len ${v.len}`;
      if (v.dtype) line += ` dtype ${v.dtype}`;
      if (v.columns) line += `; columns: ${v.columns.map((c) => `${c.name} (${c.dtype})`).join(', ')}`;
      if (v.repr) line += ` = ${v.repr}`;
      return line;
    })
    .join('\n');
}

function describeFiles(ins: KernelInspection): string {
  if (!ins.files.length) return 'The working directory is empty.';
  return ins.files
    .map((f) => {
      let line = `- ${f.name}${f.dir ? '/' : ` (${humanSize(f.size)})`}`;
      if (f.sheets?.length) line += `; sheets: ${f.sheets.join(', ')}`;
      if (f.header !== undefined) line += `; first row: ${f.header}`;
      return line;
    })
    .join('\n');
}

function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * The user message for a generation: earlier cells (the most recent MAX_CONTEXT_CELLS; AI cells
 * with their request and answer), what the kernel holds, the files attached to the request, and
 * the request. Cut to MAX_CONTEXT_CHARS, keeping the request and the nearest cells: the oldest
 * cells go first.
 */
export function buildContext(doc: Y.Doc, cellId: string, prompt: string, ins: KernelInspection | null, opts: { attachments?: string[] } = {}): string {
  const cells = cellsOf(doc);
  const at = cellIndex(doc, cellId);
  const earlier: string[] = [];
  const start = Math.max(0, at - MAX_CONTEXT_CELLS);
  for (let i = start; i < at; i++) earlier.push(describeCell(cellToJSON(cells.get(i)), i + 1));
  const current = at >= 0 ? cellToJSON(cells.get(at)) : null;
  const attachments = opts.attachments ?? [];
  const request = cut(prompt, MAX_PROMPT_CHARS);
  const tail = [
    ins ? `## Variables in the kernel\n${describeVariables(ins)}` : '## Variables in the kernel\n(could not be read)',
    ins ? `## Files in the working directory\n${describeFiles(ins)}` : '',
    attachments.length ? `## Files attached to this request (the person means these)\n${describeAttachments(attachments, ins)}` : '',
    current?.source.trim() ? `## The cell's current code (replace it)\n\`\`\`python\n${cut(current.source, MAX_SOURCE_CHARS_PER_CELL_IN_CONTEXT)}\n\`\`\`` : '',
    `## Request\n${request}${attachments.length ? `\n(attached: ${attachments.join(', ')})` : ''}`,
  ]
    .filter(Boolean)
    .join('\n\n');
  // drop the oldest cells first when over budget
  const intro = 'AI cells show an earlier request of this conversation: what was asked, the code written for it, its output and the answer.';
  let head = earlier.length ? `## Notebook so far\n${intro}\n\n${earlier.join('\n\n')}` : '## Notebook so far\n(this is the first cell)';
  while (head.length + tail.length > MAX_CONTEXT_CHARS && earlier.length > 1) {
    earlier.shift();
    head = `## Notebook so far (earlier cells left out)\n${intro}\n\n${earlier.join('\n\n')}`;
  }
  return cut(`${head}\n\n${tail}`, MAX_CONTEXT_CHARS, 'tail');
}
