// Paths of files in a notebook's working directory, as the files API takes them. Shared by the
// browser (to check a dropped file's name before sending it) and the server (which refuses anything
// else with 400). The kernel checks again where it writes (real paths, symlinks followed), so this
// is the first of two fences, not the only one.

/** Longest path accepted, in characters (Windows' classic MAX_PATH is 260; Linux allows 4096). */
export const MAX_FILE_PATH_CHARS = 1024;
/** Longest single name, in UTF-8 bytes (ext4, APFS, NTFS: 255). */
export const MAX_FILE_NAME_BYTES = 255;
/** Folders deep, at most. */
export const MAX_FILE_PATH_DEPTH = 32;

// Names Windows reserves whatever the extension (https://learn.microsoft.com/windows/win32/fileio/naming-a-file)
const RESERVED_NAMES = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
// Characters not valid in a name on Windows, macOS or Linux file systems, and control characters
// eslint-disable-next-line no-control-regex
const INVALID_CHARS = /[<>:"|?*\\\u0000-\u001f\u007f]/;

/** Prefix of the temporary files an upload writes before it is complete; never a user's name. */
export const UPLOAD_TEMP_PREFIX = '.ynb-upload-';

export type FilePathCheck = { ok: true; path: string } | { ok: false; message: string };

function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  return code < 0x20 || code === 0x7f ? `control character U+${code.toString(16).padStart(4, '0')}` : `"${c}"`;
}

/**
 * Checks a relative path made of `/`-separated names. Refuses absolute paths, `.` and `..`, empty
 * names, backslashes, NUL and control characters, characters or names that a common file system
 * does not allow, names ending in a dot or a space, and over-long names or paths.
 */
export function checkFilePath(raw: unknown): FilePathCheck {
  if (typeof raw !== 'string' || raw.length === 0) return { ok: false, message: 'the file path is empty' };
  if (raw.length > MAX_FILE_PATH_CHARS) return { ok: false, message: `the file path is longer than ${MAX_FILE_PATH_CHARS} characters` };
  if (raw.startsWith('/')) return { ok: false, message: 'absolute paths are not allowed: give a path relative to the working directory' };
  if (/^[A-Za-z]:/.test(raw)) return { ok: false, message: 'drive letters are not allowed: give a path relative to the working directory' };
  const names = raw.split('/');
  if (names.length > MAX_FILE_PATH_DEPTH) return { ok: false, message: `the path is more than ${MAX_FILE_PATH_DEPTH} folders deep` };
  for (const name of names) {
    if (name === '') return { ok: false, message: 'the path has an empty name (a doubled or trailing "/")' };
    if (name === '.' || name === '..') return { ok: false, message: `"${name}" is not allowed in a path: files stay inside the working directory` };
    const bad = INVALID_CHARS.exec(name);
    if (bad) return { ok: false, message: `the name "${printable(name)}" contains ${describeChar(bad[0])}, which is not allowed in file names` };
    if (/[. ]$/.test(name)) return { ok: false, message: `the name "${printable(name)}" ends with a dot or a space, which some file systems do not allow` };
    if (RESERVED_NAMES.test(name)) return { ok: false, message: `"${name}" is a reserved device name on Windows` };
    if (name.startsWith(UPLOAD_TEMP_PREFIX)) return { ok: false, message: `names starting with "${UPLOAD_TEMP_PREFIX}" are reserved for uploads in progress` };
    if (new TextEncoder().encode(name).length > MAX_FILE_NAME_BYTES) return { ok: false, message: `the name "${printable(name).slice(0, 40)}…" is longer than ${MAX_FILE_NAME_BYTES} bytes` };
  }
  return { ok: true, path: raw.normalize('NFC') };
}

function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, '?');
}

/**
 * Turns the raw (still percent-encoded) tail of a files URL into a path. Each segment is decoded on
 * its own, so an encoded `/` (`%2F`) or `\` cannot join or split names, and `%2e%2e` is `..`.
 */
export function filePathFromUrlTail(rawTail: string): FilePathCheck {
  const segments = rawTail.split('/');
  const names: string[] = [];
  for (const seg of segments) {
    let name: string;
    try {
      name = decodeURIComponent(seg);
    } catch {
      return { ok: false, message: 'the file path is not valid percent-encoding' };
    }
    if (name.includes('/')) return { ok: false, message: 'an encoded "/" (%2F) is not allowed inside a name' };
    names.push(name);
  }
  return checkFilePath(names.join('/'));
}

/** The API URL of a file of a notebook (each name percent-encoded). */
export function fileApiUrl(notebookId: string, path: string): string {
  return `/api/notebooks/${encodeURIComponent(notebookId)}/files/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * A link target from an output (`out.csv`, `./data/x.png`, `files/out.csv` as Jupyter writes
 * FileLinks) as a path in the working directory, or null when it points elsewhere (a URL with a
 * scheme, an absolute path, a fragment, a query).
 */
export function relativeLinkToPath(href: string): string | null {
  const h = href.trim();
  if (!h || /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(h) || h.startsWith('/') || h.startsWith('#') || h.startsWith('?') || h.startsWith('\\')) return null;
  let p = h.split(/[?#]/)[0];
  try {
    p = p.split('/').map((s) => decodeURIComponent(s)).join('/');
  } catch {
    return null;
  }
  while (p.startsWith('./')) p = p.slice(2);
  const check = checkFilePath(p);
  return check.ok ? check.path : null;
}
