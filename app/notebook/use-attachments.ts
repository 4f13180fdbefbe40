// Files attached to the request being typed in the ask bar (paperclip or a drop on the bar). Each
// starts uploading into the working directory at once, with its own progress, so that by the time
// the person presses Enter it is usually there; Enter waits for the rest (`settle`).
import { useCallback, useEffect, useRef, useState } from 'react';
import { checkFilePath } from '../../common/files/paths';
import { ApiError, describeApiError } from './api-client';
import { uploadFile, type UploadHandle } from './files-client';
import type { UploadRequest } from './use-files';

/** Files one request may carry (the server takes as many: MAX_ATTACHMENTS). */
export const MAX_ASK_ATTACHMENTS = 20;

export interface Attachment {
  key: number;
  path: string;
  size: number;
  loaded: number;
  status: 'uploading' | 'done' | 'failed';
  /** why the upload failed, in words a person can act on */
  error?: string;
}

export interface AttachmentsApi {
  list: Attachment[];
  /** uploads the files; a path already attached is replaced by the new file */
  add(requests: UploadRequest[]): void;
  /** removes it (an upload still running is cancelled; a finished one stays in the Files list) */
  remove(key: number): void;
  retry(key: number): void;
  clear(): void;
  /** waits until no upload runs and answers the attachments as they then are */
  settle(): Promise<Attachment[]>;
}

interface Entry {
  file: File;
  handle: UploadHandle | null;
  done: Promise<void>;
}

export function useAttachments({ notebookId, onUploaded, notify }: { notebookId: string; onUploaded: () => void; notify: (message: string) => void }): AttachmentsApi {
  const [list, setList] = useState<Attachment[]>([]);
  const listRef = useRef<Attachment[]>([]);
  const entries = useRef(new Map<number, Entry>());
  const keyRef = useRef(0);
  const onUploadedRef = useRef(onUploaded);
  onUploadedRef.current = onUploaded;

  const update = useCallback((fn: (l: Attachment[]) => Attachment[]) => {
    listRef.current = fn(listRef.current);
    setList(listRef.current);
  }, []);
  const patch = useCallback((key: number, p: Partial<Attachment>) => update((l) => l.map((a) => (a.key === key ? { ...a, ...p } : a))), [update]);

  const start = useCallback(
    (key: number, path: string, file: File) => {
      let lastPaint = 0;
      const handle = uploadFile(notebookId, path, file, (loaded) => {
        const now = performance.now();
        if (now - lastPaint < 80 && loaded < file.size) return;
        lastPaint = now;
        patch(key, { loaded });
      });
      const done = handle.done.then(
        () => {
          if (!entries.current.has(key)) return;
          patch(key, { status: 'done', loaded: file.size, error: undefined });
          onUploadedRef.current();
        },
        (err) => {
          if (!entries.current.has(key)) return; // removed: nothing to report
          if (err instanceof ApiError && err.code === 'ABORTED') return;
          patch(key, { status: 'failed', error: describeApiError(err) });
        },
      );
      entries.current.set(key, { file, handle, done });
    },
    [notebookId, patch],
  );

  const remove = useCallback(
    (key: number) => {
      const entry = entries.current.get(key);
      entries.current.delete(key);
      entry?.handle?.abort();
      update((l) => l.filter((a) => a.key !== key));
    },
    [update],
  );

  const add = useCallback(
    (requests: UploadRequest[]) => {
      for (const r of requests) {
        const check = checkFilePath(r.path);
        if (!check.ok) {
          notify(`Cannot attach "${r.path}": ${check.message}.`);
          continue;
        }
        const same = listRef.current.find((a) => a.path === check.path);
        if (same) remove(same.key);
        if (listRef.current.length >= MAX_ASK_ATTACHMENTS) {
          notify(`A request takes at most ${MAX_ASK_ATTACHMENTS} files; "${check.path}" was not attached.`);
          continue;
        }
        const key = ++keyRef.current;
        update((l) => [...l, { key, path: check.path, size: r.file.size, loaded: 0, status: 'uploading' }]);
        start(key, check.path, r.file);
      }
    },
    [notify, remove, start, update],
  );

  const retry = useCallback(
    (key: number) => {
      const entry = entries.current.get(key);
      const a = listRef.current.find((x) => x.key === key);
      if (!entry || !a || a.status !== 'failed') return;
      patch(key, { status: 'uploading', loaded: 0, error: undefined });
      start(key, a.path, entry.file);
    },
    [patch, start],
  );

  const clear = useCallback(() => {
    for (const e of entries.current.values()) e.handle?.abort();
    entries.current.clear();
    update(() => []);
  }, [update]);

  const settle = useCallback(async () => {
    // a file attached while waiting is waited for too
    for (;;) {
      const pending = [...entries.current.values()].map((e) => e.done);
      await Promise.all(pending);
      if (!listRef.current.some((a) => a.status === 'uploading')) return listRef.current;
    }
  }, []);

  useEffect(
    () => () => {
      for (const e of entries.current.values()) e.handle?.abort();
      entries.current.clear();
    },
    [],
  );

  return { list, add, remove, retry, clear, settle };
}
