import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { TRUNCATION_METADATA_KEY } from '../../common/notebook/limits';
import type { Output } from '../../common/notebook/types';
import { color256, fixConsole, parseAnsi, stripAnsi } from '../../app/components/outputs/ansi';
import { buildSrcDoc } from '../../app/components/outputs/html-frame';
import { chooseMime, describeUnsupported, joinText, outputsEqual } from '../../app/components/outputs/mime';
import { OutputArea } from '../../app/components/outputs/output-area';
import { scaled } from '../support/timing';

const ESC = '\u001b';

// What IPython 9 sends for `1/0` inside a function (captured from kernel-gateway/.venv).
const IPYTHON_TRACEBACK = [
  `${ESC}[31m---------------------------------------------------------------------------${ESC}[39m`,
  `${ESC}[31mZeroDivisionError${ESC}[39m                         Traceback (most recent call last)`,
  `${ESC}[36mFile ${ESC}[39m${ESC}[32m<ipython-input-1>:2${ESC}[39m, in ${ESC}[36mf${ESC}[39m${ESC}[34m(x)${ESC}[39m\n${ESC}[32m      1${ESC}[39m ${ESC}[38;5;241m# comment${ESC}[39m\n`,
  `${ESC}[31mZeroDivisionError${ESC}[39m: division by zero`,
];

const render = (outputs: Output[]) => renderToStaticMarkup(createElement(OutputArea, { outputs }));

describe('parseAnsi', () => {
  it('returns plain text as a single unstyled segment', () => {
    expect(parseAnsi('hello\nworld')).toEqual([{ text: 'hello\nworld', style: {} }]);
    expect(parseAnsi('')).toEqual([]);
  });

  it('applies 16 colours, bright colours, backgrounds, bold and reset', () => {
    const segments = parseAnsi(`a${ESC}[1;31mb${ESC}[0mc${ESC}[92;104md${ESC}[mE`);
    expect(segments).toEqual([
      { text: 'a', style: {} },
      { text: 'b', style: { bold: true, fg: 'red' } },
      { text: 'c', style: {} },
      { text: 'd', style: { fg: 'bright-green', bg: 'bright-blue' } },
      { text: 'E', style: {} },
    ]);
    expect(parseAnsi(`${ESC}[33;42mx`)[0].style).toEqual({ fg: 'yellow', bg: 'green' });
  });

  it('handles 256 and 24-bit colours and default-colour resets', () => {
    expect(parseAnsi(`${ESC}[38;5;241mx`)[0].style.fg).toBe('rgb(98, 98, 98)');
    expect(parseAnsi(`${ESC}[38;5;196mx`)[0].style.fg).toBe('rgb(255, 0, 0)');
    expect(parseAnsi(`${ESC}[38;5;9mx`)[0].style.fg).toBe('bright-red');
    expect(parseAnsi(`${ESC}[48;2;10;20;30mx`)[0].style.bg).toBe('rgb(10, 20, 30)');
    expect(parseAnsi(`${ESC}[1;31mx${ESC}[39my`)[1].style).toEqual({ bold: true });
    expect(color256(16)).toBe('rgb(0, 0, 0)');
    expect(color256(231)).toBe('rgb(255, 255, 255)');
    expect(color256(255)).toBe('rgb(238, 238, 238)');
  });

  it('drops non-colour escape sequences and merges runs of the same style', () => {
    expect(parseAnsi(`${ESC}[2Kab${ESC}[1Gc${ESC}]0;title\u0007d`)).toEqual([{ text: 'abcd', style: {} }]);
    expect(parseAnsi(`${ESC}[31ma${ESC}[31mb`)).toEqual([{ text: 'ab', style: { fg: 'red' } }]);
  });

  it('colours an IPython traceback and keeps its text intact', () => {
    const text = IPYTHON_TRACEBACK.join('\n');
    const segments = parseAnsi(text);
    expect(segments.map((s) => s.text).join('')).toBe(stripAnsi(text));
    expect(segments.find((s) => s.text === 'ZeroDivisionError')?.style.fg).toBe('red');
    expect(segments.find((s) => s.text === '# comment')?.style.fg).toBe('rgb(98, 98, 98)');
    expect(stripAnsi(text)).not.toContain(ESC);
  });

  it('parses 200k characters of coloured text quickly', () => {
    const line = `${ESC}[32mok${ESC}[0m step done\n`;
    const text = line.repeat(Math.ceil(200_000 / line.length));
    const start = performance.now();
    const segments = parseAnsi(text);
    expect(performance.now() - start).toBeLessThan(scaled(500));
    expect(segments.length).toBeGreaterThan(10_000);
  });
});

