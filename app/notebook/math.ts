// Finding TeX in markdown and in text/latex outputs, as JupyterLab does it
// (jupyterlab packages/rendermime/src/latex.ts, itself from the classic notebook's mathjaxutils):
// the math is taken out before markdown parsing and put back after, so `_` and `*` inside math
// never become emphasis and markdown escapes never eat TeX backslashes. Code spans and fenced code
// keep their dollars. `\$` is a literal dollar. Pure string work: no DOM, no KaTeX.
//
// Delimiters: `$…$` and `\(…\)` inline; `$$…$$`, `\[…\]` and `\begin{env}…\end{env}` displayed.
// Math never runs past a blank line, and braces must balance before a delimiter closes it.

/** A stashed piece of the source: math to typeset, or text that only looked like a placeholder. */
export type MathPiece =
  | { kind: 'math'; tex: string; isDisplay: boolean; source: string }
  | { kind: 'text'; source: string };

export interface RemovedMath {
  /** the source with every piece replaced by `@@<index>@@` */
  text: string;
  pieces: MathPiece[];
}

/** `@@12@@`: where a stashed piece goes back. */
export const PLACEHOLDER = /@@(\d+)@@/g;

// The tokens that matter: `$`/`$$`, \begin{…}/\end{…}, escaped `\{ \} \$`, braces, runs of line
// breaks, things that look like our placeholders, and the `\( \) \[ \]` delimiters (one backslash
// as in LaTeX, or two as markdown needs them when math is not taken out first).
const MATH_SPLIT = /(\$\$?|\\(?:begin|end)\{[a-z]*\*?\}|\\[{}$]|[{}]|(?:\n\s*)+|@@\d+@@|\\\\?[()[\]])/i;

/** Tildes and dollars in code are hidden as `~T` and `~D` while math is searched for. */
function hideCode(text: string): { text: string; unhide: (s: string) => string } {
  if (!text.includes('`') && !text.includes('~~~')) return { text, unhide: (s) => s };
  const hidden = text
    .replace(/~/g, '~T')
    // fenced code: ``` or ~~~ (now ~T~T~T), up to the same fence (https://spec.commonmark.org/0.30/#fenced-code-blocks)
    .replace(/^(?<fence>`{3,}|(?:~T){3,})[^`\n]*\n[\s\S]*?^\k<fence>`*$/gm, (block) => block.replace(/\$/g, '~D'))
    // code spans: a run of backticks up to the same run
    .replace(/(^|[^\\])(`+)([^\n]*?[^`\n])\2(?!`)/gm, (span) => span.replace(/\$/g, '~D'));
  return { text: hidden, unhide: (s) => s.replace(/~([TD])/g, (_, c: string) => (c === 'T' ? '~' : '$')) };
}

function closingFor(opening: string): string | null {
  if (opening === '$' || opening === '$$') return opening;
  const bracket = opening.replace(/^\\+/, '');
  const slashes = opening.slice(0, opening.length - bracket.length);
  if (bracket === '(') return `${slashes})`;
  if (bracket === '[') return `${slashes}]`;
  if (opening.startsWith('\\begin')) return `\\end${opening.slice('\\begin'.length)}`;
  return null;
}

/** The TeX inside a delimited block, and whether it is displayed. */
function mathOf(source: string): { tex: string; isDisplay: boolean } {
  if (source.startsWith('$$')) return { tex: source.slice(2, -2), isDisplay: true };
  if (source.startsWith('$')) return { tex: source.slice(1, -1), isDisplay: false };
  const m = /^(\\\\?)([([])([\s\S]*)\1[)\]]$/.exec(source);
  if (m) return { tex: m[3], isDisplay: m[2] === '[' };
  // \begin{equation}…\end{equation}: KaTeX typesets the environment itself, displayed
  return { tex: source, isDisplay: true };
}

/**
 * Takes the math out of `input`: each delimited formula (and any text that looks like one of our
 * placeholders) becomes `@@n@@`, and `pieces[n]` says what goes back there.
 */
export function removeMath(input: string): RemovedMath {
  const pieces: MathPiece[] = [];
  const { text, unhide } = hideCode(input.replace(/\r\n?/g, '\n'));
  const blocks = text.split(MATH_SPLIT);
  let start: number | null = null;
  let end: string | null = null;
  let last: number | null = null;
  let braces = 0;

  const stash = (from: number, to: number) => {
    const source = unhide(blocks.slice(from, to + 1).join(''));
    for (let k = to; k > from; k--) blocks[k] = '';
    blocks[from] = `@@${pieces.length}@@`;
    pieces.push({ kind: 'math', source, ...mathOf(source) });
  };

  // odd indices are the delimiters the split captured, even ones the text between them
  for (let i = 1; i < blocks.length; i += 2) {
    const block = blocks[i];
    if (block.startsWith('@@')) {
      blocks[i] = `@@${pieces.length}@@`;
      pieces.push({ kind: 'text', source: block });
    } else if (start !== null) {
      if (block === end) {
        if (braces) last = i;
        else {
          stash(start, i);
          start = end = last = null;
        }
      } else if (/\n.*\n/.test(block)) {
        // a blank line ends a paragraph, and math that did not close in it is not math
        if (last !== null) {
          i = last;
          stash(start, i);
        }
        start = end = last = null;
        braces = 0;
      } else if (block === '{') braces++;
      else if (block === '}' && braces) braces--;
    } else {
      const closing = closingFor(block);
      if (closing) {
        start = i;
        end = closing;
        braces = 0;
      }
    }
  }
  if (start !== null && last !== null) stash(start, last);
  return { text: unhide(blocks.join('')), pieces };
}

/** Puts the original source back in place of the placeholders (where math cannot be typeset). */
export function restoreSource(text: string, pieces: MathPiece[]): string {
  return text.replace(PLACEHOLDER, (whole, n: string) => pieces[Number(n)]?.source ?? whole);
}

/** `\$` outside math in text/latex output is a dollar sign, as LaTeX prints it. */
export function unescapeLatexText(text: string): string {
  return text.replace(/\\\$/g, '$');
}
