// Finding the TeX in markdown before it is parsed (app/notebook/math.ts), as JupyterLab does.
import { describe, expect, it } from 'vitest';
import { removeMath, restoreSource, unescapeLatexText, type MathPiece } from '../../app/notebook/math';

const math = (pieces: MathPiece[]) => pieces.map((p) => (p.kind === 'math' ? [p.tex, p.isDisplay ? 'display' : 'inline'] : ['text', p.source]));

describe('removeMath', () => {
  it('takes out inline and display math, leaving placeholders markdown cannot touch', () => {
    const { text, pieces } = removeMath('Energy $E = m_1 c^2$ and *mass*:\n\n$$\\sum_{i=1}^n x_i^2$$\n');
    expect(text).toBe('Energy @@0@@ and *mass*:\n\n@@1@@\n');
    expect(math(pieces)).toEqual([
      ['E = m_1 c^2', 'inline'],
      ['\\sum_{i=1}^n x_i^2', 'display'],
    ]);
  });

  it('knows \\( \\), \\[ \\] and \\begin{…}…\\end{…}', () => {
    const { text, pieces } = removeMath('a \\(x_1\\) b \\[y_2\\] c\n\\begin{equation}\na_1 = b_2\n\\end{equation}');
    expect(text).toBe('a @@0@@ b @@1@@ c\n@@2@@');
    expect(math(pieces)).toEqual([
      ['x_1', 'inline'],
      ['y_2', 'display'],
      ['\\begin{equation}\na_1 = b_2\n\\end{equation}', 'display'],
    ]);
  });

  it('also takes the doubled backslashes markdown-minded notebooks use (\\\\( \\\\))', () => {
    expect(math(removeMath('so \\\\(a_b\\\\) then').pieces)).toEqual([['a_b', 'inline']]);
  });

  it('leaves code spans and fenced code alone', () => {
    const source = 'Use `$HOME` and `echo $PATH`; then $x$.\n\n```sh\necho "$a and $b"\n```\n\n~~~\n$y$ ~ z\n~~~\n';
    const { text, pieces } = removeMath(source);
    expect(math(pieces)).toEqual([['x', 'inline']]);
    expect(text).toBe(source.replace('$x$', '@@0@@'));
  });

  it('treats \\$ as a literal dollar, never a delimiter', () => {
    const { text, pieces } = removeMath('It costs \\$5, or \\$10 with $\\$x$ tax.');
    expect(math(pieces)).toEqual([['\\$x', 'inline']]);
    expect(text).toBe('It costs \\$5, or \\$10 with @@0@@ tax.');
  });

  it('does not run math past a blank line, and waits for braces to balance', () => {
    expect(removeMath('a $b\n\nc$ d').pieces).toEqual([]);
    expect(math(removeMath('$\\text{a $b$ c}$').pieces)).toEqual([['\\text{a $b$ c}', 'inline']]);
  });

  it('stashes text that looks like a placeholder, so it comes back as it was', () => {
    const { text, pieces } = removeMath('literal @@0@@ and $x$');
    expect(text).toBe('literal @@0@@ and @@1@@');
    expect(pieces[0]).toEqual({ kind: 'text', source: '@@0@@' });
    expect(restoreSource(text, pieces)).toBe('literal @@0@@ and $x$');
  });

  it('leaves text without math as it is (CRLF becomes LF)', () => {
    expect(removeMath('no math here, only 5 dollars\r\n')).toEqual({ text: 'no math here, only 5 dollars\n', pieces: [] });
  });

  it('reads IPython Math and Latex outputs', () => {
    expect(math(removeMath('$\\displaystyle \\frac{a}{b}$').pieces)).toEqual([['\\displaystyle \\frac{a}{b}', 'inline']]);
    expect(unescapeLatexText('costs \\$3')).toBe('costs $3');
  });
});