describe('fixConsole', () => {
  it('keeps the last frame of a progress bar and strips a trailing \\r', () => {
    expect(fixConsole('10%\r50%\r100%\ndone')).toBe('100%\ndone');
    expect(fixConsole('loading...\r')).toBe('loading...');
    expect(fixConsole('abcdef\rXY')).toBe('XYcdef');
    expect(fixConsole('line\r\nnext')).toBe('line\nnext');
    expect(fixConsole('abc\b\bX')).toBe('aX');
  });
});

describe('chooseMime', () => {
  it('picks the richest supported type in Jupyter order', () => {
    expect(chooseMime({ 'text/plain': 'x', 'text/html': '<b>x</b>' })).toBe('text/html');
    expect(chooseMime({ 'text/plain': 'x', 'image/png': 'iVBOR', 'image/svg+xml': '<svg/>' })).toBe('image/svg+xml');
    expect(chooseMime({ 'text/plain': 'x', 'image/jpeg': '/9j/', 'text/markdown': '# x' })).toBe('image/jpeg');
    expect(chooseMime({ 'text/plain': 'x', 'application/json': {}, 'text/latex': '$x$' })).toBe('application/json');
    expect(chooseMime({ 'text/plain': 'x', 'text/latex': '$x$' })).toBe('text/latex');
    expect(
      chooseMime({ 'text/plain': 'x', 'text/html': '<b/>', 'application/vnd.jupyter.widget-view+json': { model_id: 'a' } }),
    ).toBe('application/vnd.jupyter.widget-view+json');
    expect(chooseMime({ 'text/plain': ['a', 'b'] })).toBe('text/plain');
  });

  it('returns null when nothing is supported', () => {
    expect(chooseMime({ 'application/x-foo': 'abc' })).toBeNull();
    expect(chooseMime({})).toBeNull();
    expect(describeUnsupported({ 'application/x-foo': 'abc', 'application/x-bar': 'é' })).toBe(
      'Output of type application/x-foo (3 bytes), application/x-bar (2 bytes) cannot be displayed',
    );
  });

  it('joins nbformat multiline arrays', () => {
    expect(joinText(['a\n', 'b'])).toBe('a\nb');
    expect(joinText(undefined)).toBe('');
  });
});

describe('outputsEqual', () => {
  it('treats fresh copies as equal and changes as different', () => {
    const a: Output = { output_type: 'display_data', data: { 'text/plain': ['a', 'b'] }, metadata: { x: { y: 1 } } };
    const b = JSON.parse(JSON.stringify(a)) as Output;
    expect(outputsEqual(a, b)).toBe(true);
    expect(outputsEqual(a, { ...a, data: { 'text/plain': ['a', 'c'] } } as Output)).toBe(false);
    expect(outputsEqual({ output_type: 'stream', name: 'stdout', text: 'x' }, { output_type: 'stream', name: 'stdout', text: 'xy' })).toBe(
      false,
    );
  });
});

