// The browser's side of the JSON API (server/http/api.ts). Errors come back as `{error: {code, message}}`.
import type { Actor } from '../../common/notebook/types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Sends JSON (or nothing) and returns the parsed answer; a 4xx/5xx (or no answer at all) throws an ApiError. */
export async function requestJSON<T = unknown>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      // the page's own requests carry its HttpOnly token cookie (same origin)
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The server did not answer: check your connection.');
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: a proxy's error page, say
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? (text.slice(0, 200) || res.statusText));
  }
  return json as T;
}

/** POSTs JSON and returns the parsed answer; a 4xx/5xx (or no answer at all) throws an ApiError. */
export function postJSON<T = unknown>(path: string, body: unknown): Promise<T> {
  return requestJSON<T>('POST', path, body ?? {});
}

const nb = (id: string) => `/api/notebooks/${encodeURIComponent(id)}`;
const cell = (id: string, cellId: string) => `${nb(id)}/cells/${encodeURIComponent(cellId)}`;

export const api = {
  run: (id: string, cellId: string, source: string, by: Actor) => postJSON(`${cell(id, cellId)}/run`, { source, by, wait: false }),
  runMany: (id: string, cells: { cellId: string; source: string }[], by: Actor) => postJSON(`${nb(id)}/run`, { cells, by }),
  interrupt: (id: string, by: Actor) => postJSON(`${nb(id)}/interrupt`, { by }),
  restart: (id: string, by: Actor) => postJSON(`${nb(id)}/restart`, { by }),
  // `attachments`: files of the working directory the request is about (the ask bar's); a
  // regenerate sends none and the server keeps the cell's earlier ones
  generate: (id: string, cellId: string, prompt: string, by: Actor, attachments?: string[]) =>
    postJSON(`${cell(id, cellId)}/generate`, attachments?.length ? { prompt, by, attachments } : { prompt, by }),
  stop: (id: string, cellId: string, by: Actor) => postJSON(`${cell(id, cellId)}/stop`, { by }),
  // the kernel's completion and help at a cursor (UTF-16 offsets); empty answers are normal
  complete: (id: string, code: string, cursorPos: number) => postJSON<CompleteReply>(`${nb(id)}/complete`, { code, cursor_pos: cursorPos }),
  inspect: (id: string, code: string, cursorPos: number) => postJSON<InspectReply>(`${nb(id)}/inspect`, { code, cursor_pos: cursorPos, detail_level: 0 }),
  // share links (owner or admin)
  listLinks: (id: string) => requestJSON<{ links: ShareLink[] }>('GET', `${nb(id)}/links`),
  createLink: (id: string, role: LinkRole) => postJSON<NewShareLink>(`${nb(id)}/links`, { role }),
  revokeLink: (id: string, linkId: string) => requestJSON<null>('DELETE', `${nb(id)}/links/${encodeURIComponent(linkId)}`),
  // the home page's actions: rename (editor and up), duplicate and delete (the admin)
  renameNotebook: (id: string, title: string) => requestJSON<{ id: string; title: string }>('PATCH', nb(id), { title }),
  duplicateNotebook: (id: string) => postJSON<{ id: string; token: string; title: string }>(`${nb(id)}/duplicate`, {}),
  deleteNotebook: (id: string) => requestJSON<null>('DELETE', nb(id)),
};

export interface CompleteReply {
  matches: string[];
  /** the span of the code a chosen match replaces */
  cursor_start: number;
  cursor_end: number;
  metadata?: { _jupyter_types_experimental?: { text?: string; type?: string; signature?: string }[] };
}

export interface InspectReply {
  found: boolean;
  /** `text/plain` holds IPython's ANSI colours */
  data: { 'text/plain'?: string };
}

export type LinkRole = 'editor' | 'viewer';

/** A link as listed: never its token, which exists only in the answer that made it. */
export interface ShareLink {
  id: string;
  role: LinkRole;
  createdAt: number;
}

export interface NewShareLink extends ShareLink {
  token: string;
  url: string;
}

export const NOT_CONFIGURED_HINT =
  'No language model configured: set OPENAI_API_KEY (and optionally OPENAI_BASE_URL, OPENAI_MODEL) in the server\'s environment and restart it.';

/** Why a control is unavailable to someone who opened the notebook with a viewer link. */
export const VIEW_ONLY_REASON = 'You have a view-only link: editing and running need an editor link from the owner.';

/** A sentence a person can act on, for an API error. */
export function describeApiError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'NOT_CONFIGURED') return NOT_CONFIGURED_HINT;
    if (err.status === 403 && /viewer/i.test(err.message)) return `${VIEW_ONLY_REASON} (${err.code})`;
    if (err.code === 'GATEWAY_UNREACHABLE') return `The kernel gateway is unreachable (${err.message}). Restart the kernel once it is back.`;
    return `${err.message} (${err.code})`;
  }
  return err instanceof Error ? err.message : String(err);
}
