// The files of a notebook's working directory, moved through its kernel: a comm per operation to
// the kernel-side helper (files_helper.py), bytes as binary buffers in chunks of FILE_CHUNK_BYTES,
// a few chunks in flight at once. Works the same on the embedded gateway and on a remote Kernel
// Gateway or Enterprise Gateway whose disk this server cannot see. Nothing here holds a whole file.
import { createHash } from 'node:crypto';
import type { CommChannel, CommReply, NotebookKernel } from './types.js';

export const FILES_COMM_TARGET = 'ynotebook.files';
/** Bytes per comm message. 1 MiB measured fastest here (bench/files.ts); well under the gateway's 10 MiB message limit. */
export const FILE_CHUNK_BYTES = 1024 * 1024;
/** Chunks sent or requested before the first is answered: keeps the pipe full both ways. */
export const FILE_PIPELINE_DEPTH = 4;

export interface FileLimits {
  /** largest single file (Code Interpreter's is 512 MiB) */
  maxFileBytes: number;
  /** all files of one notebook's working directory together */
  quotaBytes: number;
  /** entries a listing returns at most (then `truncated: true`) */
  maxListedFiles: number;
}

export const MiB = 1024 * 1024;
export const DEFAULT_FILE_LIMITS: FileLimits = {
  maxFileBytes: 512 * MiB,
  quotaBytes: 2048 * MiB,
  maxListedFiles: 10_000,
};

export type FileErrorCode =
  | 'BAD_PATH'
  | 'OUTSIDE'
  | 'NOT_FOUND'
  | 'NOT_A_FILE'
  | 'IS_A_DIRECTORY'
  | 'NOT_A_DIRECTORY'
  | 'FILE_TOO_LARGE'
  | 'QUOTA_EXCEEDED'
  | 'PERMISSION'
  | 'IO'
  | 'CORRUPTED'
  | 'INTERNAL'
  | 'BAD_REQUEST'
  | 'RESERVED';

/**
 * The app's own folder in a notebook's working directory: the per-notebook `pip install` prefix
 * (kernel-gateway/kernel_launcher.py PIP_TARGET_SUBDIR). The files API never reaches into it (a
 * `sitecustomize.py` put there would run at every kernel start); the kernel side checks again on
 * the real path (files_helper.py).
 */
export const RESERVED_DIR = '.ynotebook';
/** Where `pip install` puts packages, relative to the working directory. */
export const PIP_TARGET_PATH = `${RESERVED_DIR}/site-packages`;

/** True when a checked relative path lies in RESERVED_DIR (case-insensitive: some disks are). */
export function isReservedPath(path: string): boolean {
  return path.split('/')[0].toLowerCase() === RESERVED_DIR;
}

export function reservedPathMessage(path: string): string {
  return `"${path}" is in ${RESERVED_DIR}/, the app's own folder (packages installed with pip): files cannot be put, read or deleted there. The notebook's owner sees and removes installed packages with GET/DELETE /api/notebooks/:id/packages.`;
}

/** A failure the kernel-side helper reported (the kernel itself is fine). */
export class FileOpError extends Error {
  constructor(
    readonly code: FileErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FileOpError';
  }
}

export interface FileEntry {
  path: string;
  size: number;
  /** ms since epoch */
  modified: number;
}

function check(reply: CommReply): CommReply {
  const err = reply.data?.error as { code?: string; message?: string } | undefined;
  if (err) throw new FileOpError((err.code as FileErrorCode) ?? 'INTERNAL', String(err.message ?? 'the kernel refused the file operation'));
  return reply;
}

async function open(kernel: NotebookKernel, data: Record<string, unknown>): Promise<CommChannel> {
  const ch = await kernel.openComm(FILES_COMM_TARGET, data);
  try {
    check(ch.opened);
  } catch (err) {
    ch.close();
    throw err;
  }
  return ch;
}

export async function listFiles(kernel: NotebookKernel, limits: Pick<FileLimits, 'maxListedFiles'>): Promise<{ files: FileEntry[]; truncated: boolean }> {
  const ch = await open(kernel, { op: 'list', maxEntries: limits.maxListedFiles });
  ch.close();
  const d = ch.opened.data as { files?: FileEntry[]; truncated?: boolean };
  return { files: Array.isArray(d.files) ? d.files : [], truncated: d.truncated === true };
}

export interface InstalledPackage {
  name: string;
  version: string;
}

export interface PackageListing {
  /** the pip prefix, relative to the working directory */
  path: string;
  packages: InstalledPackage[];
  /** names in the prefix that no installed package owns (written there some other way) */
  otherFiles: string[];
}

/** The packages `pip install` put in the notebook's prefix (read from their dist-info). */
export async function listPackages(kernel: NotebookKernel): Promise<PackageListing> {
  const ch = await open(kernel, { op: 'packages' });
  ch.close();
  const d = ch.opened.data as Partial<PackageListing>;
  return {
    path: typeof d.path === 'string' ? d.path : PIP_TARGET_PATH,
    packages: Array.isArray(d.packages) ? d.packages.map((p) => ({ name: String(p?.name ?? ''), version: String(p?.version ?? '') })) : [],
    otherFiles: Array.isArray(d.otherFiles) ? d.otherFiles.map(String) : [],
  };
}

