// The browser's side of the files API (a notebook's working directory, moved through its kernel)
// and of `.ipynb` import. Uploads use XMLHttpRequest: fetch() has no upload progress events.
import { fileApiUrl } from '../../common/files/paths';
import { ApiError } from './api-client';

export interface FileEntry {
  /** relative to the working directory, `/`-separated */
  path: string;
  size: number;
  /** ms since epoch */
  modified: number;
}

export interface FileList {
  files: FileEntry[];
  /** the server listed only its limit of entries */
  isTruncated: boolean;
}

const nb = (id: string) => `/api/notebooks/${encodeURIComponent(id)}`;

/** The `{error: {code, message}}` of an answer, or a sentence from its status. */
function errorOf(status: number, text: string, fallback: string): ApiError {
  let err: { code?: string; message?: string } | undefined;
  try {
    err = (JSON.parse(text) as { error?: { code?: string; message?: string } } | null)?.error;
  } catch {
    // not JSON: a proxy's error page, say
  }
  if (status === 0) return new ApiError(0, 'NETWORK', 'The server did not answer: check your connection.');
  return new ApiError(status, err?.code ?? `HTTP_${status}`, err?.message ?? (text.slice(0, 200) || fallback));
}

async function request(url: string, init: RequestInit): Promise<{ status: number; text: string }> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch {
    throw errorOf(0, '', '');
  }
  const text = await res.text();
  if (!res.ok) throw errorOf(res.status, text, res.statusText);
  return { status: res.status, text };
}

export async function listFiles(notebookId: string, signal?: AbortSignal): Promise<FileList> {
  const { text } = await request(`${nb(notebookId)}/files`, { signal, headers: { accept: 'application/json' } });
  const body = JSON.parse(text) as { files?: unknown; truncated?: unknown };
  const files = Array.isArray(body.files)
    ? body.files.filter(
        (f): f is FileEntry => !!f && typeof f === 'object' && typeof (f as FileEntry).path === 'string' && typeof (f as FileEntry).size === 'number'
      )
    : [];
  return { files, isTruncated: body.truncated === true };
}

export async function deleteFile(notebookId: string, path: string): Promise<void> {
  await request(fileApiUrl(notebookId, path), { method: 'DELETE' });
}

export interface UploadHandle {
  done: Promise<{ path: string; size: number }>;
  abort(): void;
}

/** PUTs the bytes of one file, reporting progress; rejects with an ApiError (status 0 when aborted). */
export function uploadFile(notebookId: string, path: string, file: Blob, onProgress: (loaded: number, total: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const done = new Promise<{ path: string; size: number }>((resolve, reject) => {
    xhr.open('PUT', fileApiUrl(notebookId, path));
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        let body: { path?: string; size?: number } = {};
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          // a 201 without a body is still a success
        }
        resolve({ path: body.path ?? path, size: body.size ?? file.size });
      } else reject(errorOf(xhr.status, xhr.responseText, xhr.statusText));
    };
    xhr.onerror = () => reject(errorOf(0, '', ''));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'Upload cancelled.'));
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}

/** Imports an `.ipynb` as a new notebook; answers its id (and a token when the server gives one). */
export async function importNotebook(file: Blob, name: string): Promise<{ id: string; token?: string }> {
  // the notebook format's own media type: not `application/json`, so the JSON API's small body
  // parser leaves the raw text to the import route
  const { text } = await request(`/api/notebooks/import?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ipynb+json' },
    body: file,
  });
  const body = JSON.parse(text) as { id?: unknown; token?: unknown };
  if (typeof body.id !== 'string') throw new ApiError(500, 'BAD_ANSWER', 'The server answered the import without a notebook id.');
  return { id: body.id, token: typeof body.token === 'string' ? body.token : undefined };
}

export function exportUrl(notebookId: string): string {
  return `${nb(notebookId)}/export.ipynb`;
}

const UNITS = ['KB', 'MB', 'GB', 'TB'];

/** 512 B, 1.2 KB, 34 KB, 5.6 MB: two significant digits below 10, whole numbers above. */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1000) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

/** Starts the download of a same-origin URL (an attachment) without leaving the page. */
export function startDownload(url: string, name: string): void {
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/** The last name of a path. */
export function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}
