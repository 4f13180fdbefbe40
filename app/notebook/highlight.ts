// A small Python highlighter for cells that are not being edited. Mounting Monaco per cell would
// make a long notebook unusable; this renders a <pre> whose colours match Monaco's "vs" theme so
// the switch to the live editor on focus does not flicker.

const KEYWORDS = new Set(
  (
    'False None True and as assert async await break class continue def del elif else except finally for ' +
    'from global if import in is lambda nonlocal not or pass raise return try while with yield match case'
  ).split(' '),
);

const BUILTINS = new Set(
  (
    'abs all any bool bytes callable chr dict dir divmod enumerate eval exec filter float format frozenset ' +
    'getattr globals hasattr hash help hex id input int isinstance issubclass iter len list locals map max ' +
    'min next object oct open ord pow print property range repr reversed round set setattr slice sorted ' +
    'staticmethod str sum super tuple type vars zip self cls'
  ).split(' '),
);

// order matters: comments and strings first, so their contents are not tokenized further
const TOKEN =
  /(#[^\n]*)|([rRbBuUfF]{0,2}(?:"""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$)|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?))|(@[A-Za-z_][\w.]*)|(\b(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|\d[\d_]*\.?[\d_]*(?:[eE][+-]?\d+)?j?|\.\d[\d_]*(?:[eE][+-]?\d+)?j?)\b)|([A-Za-z_]\w*)/g;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}

/** Python source as HTML with `<span class="tok-…">` around tokens; everything else escaped. */
export function highlightPython(source: string): string {
  let html = '';
  let last = 0;
  let previousWord = '';
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(source); m; m = TOKEN.exec(source)) {
    if (m.index > last) html += escapeHtml(source.slice(last, m.index));
    last = m.index + m[0].length;
    const text = escapeHtml(m[0]);
    let cls: string | null = null;
    if (m[1]) cls = 'comment';
    else if (m[2]) cls = 'string';
    else if (m[3]) cls = 'decorator';
    else if (m[4]) cls = 'number';
    else if (m[5]) {
      const word = m[5];
      if (KEYWORDS.has(word)) cls = 'keyword';
      else if (previousWord === 'def') cls = 'function';
      else if (previousWord === 'class') cls = 'class';
      else if (BUILTINS.has(word)) cls = 'builtin';
      previousWord = word;
    }
    if (!m[5]) previousWord = '';
    html += cls ? `<span class="tok-${cls}">${text}</span>` : text;
    if (m[0].length === 0) TOKEN.lastIndex++;
  }
  if (last < source.length) html += escapeHtml(source.slice(last));
  return html;
}
