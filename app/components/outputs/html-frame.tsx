// text/html outputs (pandas tables, rich reprs) in a sandboxed iframe. `allow-scripts` without
// `allow-same-origin` gives the frame an opaque origin: its scripts run, but cannot read this page's
// cookies, localStorage, DOM or tokens, nor call our API as the user.
// https://html.spec.whatwg.org/multipage/iframe-embed-object.html#attr-iframe-sandbox
//
// Links to a relative path (IPython's FileLink) mean a file of the notebook's working directory.
// The frame cannot fetch it (opaque origin, and it must not get the user's access), so its script
// stops the click and asks the page, which checks the message came from this frame's window and
// downloads the file itself. The frame never navigates the page and never gains its origin.
import { memo, useContext, useEffect, useId, useMemo, useRef, useState } from 'react';
import { useTheme, type Theme } from '../../notebook/use-theme';
import { FileLinksContext, fileLinkTarget } from './file-links';

export const HEIGHT_MESSAGE = 'ynb-output-height';
export const MEASURE_MESSAGE = 'ynb-output-measure';
export const LINK_MESSAGE = 'ynb-output-link';
/** Taller HTML scrolls inside its frame. */
export const MAX_HTML_HEIGHT = 800;
const INITIAL_HEIGHT = 24;

// Jupyter's look for pandas tables (jupyterlab packages/rendermime/style/base.css, .jp-RenderedHTMLCommon)
// and the app's fonts, since nothing of the page's stylesheet reaches the frame.
const FRAME_CSS = `
:root { color-scheme: light; }
html, body { margin: 0; padding: 0; background: transparent; }
body {
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
  font-size: 14px; line-height: 1.5; color: #1f2328; overflow-wrap: break-word;
}
#ynb-root { padding: 4px 10px; display: flow-root; overflow-x: auto; }
pre, code, kbd, samp {
  font-family: ui-monospace, 'SFMono-Regular', 'JetBrains Mono', Menlo, Consolas, 'DejaVu Sans Mono', 'Liberation Mono', monospace;
  font-size: 12.5px;
}
img, svg, video, canvas { max-width: 100%; height: auto; }
a { color: #4f46e5; }
table { border-collapse: collapse; border-spacing: 0; border: none; font-size: 12px; table-layout: auto; margin: 0 0 4px; }
thead { border-bottom: 1px solid #1f2328; vertical-align: bottom; }
tr, th, td { text-align: right; vertical-align: middle; padding: 0.4em 0.6em; line-height: normal; white-space: normal; max-width: none; border: none; }
th { font-weight: 600; }
tbody th { vertical-align: top; }
tbody tr:nth-child(odd) { background: #f5f5f5; }
tbody tr:hover { background: rgba(66, 165, 245, 0.2); }
caption { caption-side: bottom; color: #57606a; padding: 4px 0; }
`;

// The dark theme (app/styles/theme.css): the frame is transparent over the dark cell, so its text
// and tables turn light. Its color-scheme must match the <iframe> element's, or Chromium paints an
// opaque backdrop behind it.
const FRAME_DARK_CSS = `
:root { color-scheme: dark; }
body { color: #e6edf3; }
a { color: #8b93ff; }
thead { border-bottom-color: #e6edf3; }
tbody tr:nth-child(odd) { background: rgba(255, 255, 255, 0.05); }
caption { color: #9da7b3; }
`;

/**
 * Runs inside the frame, first of all its scripts (it sits in <head>, before the output's own):
 * - relative links (FileLink('out.csv')) are files of the notebook, which the page downloads when
 *   asked; clicks on them, by a person or by a script, never navigate the frame;
 * - once the body is parsed, it reports the content height to the parent whenever it changes.
 */