/** Removes the whole prefix: the next kernel start imports none of it. */
export async function removePackages(kernel: NotebookKernel): Promise<{ removed: number }> {
  const ch = await open(kernel, { op: 'remove_packages' });
  ch.close();
  return { removed: Number(ch.opened.data.removed) || 0 };
}

export async function deleteFile(kernel: NotebookKernel, path: string): Promise<void> {
  const ch = await open(kernel, { op: 'delete', path });
  ch.close();
}

export interface PutOptions {
  /** the size announced by the client (Content-Length), refused early when over a limit */
  size?: number;
  limits: Pick<FileLimits, 'maxFileBytes' | 'quotaBytes'>;
  onProgress?(bytes: number): void;
}

/**
 * Streams `body` into `path` of the working directory. The file appears only when complete (the
 * kernel writes a hidden temporary file and renames it); on any failure nothing is left behind.
 */
export async function putFile(kernel: NotebookKernel, path: string, body: AsyncIterable<Uint8Array>, opts: PutOptions): Promise<{ path: string; size: number; sha256: string }> {
  const ch = await open(kernel, { op: 'put', path, size: opts.size ?? null, maxFileBytes: opts.limits.maxFileBytes, quotaBytes: opts.limits.quotaBytes });
  const hash = createHash('sha256');
  const inflight: Promise<CommReply>[] = [];
  let sent = 0;
  let isCommitted = false;
  const send = async (chunk: Uint8Array) => {
    hash.update(chunk);
    sent += chunk.byteLength;
    inflight.push(ch.request({ op: 'chunk' }, [chunk]));
    if (inflight.length >= FILE_PIPELINE_DEPTH) check(await inflight.shift()!);
    opts.onProgress?.(sent);
  };
  try {
    // gather the stream's small pieces (64 KiB from a socket) into chunks of FILE_CHUNK_BYTES
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const piece of body) {
      let buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      while (pendingBytes + buf.byteLength >= FILE_CHUNK_BYTES) {
        const take = FILE_CHUNK_BYTES - pendingBytes;
        pending.push(buf.subarray(0, take));
        buf = buf.subarray(take);
        await send(Buffer.concat(pending, FILE_CHUNK_BYTES));
        pending = [];
        pendingBytes = 0;
      }
      if (buf.byteLength) {
        pending.push(Buffer.from(buf)); // a copy: the stream may reuse its memory
        pendingBytes += buf.byteLength;
      }
    }
    if (pendingBytes) await send(Buffer.concat(pending, pendingBytes));
    while (inflight.length) check(await inflight.shift()!);
    const done = check(await ch.request({ op: 'commit' })).data as { path: string; size: number; sha256: string };
    isCommitted = true;
    const sha256 = hash.digest('hex');
    if (done.sha256 !== sha256 || done.size !== sent) {
      // never expected; a file that differs from what was sent must not stay
      await deleteFile(kernel, path).catch(() => undefined);
      throw new FileOpError('CORRUPTED', `the file arrived damaged (${done.size} of ${sent} bytes, checksum mismatch); nothing was kept`);
    }
    return { path: done.path, size: done.size, sha256 };
  } catch (err) {
    // answers still in flight may reject too; they are superseded by this failure
    for (const p of inflight) p.catch(() => undefined);
    if (!isCommitted) await ch.request({ op: 'abort' }, undefined, 10_000).catch(() => undefined);
    throw err;
  } finally {
    ch.close();
  }
}

export interface FileReader {
  size: number;
  /** the file's bytes in order, FILE_PIPELINE_DEPTH chunks requested ahead */
  chunks(): AsyncGenerator<Buffer>;
  close(): void;
}

export async function readFile(kernel: NotebookKernel, path: string): Promise<FileReader> {
  const ch = await open(kernel, { op: 'get', path });
  const size = Number(ch.opened.data.size) || 0;
  return {
    size,
    async *chunks() {
      const ahead: Promise<CommReply>[] = [];
      let requested = 0;
      let received = 0;
      try {
        while (received < size) {
          while (requested < size && ahead.length < FILE_PIPELINE_DEPTH) {
            const length = Math.min(FILE_CHUNK_BYTES, size - requested);
            ahead.push(ch.request({ op: 'read', offset: requested, length }));
            requested += length;
          }
          const reply = check(await ahead.shift()!);
          const buf = reply.buffers[0] ?? Buffer.alloc(0);
          // the file shrank while it was read: stop at what exists rather than wait forever
          if (buf.byteLength === 0) throw new FileOpError('IO', `the file changed while it was read (${received} of ${size} bytes)`);
          received += buf.byteLength;
          yield buf;
        }
      } finally {
        for (const p of ahead) p.catch(() => undefined);
      }
    },
    close: () => ch.close(),
  };
}
