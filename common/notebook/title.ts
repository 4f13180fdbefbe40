// A notebook's title as a person sets it (a rename): the rules the API checks and the home page
// applies before it asks, so both say the same thing. Titles made by create and import are cleaned
// instead (`cleanTitle`): there nobody is asked, here the person typing is.
import { MAX_TITLE_LENGTH, TITLE_FORBIDDEN_CHARS } from './model';

export { MAX_TITLE_LENGTH };

/** What the copy made by "Duplicate" is called: "Copy of <title>", as JupyterLab's "…-Copy1". */
export const COPY_TITLE_PREFIX = 'Copy of ';

const FORBIDDEN = TITLE_FORBIDDEN_CHARS;

export type TitleCheck = { ok: true; title: string } | { ok: false; message: string };

function describeChar(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Checks a new title: a string, not empty once trimmed, at most MAX_TITLE_LENGTH, no control characters. */
export function checkTitle(raw: unknown): TitleCheck {
  if (typeof raw !== 'string') return { ok: false, message: 'title must be a string' };
  const title = raw.trim();
  if (!title) return { ok: false, message: 'title is empty: give the notebook a name' };
  // UTF-16 units, as the inputs' maxLength and cleanTitle count
  if (title.length > MAX_TITLE_LENGTH) {
    return { ok: false, message: `title is ${title.length} characters long; at most ${MAX_TITLE_LENGTH} (MAX_TITLE_LENGTH)` };
  }
  const bad = FORBIDDEN.exec(title);
  if (bad) return { ok: false, message: `title contains a control character (${describeChar(bad[0])}) at position ${bad.index + 1}; use plain text on one line` };
  return { ok: true, title };
}

/**
 * A title written straight into the document (the `meta` map, over Yjs): the same rules as a
 * rename through the API, and the stored string itself, untrimmed, within MAX_TITLE_LENGTH.
 */
export function checkStoredTitle(raw: unknown): TitleCheck {
  const checked = checkTitle(raw);
  if (checked.ok && (raw as string).length > MAX_TITLE_LENGTH) {
    return { ok: false, message: `title is ${(raw as string).length} characters long with its spaces; at most ${MAX_TITLE_LENGTH} (MAX_TITLE_LENGTH)` };
  }
  return checked;
}

/** The title of a duplicate: "Copy of X", cut to MAX_TITLE_LENGTH without splitting a character. */
export function copyTitle(title: string): string {
  const full = COPY_TITLE_PREFIX + title;
  if (full.length <= MAX_TITLE_LENGTH) return full;
  let out = '';
  for (const ch of full) {
    if (out.length + ch.length > MAX_TITLE_LENGTH - 1) break;
    out += ch;
  }
  return `${out.trimEnd()}…`;
}