function frameScript(id: string): string {
  // `</script` in the id would end the script early; `<` escaped inside a JSON string cannot
  const idJson = JSON.stringify(id).replace(/</g, '\\u003c');
  return `(function () {
  var id = ${idJson};
  function isRelative(href) {
    var h = (href || '').trim();
    return !!h && !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(h) && '/#?\\\\'.indexOf(h.charAt(0)) < 0;
  }
  function onLinkClick(event) {
    if (event.type === 'auxclick' && event.button !== 1) return;
    var el = event.target;
    while (el && el.nodeType !== 1) el = el.parentNode;
    var a = el && el.closest ? el.closest('a[href]') : null;
    if (!a) return;
    var href = a.getAttribute('href');
    if (!isRelative(href)) return;
    event.preventDefault();
    parent.postMessage({ type: ${JSON.stringify(LINK_MESSAGE)}, id: id, href: href }, '*');
  }
  document.addEventListener('click', onLinkClick, true);
  document.addEventListener('auxclick', onLinkClick, true);
  function measure() {
    var root = document.getElementById('ynb-root');
    var last = -1;
    function post() {
      var height = Math.ceil(root.getBoundingClientRect().bottom + (window.scrollY || 0));
      if (height === last) return;
      last = height;
      parent.postMessage({ type: ${JSON.stringify(HEIGHT_MESSAGE)}, id: id, height: height }, '*');
    }
    if (typeof ResizeObserver === 'function') new ResizeObserver(post).observe(root);
    window.addEventListener('load', post);
    window.addEventListener('message', function (event) {
      if (event.source === parent && event.data && event.data.type === ${JSON.stringify(MEASURE_MESSAGE)}) { last = -1; post(); }
    });
    post();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', measure);
  else measure();
})();`;
}

/** The whole document of the frame. The output's HTML goes in as is: the sandbox is the boundary. */
export function buildSrcDoc(html: string, id: string, theme: Theme = 'light'): string {
  const script = frameScript(id);
  const css = theme === 'dark' ? FRAME_CSS + FRAME_DARK_CSS : FRAME_CSS;
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><base target="_blank"><style>${css}</style><script>${script}</script></head><body><div id="ynb-root">${html}</div></body></html>`;
}

/**
 * Downloads the working-directory file a frame's link names. Only right after a click: the
 * frame's click activates this page too (HTML's activation notification reaches ancestors), so
 * a script in an output cannot start downloads on its own.
 */
function openFileLink(notebookId: string, href: string): void {
  const activation = (navigator as Navigator & { userActivation?: { isActive: boolean } }).userActivation;
  if (activation && !activation.isActive) return;
  const target = fileLinkTarget(notebookId, href);
  if (!target) return;
  const a = document.createElement('a');
  a.href = target.url;
  a.download = target.name;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
}

export const HtmlFrame = memo(function HtmlFrame({ html }: { html: string }) {
  const id = useId();
  const ref = useRef<HTMLIFrameElement>(null);
  const [height, setHeight] = useState(INITIAL_HEIGHT);
  // a switch of theme rebuilds the frame (its scripts run again), as a reload would
  const theme = useTheme();
  const srcDoc = useMemo(() => buildSrcDoc(html, id, theme), [html, id, theme]);
  const notebookId = useContext(FileLinksContext);

  useEffect(() => {
    const onMessage = (event: MessageEvent) => {
      const frame = ref.current;
      // only our own frame's window may size it; any other frame could send the same shape
      if (!frame || event.source !== frame.contentWindow) return;
      const data = event.data as { type?: unknown; id?: unknown; height?: unknown; href?: unknown } | null;
      if (!data || data.id !== id) return;
      if (data.type === LINK_MESSAGE) {
        if (notebookId && typeof data.href === 'string') openFileLink(notebookId, data.href);
        return;
      }
      if (data.type !== HEIGHT_MESSAGE) return;
      if (typeof data.height !== 'number' || !Number.isFinite(data.height) || data.height < 0) return;
      setHeight(Math.min(Math.ceil(data.height), MAX_HTML_HEIGHT));
    };
    window.addEventListener('message', onMessage);
    // the frame may have loaded (and posted) before this listener existed, e.g. during hydration
    ref.current?.contentWindow?.postMessage({ type: MEASURE_MESSAGE }, '*');
    return () => window.removeEventListener('message', onMessage);
  }, [id, srcDoc, notebookId]);

  return (
    <iframe
      ref={ref}
      className="ynb-out-html"
      data-testid="output-html"
      title="HTML output"
      sandbox="allow-scripts"
      srcDoc={srcDoc}
      referrerPolicy="no-referrer"
      style={{ height }}
    />
  );
});
