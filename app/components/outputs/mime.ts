// Pure helpers for rendering nbformat outputs: which MIME type of a bundle to show, how to read
// nbformat's `string | string[]` values, and a cheap equality so unchanged outputs skip re-render.
import { TRUNCATION_METADATA_KEY } from '../../../common/notebook/limits';
import type { MimeBundle, Output } from '../../../common/notebook/types';

export const WIDGET_MIME = 'application/vnd.jupyter.widget-view+json';

/** Richest first, as JupyterLab orders its renderers; only types this renderer can show. */
export const MIME_PRIORITY = [
  WIDGET_MIME,
  'text/html',
  'image/svg+xml',
  'image/png',
  'image/jpeg',
  'text/markdown',
  'application/json',
  'text/latex',
  'text/plain',
] as const;

export type SupportedMime = (typeof MIME_PRIORITY)[number];

/** The MIME type of the bundle to render, or null when it holds none this renderer supports. */
export function chooseMime(bundle: MimeBundle | null | undefined): SupportedMime | null {
  if (!bundle) return null;
  for (const mime of MIME_PRIORITY) {
    if (bundle[mime] != null) return mime;
  }
  return null;
}

/** nbformat stores multiline strings as arrays of lines; kernels send plain strings. */
export function joinText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((part) => (typeof part === 'string' ? part : String(part))).join('');
  if (value == null) return '';
  return JSON.stringify(value, null, 2);
}

/** JSON-typed MIME values (application/json, *+json) are objects; nbformat may also hold them as text. */
export function jsonValue(value: unknown): unknown {
  if (typeof value === 'string' || Array.isArray(value)) {
    const text = joinText(value);
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return value;
}

const encoder = new TextEncoder();

/** Size in bytes of one MIME value as it is stored (UTF-8 of the text or of its JSON). */
export function mimeBytes(value: unknown): number {
  const text = typeof value === 'string' || Array.isArray(value) ? joinText(value) : JSON.stringify(value) ?? '';
  return encoder.encode(text).length;
}

/** "application/x-foo (12 bytes), application/x-bar (3 bytes)" */
export function describeUnsupported(bundle: MimeBundle): string {
  const types = Object.keys(bundle);
  if (types.length === 0) return 'Empty output cannot be displayed';
  const list = types.map((mime) => `${mime} (${mimeBytes(bundle[mime]).toLocaleString('en-US')} bytes)`).join(', ');
  return `Output of type ${list} cannot be displayed`;
}

export function isTruncationNotice(output: Output): boolean {
  return (
    (output.output_type === 'display_data' || output.output_type === 'execute_result') &&
    Boolean(output.metadata?.[TRUNCATION_METADATA_KEY])
  );
}

/**
 * Equality of two MIME values without serialising them: strings compare by value (memcmp speed,
 * no allocation), arrays element by element; anything else (JSON data, usually small) by its JSON.
 */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'string' || typeof b === 'string') return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => item === b[i] || sameValue(item, b[i]));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') return JSON.stringify(a) === JSON.stringify(b);
  return false;
}

function sameRecord(a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined): boolean {
  if (a === b) return true;
  const ka = Object.keys(a ?? {});
  const kb = Object.keys(b ?? {});
  if (ka.length !== kb.length) return false;
  return ka.every((key) => sameValue(a?.[key], b?.[key]));
}

/**
 * Whether two outputs render the same. `outputsToJSON` builds fresh objects on every document
 * change, so identity alone would re-render (and re-parse) every output of a cell whenever one
 * stream grows.
 */
export function outputsEqual(a: Output, b: Output): boolean {
  if (a === b) return true;
  if (a.output_type !== b.output_type) return false;
  switch (a.output_type) {
    case 'stream': {
      const o = b as typeof a;
      return a.name === o.name && sameValue(a.text, o.text);
    }
    case 'error': {
      const o = b as typeof a;
      return a.ename === o.ename && a.evalue === o.evalue && sameValue(a.traceback, o.traceback);
    }
    default: {
      const o = b as typeof a;
      return sameRecord(a.data, o.data) && sameRecord(a.metadata, o.metadata);
    }
  }
}
