// A notebook's title as a person sets it (a rename): the rules the API checks and the home page
// applies before it asks, so both say the same thing. Titles made by create and import are cleaned
// instead (`cleanTitle`): there nobody is asked, here the person typing is.
import { MAX_TITLE_LENGTH } from './model';

export { MAX_TITLE_LENGTH };

/** What the copy made by "Duplicate" is called: "Copy of <title>", as JupyterLab's "…-Copy1". */
export const COPY_TITLE_PREFIX = 'Copy of ';

/**
 * Characters a title may not hold: control characters (C0, DEL, C1: tabs and newlines included),
 * the Unicode line and paragraph separators, and the invisible bidirectional overrides and isolates,
 * which can make a title in the list read as something it is not.
 */
const FORBIDDEN = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

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