describe('OutputArea (server render)', () => {
  it('renders streams as escaped, coloured text; stderr marked', () => {
    const html = render([
      { output_type: 'stream', name: 'stdout', text: `<script>alert(1)</script> ${ESC}[1;32mgreen${ESC}[0m\r` },
      { output_type: 'stream', name: 'stderr', text: 'warn' },
    ]);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('<span class="ansi-green-fg ansi-bold">green</span>');
    expect(html).toContain('data-output-type="stream" data-mime="application/vnd.jupyter.stdout"');
    expect(html).toContain('ynb-out-stderr');
    expect(html).not.toContain('\r');
  });

  it('renders an IPython error with coloured traceback', () => {
    const html = render([{ output_type: 'error', ename: 'ZeroDivisionError', evalue: 'division by zero', traceback: IPYTHON_TRACEBACK }]);
    expect(html).toContain('data-testid="output-error"');
    expect(html).toContain('<span class="ansi-red-fg">ZeroDivisionError</span>: division by zero');
    expect(html).toContain('style="color:rgb(98, 98, 98)"');
    expect(html).not.toContain(ESC);
  });

  it('shows ename: evalue when the traceback is empty', () => {
    const html = render([{ output_type: 'error', ename: 'KeyError', evalue: "'x'", traceback: [] }]);
    expect(html).toContain('KeyError: &#x27;x&#x27;');
  });

  it('puts HTML in a sandboxed iframe without same-origin', () => {
    const html = render([
      { output_type: 'execute_result', execution_count: 1, data: { 'text/html': ['<table class="dataframe">', '</table>'], 'text/plain': 'df' }, metadata: {} },
    ]);
    expect(html).toContain('data-testid="output-html"');
    expect(html).toContain('sandbox="allow-scripts"');
    expect(html).not.toContain('allow-same-origin');
    expect(html).toContain('data-mime="text/html"');
    const doc = buildSrcDoc('<table class="dataframe"></table>', '</script><b>');
    expect(doc).toContain('ynb-output-height');
    expect(doc.match(/<\/script>/g)?.length).toBe(1);
  });

  it('renders images as data URLs with metadata size, SVG as an img', () => {
    const html = render([
      { output_type: 'display_data', data: { 'image/png': ['iVBOR\n', 'w0KG'], 'text/plain': '<Figure>' }, metadata: { 'image/png': { width: 320, height: 240 } } },
      { output_type: 'display_data', data: { 'image/svg+xml': '<svg onload="alert(1)"></svg>' }, metadata: {} },
    ]);
    expect(html).toContain('src="data:image/png;base64,iVBORw0KG"');
    expect(html).toContain('width="320" height="240"');
    expect(html).toContain('alt="&lt;Figure&gt;"');
    expect(html).toContain('src="data:image/svg+xml;charset=utf-8,%3Csvg');
    expect(html).not.toContain('<svg onload');
    expect(html.match(/data-testid="output-image"/g)?.length).toBe(2);
  });

  it('renders markdown as source on the server, JSON, LaTeX, widgets, unknown types, truncation', () => {
    const html = render([
      { output_type: 'display_data', data: { 'text/markdown': '# Title <img src=x onerror=alert(1)>' }, metadata: {} },
      { output_type: 'display_data', data: { 'application/json': { a: 1, b: [1, 2] } }, metadata: {} },
      { output_type: 'display_data', data: { 'text/latex': '$x^2$' }, metadata: {} },
      { output_type: 'display_data', data: { 'application/vnd.jupyter.widget-view+json': { model_id: 'm' }, 'text/plain': 'IntSlider(value=0)' }, metadata: {} },
      { output_type: 'display_data', data: { 'application/x-foo': 'abc' }, metadata: {} },
      { output_type: 'display_data', data: { 'text/plain': 'Output cut: 1,000 lines not shown' }, metadata: { [TRUNCATION_METADATA_KEY]: true } },
    ]);
    expect(html).toContain('# Title &lt;img');
    expect(html).toContain('<details');
    expect(html).toContain('&quot;a&quot;');
    expect(html).toContain('$x^2$');
    expect(html).toContain('widgets are not supported');
    expect(html).toContain('IntSlider(value=0)');
    expect(html).toContain('Output of type application/x-foo (3 bytes) cannot be displayed');
    expect(html).toContain('data-truncation="true"');
    expect(html).toContain('Output cut: 1,000 lines not shown');
    expect(html).toContain('ynb-out-truncated');
  });

  it('renders nothing for no outputs', () => {
    expect(render([])).toBe('');
  });
});
