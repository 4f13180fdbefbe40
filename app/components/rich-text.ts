// Markdown (cells, text/markdown outputs, AI answers) and text/latex outputs as HTML, with TeX
// typeset by KaTeX (docs/decisions/0013-math-and-theme.md).
//
// Order matters for safety: the math is taken out of the source (app/notebook/math.ts), the
// markdown is parsed and sanitized by DOMPurify with only placeholders where the math was, and
// only then is each placeholder found in a *text node* replaced by KaTeX's rendering. KaTeX builds
// that markup from the TeX alone (`trust: false`: no \href, \url, \includegraphics, \html*), so
// nothing a collaborator writes in math becomes an attribute or a tag of their choosing. A
// placeholder that landed in an attribute (`[x]($y$)`) gets its source text back, as text.
//
// KaTeX itself is a chunk of its own, fetched as soon as this module runs in a browser (long before
// a notebook's cells arrive over the WebSocket), so opening a notebook does not wait for it; until
// it is there a formula shows as its source, and `useMathReady` re-renders it once it is.
import DOMPurify from 'dompurify';
import 'katex/dist/katex.min.css';
import './rich-text.css';
import { marked } from 'marked';
import { useSyncExternalStore } from 'react';
import { PLACEHOLDER, removeMath, restoreSource, unescapeLatexText, type MathPiece } from '../notebook/math';
import { rewriteFileLinks } from './outputs/file-links';

/** KaTeX's own error colour, for TeX it cannot parse (its source is shown in it). */
export const MATH_ERROR_COLOR = '#cc0000';
/** The largest \rule or \kern a formula may draw, in em: keeps a formula inside its cell. */
const MAX_MATH_SIZE_EM = 50;
/** Macro expansions per formula: stops `\def\a{\a\a}` from hanging the page. */
const MAX_MATH_EXPAND = 1000;

/** Elements whose text is not prose: math is not typeset in them. */
const NO_MATH_PARENTS = new Set(['CODE', 'PRE', 'STYLE', 'TEXTAREA', 'TITLE', 'SCRIPT', 'NOSCRIPT', 'OPTION']);

const HTML_NS = 'http://www.w3.org/1999/xhtml';

type Katex = typeof import('katex').default;
let katex: Katex | null = null;
let katexLoad: Promise<Katex> | null = null;
const readyListeners = new Set<() => void>();

/** Fetches KaTeX once; a failed fetch is tried again by the next formula. */
export function loadKatex(): Promise<Katex> {
  katexLoad ??= import('katex').then(
    (m) => {
      katex = m.default;
      for (const listener of readyListeners) listener();
      return katex;
    },
    (err: unknown) => {
      katexLoad = null;
      throw err;
    },
  );
  return katexLoad;
}

if (typeof window !== 'undefined') loadKatex().catch(() => {});

function subscribeReady(listener: () => void): () => void {
  readyListeners.add(listener);
  return () => readyListeners.delete(listener);
}

/** True once KaTeX is loaded: a dependency of every memoised rendering that may hold math. */
export function useMathReady(): boolean {
  return useSyncExternalStore(
    subscribeReady,
    () => katex !== null,
    () => false,
  );
}

/** One formula as a DOM node. Bad TeX shows its source in the error colour; nothing throws. */
function typeset(piece: Extract<MathPiece, { kind: 'math' }>, macros: Record<string, string>): HTMLElement {
  const host = document.createElement('span');
  if (!katex) {
    loadKatex().catch(() => {});
    host.className = 'math-pending';
    host.textContent = piece.source;
    return host;
  }
  try {
    katex.render(piece.tex, host, {
      displayMode: piece.isDisplay,
      throwOnError: false,
      errorColor: MATH_ERROR_COLOR,
      trust: false,
      strict: 'ignore',
      maxSize: MAX_MATH_SIZE_EM,
      maxExpand: MAX_MATH_EXPAND,
      // shared by the formulas of one cell, so a \newcommand in the first serves the rest
      macros,
    });
  } catch (err) {
    // throwOnError covers parse errors; anything else KaTeX throws gets the same treatment
    host.textContent = piece.source;
    host.className = 'katex-error';
    host.title = err instanceof Error ? err.message : String(err);
    host.style.color = MATH_ERROR_COLOR;
  }
  // one node per formula: the host span, or KaTeX's own error span when that is all there is
  const only = host.childElementCount === 1 && host.firstElementChild?.classList.contains('katex-error') ? (host.firstElementChild as HTMLElement) : null;
  const node = only ?? host;
  node.setAttribute('data-math', piece.isDisplay ? 'display' : 'inline');
  return node;
}

/** Replaces the placeholders under `root`: typeset math in text nodes, source text in attributes. */
function putMathBack(root: DocumentFragment | Element, pieces: MathPiece[]): void {
  const macros: Record<string, string> = {};
  const doc = root.ownerDocument ?? document;
  const walker = doc.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
  const texts: Text[] = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.nodeType === Node.TEXT_NODE) {
      if (node.nodeValue?.includes('@@')) texts.push(node as Text);
      continue;
    }
    for (const attr of Array.from((node as Element).attributes)) {
      if (attr.value.includes('@@')) attr.value = restoreSource(attr.value, pieces);
    }
  }
  for (const text of texts) {
    const value = text.nodeValue ?? '';
    const parent = text.parentElement;
    // not in code, and not inside raw <svg>/<math> someone wrote: KaTeX's HTML placed in foreign
    // content would parse differently once serialized
    const isProse = parent ? parent.namespaceURI === HTML_NS && !NO_MATH_PARENTS.has(parent.tagName) && !parent.closest('code, pre') : text.parentNode === root;
    if (!isProse) {
      text.nodeValue = restoreSource(value, pieces);
      continue;
    }
    const out = doc.createDocumentFragment();
    let at = 0;
    for (const m of value.matchAll(PLACEHOLDER)) {
      const piece = pieces[Number(m[1])];
      if (!piece) continue;
      if (m.index > at) out.append(value.slice(at, m.index));
      out.append(piece.kind === 'math' ? typeset(piece, macros) : piece.source);
      at = m.index + m[0].length;
    }
    if (at === 0) continue;
    if (at < value.length) out.append(value.slice(at));
    text.replaceWith(out);
  }
}

/**
 * Markdown as sanitized HTML with its math typeset; with a notebook id, relative links download
 * its working directory's files. Browser only, as DOMPurify is.
 */
export function renderMarkdown(source: string, notebookId: string | null = null): string {
  const { text, pieces } = removeMath(source);
  const html = marked.parse(text, { async: false, gfm: true, breaks: false }) as string;
  // links leave the notebook in a new tab; nothing a collaborator writes may run script here
  let clean = DOMPurify.sanitize(html, { ADD_ATTR: ['target'] });
  if (pieces.length) {
    const template = document.createElement('template');
    template.innerHTML = clean;
    putMathBack(template.content, pieces);
    clean = template.innerHTML;
  }
  return rewriteFileLinks(clean, notebookId);
}

/**
 * A text/latex output (IPython's Math and Latex, sympy) as HTML: its delimited math typeset, the
 * text between as text, as JupyterLab's renderer does. Browser only (it builds DOM nodes).
 */
export function renderLatex(source: string): string {
  const { text, pieces } = removeMath(source);
  const root = document.createElement('div');
  root.append(unescapeLatexText(text));
  putMathBack(root, pieces);
  return root.innerHTML;
}
