// Links in outputs and markdown to a relative path (IPython's `FileLink('out.csv')`, `[data](out.csv)`)
// mean a file of the notebook's working directory: they download it from the files API. Links with
// a scheme, absolute paths and fragments are left alone.
import { createContext } from 'react';
import { fileApiUrl, relativeLinkToPath } from '../../../common/files/paths';

/** The id of the notebook whose working directory relative links point into; null: leave them be. */
export const FileLinksContext = createContext<string | null>(null);

/** The last name of a path. */
function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/** The download URL and file name for a link target, or null when it is not a working-directory file. */
export function fileLinkTarget(notebookId: string, href: string): { url: string; name: string } | null {
  const path = relativeLinkToPath(href);
  return path ? { url: fileApiUrl(notebookId, path), name: baseName(path) } : null;
}

/**
 * Points relative links of sanitized HTML at the files API, as downloads. Runs on sanitized
 * output only (it adds `href` and `download`, nothing that runs), and only where a DOM exists;
 * on the server the HTML is returned as it is.
 */
export function rewriteFileLinks(html: string, notebookId: string | null): string {
  if (!notebookId || typeof document === 'undefined' || !/<a\s/i.test(html)) return html;
  const template = document.createElement('template');
  template.innerHTML = html;
  let isChanged = false;
  for (const a of Array.from(template.content.querySelectorAll('a[href]'))) {
    const target = fileLinkTarget(notebookId, a.getAttribute('href') ?? '');
    if (!target) continue;
    a.setAttribute('href', target.url);
    a.setAttribute('download', target.name);
    a.removeAttribute('target');
    a.setAttribute('data-file-link', 'true');
    a.setAttribute('title', `Download ${target.name} from the notebook's files`);
    isChanged = true;
  }
  return isChanged ? template.innerHTML : html;
}
