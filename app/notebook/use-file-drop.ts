// Files dragged from the desktop onto the whole page. Only drags that carry files count: text
// dragged inside (or into) a Monaco editor keeps working as before.
import { useEffect, useRef, useState } from 'react';
import type { UploadRequest } from './use-files';

/** Folders dropped are read this deep (a folder level is what the Files panel shows). */
export const MAX_DROP_DEPTH = 4;
/** Files taken from one drop of folders, at most. */
export const MAX_DROP_FILES = 1000;

function carriesFiles(e: DragEvent): boolean {
  return Array.from(e.dataTransfer?.types ?? []).includes('Files');
}

function readEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

async function collect(entry: FileSystemEntry, prefix: string, depth: number, out: UploadRequest[]): Promise<void> {
  if (out.length >= MAX_DROP_FILES) return;
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ file, path: prefix + entry.name });
  } else if (entry.isDirectory && depth < MAX_DROP_DEPTH) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries answers in batches until it answers none
    for (;;) {
      const batch = await readEntries(reader);
      if (!batch.length) break;
      for (const child of batch) await collect(child, `${prefix}${entry.name}/`, depth + 1, out);
    }
  }
}

/** The files of a drop, folders expanded into `folder/name` paths where the browser allows. */
export async function filesOfDrop(data: DataTransfer): Promise<UploadRequest[]> {
  // entries must be taken while the event is being dispatched; reading them may wait
  const entries = Array.from(data.items ?? [])
    .filter((item) => item.kind === 'file')
    .map((item) => (typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null));
  const plain = Array.from(data.files ?? []);
  if (entries.length && entries.every((e) => e !== null)) {
    const out: UploadRequest[] = [];
    try {
      for (const entry of entries) await collect(entry!, '', 0, out);
      return out;
    } catch {
      // a file vanished or the browser refused: fall back to the plain list
    }
  }
  return plain.map((file) => ({ file, path: file.name }));
}

/** Marks an element as a drop zone of its own (`data-drop-zone="ask"`): a drop on it says so. */
export const DROP_ZONE_ATTR = 'data-drop-zone';

function zoneOf(e: DragEvent): string | null {
  const target = e.target as Element | null;
  const zone = typeof target?.closest === 'function' ? target.closest(`[${DROP_ZONE_ATTR}]`) : null;
  return zone?.getAttribute(DROP_ZONE_ATTR) ?? null;
}

/**
 * Whether files are being dragged over the page, and `onDrop` with what was dropped. Listens on
 * the window in the capture phase, so an editor under the pointer does not take a dropped file.
 */
export function useFileDrop(onDrop: (requests: UploadRequest[]) => void, opts: { isEnabled?: boolean } = {}): boolean {
  return useFileDropZones(onDrop, opts).isDragging;
}

/**
 * `useFileDrop` for a page with drop zones of its own: one drop is handled once, here, and
 * `onDrop` and `zone` say which zone (an element marked with DROP_ZONE_ATTR) is under the
 * pointer, or null for the page itself.
 */
export function useFileDropZones(
  onDrop: (requests: UploadRequest[], zone: string | null) => void,
  opts: { isEnabled?: boolean } = {},
): { isDragging: boolean; zone: string | null } {
  const isEnabled = opts.isEnabled ?? true;
  const [isDragging, setIsDragging] = useState(false);
  const [zone, setZone] = useState<string | null>(null);
  const onDropRef = useRef(onDrop);
  onDropRef.current = onDrop;

  useEffect(() => {
    if (!isEnabled) return;
    // dragenter/dragleave fire for every element crossed; count them to know when the drag leaves the window
    let depth = 0;
    // a drag cancelled outside the window sends no dragleave; dragover comes every 350 ms at most
    // while a drag is over the page (HTML's drag-and-drop processing model), so its silence ends it
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const keepAlive = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(onEnd, 1200);
    };
    const onEnter = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      depth++;
      setIsDragging(true);
      keepAlive();
    };
    const onOver = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      e.stopPropagation();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
      setIsDragging(true);
      setZone(zoneOf(e));
      keepAlive();
    };
    const onLeave = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setIsDragging(false);
    };
    const onDropEvent = (e: DragEvent) => {
      if (!carriesFiles(e) || !e.dataTransfer) return;
      e.preventDefault();
      e.stopPropagation();
      const at = zoneOf(e);
      onEnd();
      void filesOfDrop(e.dataTransfer).then((requests) => {
        if (requests.length) onDropRef.current(requests, at);
      });
    };
    function onEnd() {
      clearTimeout(watchdog);
      depth = 0;
      setIsDragging(false);
      setZone(null);
    }
    window.addEventListener('dragenter', onEnter, true);
    window.addEventListener('dragover', onOver, true);
    window.addEventListener('dragleave', onLeave, true);
    window.addEventListener('drop', onDropEvent, true);
    window.addEventListener('dragend', onEnd, true);
    return () => {
      window.removeEventListener('dragenter', onEnter, true);
      window.removeEventListener('dragover', onOver, true);
      window.removeEventListener('dragleave', onLeave, true);
      window.removeEventListener('drop', onDropEvent, true);
      window.removeEventListener('dragend', onEnd, true);
      clearTimeout(watchdog);
    };
  }, [isEnabled]);

  return { isDragging, zone };
}
