// Renders a cell's nbformat outputs the way Jupyter does: for each display, the richest MIME type
// this renderer supports (see MIME_PRIORITY). Everything the kernel sends is untrusted: text is
// rendered as text nodes, HTML only inside a sandboxed iframe, SVG only as an <img>, markdown
// through DOMPurify, TeX through KaTeX (../rich-text.ts).
import { memo, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { ErrorOutput, MimeBundle, Output, StreamOutput } from '../../../common/notebook/types';
import { fixConsole, stripAnsi } from './ansi';
import { AnsiText } from './ansi-text';
import { renderLatex, renderMarkdown, useMathReady } from '../rich-text';
import { FileLinksContext } from './file-links';
import { HtmlFrame } from './html-frame';
import {
  WIDGET_MIME,
  chooseMime,
  describeUnsupported,
  isTruncationNotice,
  joinText,
  jsonValue,
  outputsEqual,
  type SupportedMime,
} from './mime';
import './outputs.css';

/** Outputs taller than this are shown in a scroll box with a "Show all" toggle (Jupyter's scrolled outputs). */
export const COLLAPSE_HEIGHT = 600;

const STREAM_MIME = { stdout: 'application/vnd.jupyter.stdout', stderr: 'application/vnd.jupyter.stderr' } as const;
const ERROR_MIME = 'application/vnd.jupyter.error';

const noSubscribe = () => () => {};
/** false on the server and while hydrating, true after: lets client-only rendering hydrate cleanly. */
function useIsClient(): boolean {
  return useSyncExternalStore(
    noSubscribe,
    () => true,
    () => false,
  );
}

function StreamView({ output }: { output: StreamOutput }) {
  const text = useMemo(() => fixConsole(joinText(output.text)), [output.text]);
  return (
    <pre className={`ynb-out-text ynb-out-stream ynb-out-${output.name === 'stderr' ? 'stderr' : 'stdout'}`}>
      <AnsiText text={text} />
    </pre>
  );
}

function ErrorView({ output }: { output: ErrorOutput }) {
  const text = useMemo(() => {
    const traceback = (output.traceback ?? []).map((line) => joinText(line)).join('\n');
    const summary = output.evalue ? `${output.ename}: ${output.evalue}` : output.ename;
    // IPython's traceback ends with "ename: evalue" already; other kernels may send none
    if (!traceback.trim()) return `\u001b[0;31m${summary}\u001b[0m`;
    if (output.ename && !stripAnsi(traceback).includes(output.ename)) {
      return `${traceback}\n\u001b[0;31m${summary}\u001b[0m`;
    }
    return traceback;
  }, [output.ename, output.evalue, output.traceback]);
  return (
    <pre className="ynb-out-text ynb-out-error" data-testid="output-error">
      <AnsiText text={text} />
    </pre>
  );
}

function dimension(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number.parseFloat(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

function ImageView({ bundle, metadata, mime }: { bundle: MimeBundle; metadata: Record<string, unknown>; mime: string }) {
  const raw = joinText(bundle[mime]);
  const src = useMemo(
    () =>
      mime === 'image/svg+xml'
        ? `data:image/svg+xml;charset=utf-8,${encodeURIComponent(raw)}`
        : `data:${mime};base64,${raw.replace(/\s+/g, '')}`,
    [mime, raw],
  );
  // IPython puts size under the MIME type ({"image/png": {"width": 640}}); some kernels put it at the top
  const own = (metadata?.[mime] ?? {}) as Record<string, unknown>;
  const width = dimension(own.width ?? metadata?.width);
  const height = dimension(own.height ?? metadata?.height);
  const isUnconfined = Boolean(own.unconfined ?? metadata?.unconfined);
  const alt = stripAnsi(joinText(bundle['text/plain'])).trim() || 'image output';
  return (
    <img
      className={`ynb-out-image${isUnconfined ? ' ynb-out-image-unconfined' : ''}`}
      data-testid="output-image"
      src={src}
      alt={alt}
      width={width}
      height={height}
      loading="lazy"
      decoding="async"
    />
  );
}

function MarkdownOutput({ source }: { source: string }) {
  const isClient = useIsClient();
  const notebookId = useContext(FileLinksContext);
  const isMathReady = useMathReady();
  const html = useMemo(() => (isClient ? renderMarkdown(source, notebookId) : null), [isClient, source, notebookId, isMathReady]);
  if (html === null) return <pre className="ynb-out-text">{source}</pre>;
  return <div className="ynb-out-markdown" dangerouslySetInnerHTML={{ __html: html }} />;
}

/** text/latex (IPython's Math and Latex, sympy): the delimited math typeset, as JupyterLab does. */
function LatexOutput({ source }: { source: string }) {
  const isClient = useIsClient();
  const isMathReady = useMathReady();
  const html = useMemo(() => (isClient ? renderLatex(source) : null), [isClient, source, isMathReady]);
  if (html === null) return <pre className="ynb-out-text ynb-out-latex">{source}</pre>;
  return <div className="ynb-out-latex" data-testid="output-latex" dangerouslySetInnerHTML={{ __html: html }} />;
}

function preview(value: unknown): string {
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (value && typeof value === 'object') return `{…} ${Object.keys(value).length} keys`;
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function JsonView({ value }: { value: unknown }) {
  const entries = useMemo(() => {
    if (!value || typeof value !== 'object') return null;
    return Object.entries(value as Record<string, unknown>).map(([key, item]) => ({
      key,
      item,
      pretty: JSON.stringify(item, null, 2) ?? String(item),
    }));
  }, [value]);
  if (!entries) return <pre className="ynb-out-text ynb-out-json">{JSON.stringify(value, null, 2)}</pre>;
  const isArray = Array.isArray(value);
  const lineCount = entries.reduce((n, e) => n + e.pretty.split('\n').length, 0);
  const isOpen = lineCount <= 50;
  return (
    <div className="ynb-out-json">
      <span className="ynb-out-json-bracket">{isArray ? '[' : '{'}</span>
      {entries.map(({ key, item, pretty }) => (
        <details key={key} open={isOpen && item !== null && typeof item === 'object' ? true : undefined}>
          <summary>
            <span className="ynb-out-json-key">{isArray ? key : JSON.stringify(key)}</span>: {preview(item)}
          </summary>
          <pre className="ynb-out-text">{pretty}</pre>
        </details>
      ))}
      <span className="ynb-out-json-bracket">{isArray ? ']' : '}'}</span>
    </div>
  );
}

function WarningIcon() {
  return (
    <svg className="ynb-out-icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
      <path
        fill="currentColor"
        d="M8.9 1.5a1 1 0 0 0-1.8 0L.6 13.5A1 1 0 0 0 1.5 15h13a1 1 0 0 0 .9-1.5L8.9 1.5ZM8 5.25c.41 0 .75.34.75.75v3.5a.75.75 0 0 1-1.5 0V6c0-.41.34-.75.75-.75ZM8 13a1 1 0 1 1 0-2 1 1 0 0 1 0 2Z"
      />
    </svg>
  );
}

function MimeView({ bundle, metadata, mime }: { bundle: MimeBundle; metadata: Record<string, unknown>; mime: SupportedMime | null }) {
  const value = mime ? bundle[mime] : undefined;
  switch (mime) {
    case WIDGET_MIME:
      return (
        <>
          <div className="ynb-out-note">Interactive widgets are not supported here (ipywidgets needs a widget manager).</div>
          {bundle['text/plain'] != null ? (
            <pre className="ynb-out-text">
              <AnsiText text={joinText(bundle['text/plain'])} />
            </pre>
          ) : null}
        </>
      );
    case 'text/html':
      return <HtmlFrame html={joinText(value)} />;
    case 'image/svg+xml':
    case 'image/png':
    case 'image/jpeg':
      return <ImageView bundle={bundle} metadata={metadata} mime={mime} />;
    case 'text/markdown':
      return <MarkdownOutput source={joinText(value)} />;
    case 'application/json':
      return <JsonView value={jsonValue(value)} />;
    case 'text/latex':
      return <LatexOutput source={joinText(value)} />;
    case 'text/plain':
      return (
        <pre className="ynb-out-text">
          <AnsiText text={joinText(value)} />
        </pre>
      );
    default:
      return <div className="ynb-out-note">{describeUnsupported(bundle)}</div>;
  }
}

function outputMime(output: Output): string {
  switch (output.output_type) {
    case 'stream':
      return STREAM_MIME[output.name === 'stderr' ? 'stderr' : 'stdout'];
    case 'error':
      return ERROR_MIME;
    default:
      return chooseMime(output.data) ?? 'unsupported';
  }
}

function OutputViewImpl({ output }: { output: Output }) {
  const mime = outputMime(output);
  let body: ReactNode;
  if (isTruncationNotice(output)) {
    const data = (output as { data?: MimeBundle }).data ?? {};
    body = (
      <div className="ynb-out-truncated" role="status">
        <WarningIcon />
        <span>{stripAnsi(joinText(data['text/plain'])) || 'Output was cut to keep the notebook responsive.'}</span>
      </div>
    );
  } else if (output.output_type === 'stream') {
    body = <StreamView output={output} />;
  } else if (output.output_type === 'error') {
    body = <ErrorView output={output} />;
  } else if (output.output_type === 'display_data' || output.output_type === 'execute_result') {
    const bundle = output.data ?? {};
    body = <MimeView bundle={bundle} metadata={output.metadata ?? {}} mime={chooseMime(bundle)} />;
  } else {
    body = <div className="ynb-out-note">Output of kind {String((output as { output_type?: unknown }).output_type)} cannot be displayed</div>;
  }
  return (
    <div
      className="ynb-out"
      data-testid="output"
      data-output-type={output.output_type}
      data-mime={mime}
      data-truncation={isTruncationNotice(output) ? 'true' : undefined}
    >
      {body}
    </div>
  );
}

/** One output; skips re-rendering when a fresh copy of the same output arrives from the document. */
export const OutputView = memo(OutputViewImpl, (prev, next) => outputsEqual(prev.output, next.output));

/** All outputs of a cell, plain nbformat objects (as `outputsToJSON` returns them). */
export function OutputArea({ outputs }: { outputs: Output[] }) {
  const contentRef = useRef<HTMLDivElement>(null);
  const [isTall, setIsTall] = useState(false);
  const [isExpanded, setIsExpanded] = useState(false);

  useEffect(() => {
    const el = contentRef.current;
    if (!el || typeof ResizeObserver !== 'function') return;
    const measure = () => setIsTall(el.scrollHeight > COLLAPSE_HEIGHT + 40);
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    // children grow without the (height-capped) box changing size, so watch them as well
    for (const child of Array.from(el.children)) observer.observe(child);
    // no measure() here: the observer reports every box once it is laid out, and reading
    // scrollHeight now forced a layout of the whole page per output area (100 of them in a
    // 1000-cell notebook took most of a second on open; bench/open-notebook.ts)
    return () => observer.disconnect();
  }, [outputs.length]);

  if (outputs.length === 0) return null;
  const isScrolled = isTall && !isExpanded;
  return (
    <div className="ynb-out-area" data-testid="output-area">
      <div ref={contentRef} className={`ynb-out-content${isScrolled ? ' ynb-out-scrolled' : ''}`}>
        {outputs.map((output, i) => (
          // outputs are only appended or cleared, so the index is a stable identity
          <OutputView key={i} output={output} />
        ))}
      </div>
      {isTall ? (
        <button type="button" className="ynb-out-toggle" onClick={() => setIsExpanded((v) => !v)} aria-expanded={isExpanded}>
          {isExpanded ? 'Collapse output' : 'Show all output'}
        </button>
      ) : null}
    </div>
  );
}
