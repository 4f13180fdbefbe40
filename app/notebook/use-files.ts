// The notebook's working directory as this browser sees it: the list (refetched whenever the
// server bumps meta `files`, so everyone sees the same list), and this browser's uploads, one
// after the other, with their progress.
import { useCallback, useEffect, useRef, useState } from 'react';
import type * as Y from 'yjs';
import { checkFilePath } from '../../common/files/paths';
import { metaOf, type FilesState } from '../../common/notebook/model';
import { describeApiError, ApiError } from './api-client';
import { deleteFile, listFiles, uploadFile, type FileEntry, type UploadHandle } from './files-client';
import { useYMapValue } from './use-cells';

/** Several bumps in a row (a run-all, say) make one request. */
export const FILES_REFRESH_DEBOUNCE_MS = 250;

export interface Upload {
  key: number;
  path: string;
  size: number;
  loaded: number;
  status: 'queued' | 'uploading';
}

/** A file to upload and where it goes (its name, or `folder/name` for a dropped folder). */
export interface UploadRequest {
  file: File;
  path: string;
}

export interface FilesApi {
  /** null until the first list arrives */
  files: FileEntry[] | null;
  isTruncated: boolean;
  isLoading: boolean;
  uploads: Upload[];
  refresh(): void;
  upload(requests: UploadRequest[]): void;
  cancelUpload(key: number): void;
  remove(path: string): Promise<void>;
}

export function useFiles({
  doc,
  notebookId,
  isOpen,
  notify,
}: {
  doc: Y.Doc | null;
  notebookId: string;
  isOpen: boolean;
  notify: (message: string) => void;
}): FilesApi {
  const [files, setFiles] = useState<FileEntry[] | null>(null);
  const [isTruncated, setIsTruncated] = useState(false);
  const [isLoading, setIsLoading] = useState(false);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const seqRef = useRef(0);
  const hasListRef = useRef(false);

  const refresh = useCallback(() => {
    const seq = ++seqRef.current;
    setIsLoading(true);
    listFiles(notebookId).then(
      (list) => {
        if (seq !== seqRef.current) return; // a newer request answers for the newer state
        hasListRef.current = true;
        setFiles(list.files.slice().sort((a, b) => a.path.localeCompare(b.path)));
        setIsTruncated(list.isTruncated);
        setIsLoading(false);
      },
      (err) => {
        if (seq !== seqRef.current) return;
        setIsLoading(false);
        notify(`Could not list the files: ${describeApiError(err)}`);
      }
    );
  }, [notebookId, notify]);

  // whenever the panel opens
  useEffect(() => {
    if (isOpen) refresh();
  }, [isOpen, refresh]);

  // whenever the server says the working directory may have changed. Not on first sight: listing
  // starts the kernel, and opening a notebook should not. Once the list is known (the panel was
  // opened), it stays current so the count in the header does too.
  const state = useYMapValue<FilesState>(doc ? metaOf(doc) : null, 'files');
  const rev = typeof state?.rev === 'number' ? state.rev : 0;
  const lastRevRef = useRef<number | null>(null);
  const isOpenRef = useRef(isOpen);
  isOpenRef.current = isOpen;
  useEffect(() => {
    const previous = lastRevRef.current;
    lastRevRef.current = rev;
    if (previous === null || previous === rev) return;
    if (!isOpenRef.current && !hasListRef.current) return;
    const timer = setTimeout(refresh, FILES_REFRESH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [rev, refresh]);

  // uploads run one at a time, in the order they were asked for
  const queueRef = useRef<(UploadRequest & { key: number })[]>([]);
  const currentRef = useRef<{ key: number; handle: UploadHandle } | null>(null);
  const keyRef = useRef(0);
  const isMountedRef = useRef(true);
  useEffect(() => {
    isMountedRef.current = true;
    return () => {
      isMountedRef.current = false;
      queueRef.current = [];
      currentRef.current?.handle.abort();
    };
  }, []);

  const pump = useCallback(() => {
    if (currentRef.current || !isMountedRef.current) return;
    const next = queueRef.current.shift();
    if (!next) return;
    setUploads((list) => list.map((u) => (u.key === next.key ? { ...u, status: 'uploading' } : u)));
    let lastPaint = 0;
    const handle = uploadFile(notebookId, next.path, next.file, (loaded) => {
      const now = performance.now();
      if (now - lastPaint < 80 && loaded < next.file.size) return;
      lastPaint = now;
      setUploads((list) => list.map((u) => (u.key === next.key ? { ...u, loaded } : u)));
    });
    currentRef.current = { key: next.key, handle };
    handle.done
      .then(
        () => refresh(),
        (err) => {
          if (err instanceof ApiError && err.code === 'ABORTED') return;
          notify(`Could not upload "${next.path}": ${describeApiError(err)}`);
        }
      )
      .finally(() => {
        currentRef.current = null;
        setUploads((list) => list.filter((u) => u.key !== next.key));
        pump();
      });
  }, [notebookId, notify, refresh]);

  const upload = useCallback(
    (requests: UploadRequest[]) => {
      const accepted: Upload[] = [];
      for (const r of requests) {
        const check = checkFilePath(r.path);
        if (!check.ok) {
          notify(`Cannot upload "${r.path}": ${check.message}.`);
          continue;
        }
        const key = ++keyRef.current;
        queueRef.current.push({ ...r, path: check.path, key });
        accepted.push({ key, path: check.path, size: r.file.size, loaded: 0, status: 'queued' });
      }
      if (!accepted.length) return;
      setUploads((list) => [...list, ...accepted]);
      pump();
    },
    [notify, pump]
  );

  const cancelUpload = useCallback((key: number) => {
    if (currentRef.current?.key === key) {
      currentRef.current.handle.abort();
      return;
    }
    queueRef.current = queueRef.current.filter((q) => q.key !== key);
    setUploads((list) => list.filter((u) => u.key !== key));
  }, []);

  const remove = useCallback(
    async (path: string) => {
      try {
        await deleteFile(notebookId, path);
        setFiles((list) => list?.filter((f) => f.path !== path) ?? list);
      } catch (err) {
        notify(`Could not delete "${path}": ${describeApiError(err)}`);
      }
      refresh();
    },
    [notebookId, notify, refresh]
  );

  return { files, isTruncated, isLoading, uploads, refresh, upload, cancelUpload, remove };
}
