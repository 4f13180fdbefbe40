// Writes one run's kernel messages into a cell's outputs, as Jupyter would show them: stream text
// merged per name with \r and \b applied, clear_output(wait), update_display_data by display id,
// and the limits of common/notebook/limits.ts with a visible notice when something is cut.
import * as Y from 'yjs';
import {
  cellOutputs,
  cellsOf,
  findCell,
  outputToY,
  type YOutput,
} from '../../common/notebook/model';
import {
  MAX_OUTPUT_BYTES,
  MAX_OUTPUTS_PER_RUN,
  MAX_STREAM_CHARS_PER_RUN,
  MAX_TRACEBACK_CHARS,
  OUTPUT_FLUSH_MS,
  TRUNCATION_METADATA_KEY,
} from '../../common/notebook/limits';
import { LEVEL, levelsLeft, nestingMessage, nestsDeeperThan } from '../../common/notebook/nesting';
import type { Output } from '../../common/notebook/types';

export interface KernelMessage {
  msg_type: string;
  // iopub content, checked field by field below
  content: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Applies terminal control characters to the last line of a stream: `\r` returns to the start of
 * the line (later characters overwrite), `\b` steps back one. A trailing `\r` is kept so the next
 * chunk overwrites the line, as a progress bar expects.
 */
export function applyControlChars(text: string): string {
  if (!/[\r\b]/.test(text)) return text;
  const lines = text.replace(/\r+\n/g, '\n').split('\n');
  return lines
    .map((line, i) => {
      const buf: string[] = [];
      let pos = 0;
      for (let k = 0; k < line.length; k++) {
        const ch = line[k];
        if (ch === '\r') pos = 0;
        else if (ch === '\b') pos = Math.max(0, pos - 1);
        else buf[pos++] = ch;
      }
      const pendingCr = i === lines.length - 1 && line.endsWith('\r');
      return buf.join('') + (pendingCr ? '\r' : '');
    })
    .join('\n');
}

function bundleSize(data: unknown): number {
  try {
    return JSON.stringify(data)?.length ?? 0;
  } catch {
    return Infinity;
  }
}

function notice(text: string): Output {
  return {
    output_type: 'display_data',
    data: { 'text/plain': text },
    metadata: { [TRUNCATION_METADATA_KEY]: true },
  };
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** A traceback over MAX_TRACEBACK_CHARS keeps its last lines (where the error is) behind a notice. */
export function cutTraceback(traceback: string[]): string[] {
  if (traceback.reduce((n, l) => n + l.length, 0) <= MAX_TRACEBACK_CHARS) return traceback;
  const kept: string[] = [];
  let n = 0;
  for (const line of traceback.slice().reverse()) {
    if (n + line.length > MAX_TRACEBACK_CHARS) break;
    kept.unshift(line);
    n += line.length;
  }
  return [`[traceback cut to its last ${fmt(MAX_TRACEBACK_CHARS)} characters]`, ...kept];
}

export class OutputWriter {
  private pending: { name: 'stdout' | 'stderr'; text: string }[] = [];
  /** characters in `pending` */
  private pendingChars = 0;
  private timer: NodeJS.Timeout | null = null;
  private clearOnNext = false;
  private streamChars = 0;
  private outputCount = 0;
  private droppedChars = 0;
  private droppedLines = 0;
  private droppedOutputs = 0;
  private noticeShown = false;
  private lastNoticeAt = 0;
  /** the stream output being appended to, and the text of its last line (saves reading it back) */
  private open: { map: Y.Map<unknown>; tail: string } | null = null;

  constructor(
    private doc: Y.Doc,
    private cellId: string,
    private origin: unknown,
  ) {}

  /** The cell's outputs array, looked up by id each time: a moved cell is a new map. */
  private outputs(): Y.Array<YOutput> | undefined {
    const cell = findCell(this.doc, this.cellId);
    return cell ? cellOutputs(cell) : undefined;
  }

  clear(): void {
    // limits are about what the document holds; a cleared output starts afresh
    this.noticeShown = false;
    this.streamChars = 0;
    this.outputCount = 0;
    this.doc.transact(() => {
      const outs = this.outputs();
      if (outs && outs.length) outs.delete(0, outs.length);
    }, this.origin);
  }

  handle(msg: KernelMessage): void {
    const c = msg.content ?? {};
    switch (msg.msg_type) {
      case 'stream': {
        const name = c.name === 'stderr' ? 'stderr' : 'stdout';
        const text = typeof c.text === 'string' ? c.text : '';
        if (!text) return;
        this.applyPendingClear();
        if (this.streamChars + this.pendingChars >= MAX_STREAM_CHARS_PER_RUN) {
          // past the limit already: counted for the notice and dropped here, before it costs a
          // document transaction (a flood keeps the server's event loop free for others)
          this.droppedChars += text.length;
          this.droppedLines += countLines(text);
        } else {
          this.pending.push({ name, text });
          this.pendingChars += text.length;
        }
        this.timer ??= setTimeout(() => this.flush(), OUTPUT_FLUSH_MS);
        return;
      }
      case 'clear_output':
        this.flush();
        if (c.wait) this.clearOnNext = true;
        else this.clear();
        return;
      case 'display_data':
      case 'execute_result': {
        this.flush();
        this.applyPendingClear();
        const out: Output =
          msg.msg_type === 'execute_result'
            ? {
                output_type: 'execute_result',
                data: c.data ?? {},
                metadata: c.metadata ?? {},
                execution_count: typeof c.execution_count === 'number' ? c.execution_count : null,
              }
            : { output_type: 'display_data', data: c.data ?? {}, metadata: c.metadata ?? {} };
        const displayId = c.transient?.display_id;
        if (typeof displayId === 'string') (out as { transient?: unknown }).transient = { display_id: displayId };
        this.push(this.limitBundle(out));
        return;
      }
      case 'update_display_data':
        this.flush();
        this.updateDisplay(c);
        return;
      case 'error': {
        this.flush();
        this.applyPendingClear();
        const traceback = cutTraceback(Array.isArray(c.traceback) ? c.traceback.map(String) : []);
        this.push({ output_type: 'error', ename: String(c.ename ?? 'Error'), evalue: String(c.evalue ?? ''), traceback });
        return;
      }
      default:
        return;
    }
  }

  private applyPendingClear() {
    if (!this.clearOnNext) return;
    this.clearOnNext = false;
    this.clear();
  }

  private limitBundle(out: Output): Output {
    if (out.output_type !== 'display_data' && out.output_type !== 'execute_result') return out;
    // the same depth limit as client updates (docs/decisions/0025): kernel code can display anything
    if (nestsDeeperThan(out, levelsLeft(LEVEL.output))) {
      return notice(`Output not kept: it is ${nestingMessage()} (${Object.keys(out.data ?? {}).join(', ')}).`);
    }
    const size = bundleSize(out.data);
    if (size <= MAX_OUTPUT_BYTES) return out;
    const types = Object.keys(out.data).join(', ');
    return notice(
      `Output not kept: it was ${fmt(size)} bytes (${types}); the limit is ${fmt(MAX_OUTPUT_BYTES)} bytes. ` +
        'Write large results to a file instead.',
    );
  }

  private push(out: Output) {
    if (this.outputCount >= MAX_OUTPUTS_PER_RUN) {
      this.droppedOutputs++;
      this.updateNotice(true);
      return;
    }
    this.outputCount++;
    this.doc.transact(() => {
      const outs = this.outputs();
      if (!outs) return;
      // keep the truncation notice last
      const at = this.noticeShown ? Math.max(0, outs.length - 1) : outs.length;
      outs.insert(at, [outputToY(out)]);
    }, this.origin);
  }

  private updateDisplay(c: { data?: unknown; metadata?: unknown; transient?: { display_id?: unknown } }) {
    const id = c.transient?.display_id;
    if (typeof id !== 'string') return;
    const data = c.data ?? {};
    this.doc.transact(() => {
      // a display id may appear in any cell of the notebook, as in Jupyter
      for (const cell of cellsOf(this.doc).toArray()) {
        const outs = cellOutputs(cell);
        if (!outs) continue;
        outs.toArray().forEach((o, i) => {
          if (o instanceof Y.Map) return;
          if ((o.output_type === 'display_data' || o.output_type === 'execute_result') && o.transient?.display_id === id) {
            const updated = this.limitBundle({ ...o, data: data as Record<string, unknown>, metadata: (c.metadata ?? {}) as Record<string, unknown> });
            outs.delete(i, 1);
            outs.insert(i, [updated]);
          }
        });
      }
    }, this.origin);
  }

  /** Writes buffered stream text into the document in one transaction. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length) {
      const chunks = this.pending.splice(0);
      this.pendingChars = 0;
      this.doc.transact(() => {
        const outs = this.outputs();
        if (!outs) return;
        for (const { name, text } of chunks) this.appendStream(outs, name, text);
      }, this.origin);
    }
    if (this.droppedChars) this.updateNotice(false);
  }

  private appendStream(outs: Y.Array<YOutput>, name: 'stdout' | 'stderr', text: string) {
    const room = MAX_STREAM_CHARS_PER_RUN - this.streamChars;
    if (room <= 0) {
      this.droppedChars += text.length;
      this.droppedLines += countLines(text);
      return;
    }
    if (text.length > room) {
      this.droppedChars += text.length - room;
      this.droppedLines += countLines(text.slice(room));
      text = text.slice(0, room);
    }
    this.streamChars += text.length;
    const lastIndex = this.noticeShown ? outs.length - 2 : outs.length - 1;
    const last = lastIndex >= 0 ? outs.get(lastIndex) : undefined;
    if (last instanceof Y.Map && last.get('output_type') === 'stream' && last.get('name') === name) {
      const ytext = last.get('text') as Y.Text;
      if (this.open?.map !== last) {
        const cur = ytext.toString();
        this.open = { map: last, tail: cur.slice(cur.lastIndexOf('\n') + 1) };
      }
      const { tail } = this.open;
      if (!/[\r\b]/.test(text) && !tail.endsWith('\r')) {
        ytext.insert(ytext.length, text);
        const nl = text.lastIndexOf('\n');
        this.open.tail = nl < 0 ? tail + text : text.slice(nl + 1);
      } else {
        const rewritten = applyControlChars(tail + text);
        ytext.delete(ytext.length - tail.length, tail.length);
        ytext.insert(ytext.length, rewritten);
        this.open.tail = rewritten.slice(rewritten.lastIndexOf('\n') + 1);
      }
      return;
    }
    if (this.outputCount >= MAX_OUTPUTS_PER_RUN) {
      this.droppedOutputs++;
      return;
    }
    this.outputCount++;
    const at = this.noticeShown ? Math.max(0, outs.length - 1) : outs.length;
    outs.insert(at, [outputToY({ output_type: 'stream', name, text: applyControlChars(text) })]);
  }

  /** Shows (or refreshes, at most once a second unless forced) the notice of what was cut. */
  private updateNotice(force: boolean) {
    const now = Date.now();
    if (this.noticeShown && !force && now - this.lastNoticeAt < 1000) return;
    this.lastNoticeAt = now;
    const parts: string[] = [];
    if (this.droppedChars) {
      parts.push(`${fmt(this.droppedChars)} more characters (${fmt(this.droppedLines)} lines) of printed output were not kept (limit ${fmt(MAX_STREAM_CHARS_PER_RUN)} characters per run)`);
    }
    if (this.droppedOutputs) {
      parts.push(`${fmt(this.droppedOutputs)} more outputs were not kept (limit ${fmt(MAX_OUTPUTS_PER_RUN)} per run)`);
    }
    if (!parts.length) return;
    const text = `Output truncated: ${parts.join('; ')}.`;
    this.doc.transact(() => {
      const outs = this.outputs();
      if (!outs) return;
      if (this.noticeShown && outs.length) outs.delete(outs.length - 1, 1);
      outs.push([notice(text)]);
    }, this.origin);
    this.noticeShown = true;
  }

  /** Flushes everything and finalises the truncation notice. */
  finish(): void {
    this.flush();
    if (this.droppedChars || this.droppedOutputs) this.updateNotice(true);
  }
}

function countLines(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 10) n++;
  return n;
}
