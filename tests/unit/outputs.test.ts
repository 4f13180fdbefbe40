import { describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { cellToJSON, findCell, initNotebook, insertCell } from '../../common/notebook/model';
import { MAX_OUTPUTS_PER_RUN, MAX_STREAM_CHARS_PER_RUN } from '../../common/notebook/limits';
import { applyControlChars, OutputWriter } from '../../server/notebook/outputs';

function setup() {
  const doc = new Y.Doc();
  initNotebook(doc);
  const id = insertCell(doc, 0, {});
  const w = new OutputWriter(doc, id, 'test');
  const outs = () => cellToJSON(findCell(doc, id)!).outputs!;
  return { doc, id, w, outs };
}
const stream = (text: string, name = 'stdout') => ({ msg_type: 'stream', content: { name, text } });

describe('control characters in streams', () => {
  it('\\r overwrites the line, \\b steps back, a trailing \\r waits for the next chunk', () => {
    expect(applyControlChars('10%\r20%\r30%')).toBe('30%');
    expect(applyControlChars('abc\rX')).toBe('Xbc');
    expect(applyControlChars('line\r\nnext')).toBe('line\nnext');
    expect(applyControlChars('ab\bc')).toBe('ac');
    expect(applyControlChars('50%\r')).toBe('50%\r');
    expect(applyControlChars('a\nb')).toBe('a\nb');
  });
});

describe('OutputWriter', () => {
  it('merges consecutive stream chunks of one name, keeps names apart, in order', () => {
    const { w, outs } = setup();
    w.handle(stream('a\n'));
    w.handle(stream('b\n'));
    w.handle(stream('oops\n', 'stderr'));
    w.handle(stream('c\n'));
    w.finish();
    expect(outs()).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'a\nb\n' },
      { output_type: 'stream', name: 'stderr', text: 'oops\n' },
      { output_type: 'stream', name: 'stdout', text: 'c\n' },
    ]);
  });

  it('a progress bar across chunks stays one line', () => {
    const { w, outs } = setup();
    w.handle(stream('start\n'));
    for (let p = 0; p <= 100; p += 25) {
      w.handle(stream(`\r${p}%`));
      w.flush();
    }
    w.handle(stream('\ndone\n'));
    w.finish();
    expect(outs()).toEqual([{ output_type: 'stream', name: 'stdout', text: 'start\n100%\ndone\n' }]);
  });

  it('buffers stream text and writes it in few transactions', () => {
    vi.useFakeTimers();
    const { doc, w, outs } = setup();
    let transactions = 0;
    doc.on('afterTransaction', () => transactions++);
    for (let i = 0; i < 1000; i++) w.handle(stream(`${i}\n`));
    expect(transactions).toBe(0);
    vi.advanceTimersByTime(100);
    expect(transactions).toBe(1);
    expect((outs()[0] as { text: string }).text.split('\n')).toHaveLength(1001);
    vi.useRealTimers();
  });

  it('clear_output(wait=True) clears just before the next output', () => {
    const { w, outs } = setup();
    w.handle(stream('old\n'));
    w.handle({ msg_type: 'clear_output', content: { wait: true } });
    w.flush();
    expect(outs()).toHaveLength(1);
    w.handle(stream('new\n'));
    w.finish();
    expect(outs()).toEqual([{ output_type: 'stream', name: 'stdout', text: 'new\n' }]);
  });

  it('cuts a flood of text at the limit with a notice that counts what was dropped', () => {
    const { w, outs } = setup();
    const line = 'x'.repeat(99) + '\n';
    const lines = Math.ceil(MAX_STREAM_CHARS_PER_RUN / 100) + 500;
    for (let i = 0; i < lines; i++) w.handle(stream(line));
    w.finish();
    const o = outs();
    expect(o).toHaveLength(2);
    expect((o[0] as { text: string }).text).toHaveLength(MAX_STREAM_CHARS_PER_RUN);
    expect((o[1] as { data: Record<string, string> }).data['text/plain']).toBe(
      `Output truncated: ${(50000).toLocaleString('en-US')} more characters (500 lines) of printed output were not kept (limit ${MAX_STREAM_CHARS_PER_RUN.toLocaleString('en-US')} characters per run).`,
    );
  });

  it('caps the number of outputs and says so', () => {
    const { w, outs } = setup();
    for (let i = 0; i < MAX_OUTPUTS_PER_RUN + 5; i++) w.handle({ msg_type: 'display_data', content: { data: { 'text/plain': String(i) }, metadata: {} } });
    w.finish();
    const o = outs();
    expect(o).toHaveLength(MAX_OUTPUTS_PER_RUN + 1);
    expect((o[o.length - 1] as { data: Record<string, string> }).data['text/plain']).toContain('5 more outputs were not kept');
  });

  it('update_display_data replaces the output with that display id', () => {
    const { w, outs } = setup();
    w.handle({ msg_type: 'display_data', content: { data: { 'text/plain': 'v1' }, metadata: {}, transient: { display_id: 'd1' } } });
    w.handle({ msg_type: 'display_data', content: { data: { 'text/plain': 'other' }, metadata: {} } });
    w.handle({ msg_type: 'update_display_data', content: { data: { 'text/plain': 'v2' }, metadata: {}, transient: { display_id: 'd1' } } });
    expect(outs().map((o) => (o as { data: Record<string, string> }).data['text/plain'])).toEqual(['v2', 'other']);
  });

  it('writes nothing when the cell was deleted mid-run', () => {
    const { doc, id, w } = setup();
    doc.getArray('cells').delete(0, doc.getArray('cells').length);
    w.handle(stream('x'));
    expect(() => w.finish()).not.toThrow();
    expect(findCell(doc, id)).toBeUndefined();
  });
});

import { KernelError, redactSecrets } from '../../server/kernel/errors';
describe('secrets in kernel errors', () => {
  it('a gateway token in a URL or header never survives into the message', () => {
    const e = new KernelError('GATEWAY_ERROR', 'failed ws://127.0.0.1:8888/api/kernels/x/channels?session_id=1&token=abc123secret: Authorization: token abc123secret');
    expect(e.message).not.toContain('abc123secret');
    expect(redactSecrets('GET /api?token=s3cr3t&x=1')).toBe('GET /api?token=[redacted]&x=1');
  });
});
