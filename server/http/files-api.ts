// Files of a notebook's working directory (ARCHITECTURE.md "Public interfaces"):
//   GET    /api/notebooks/:id/files          -> {files: [{path, size, modified}], truncated?}
//   PUT    /api/notebooks/:id/files/<path>   raw bytes -> 201 {path, size, sha256}
//   GET    /api/notebooks/:id/files/<path>   -> the bytes, as an attachment
//   DELETE /api/notebooks/:id/files/<path>   -> 204
// Mounted before the JSON API so no body parser ever touches an upload.
import path from 'node:path';
import { Router, type Request, type Response } from 'express';
import { filePathFromUrlTail } from '../../common/files/paths';
import { KernelError } from '../kernel/errors';
import { FileOpError, MiB, isReservedPath, reservedPathMessage, type FileErrorCode, type FileLimits } from '../kernel/kernel-files';
import type { FilesService } from '../notebook/files';
import type { NotebookService } from '../notebook/notebooks';
import { kernelHttpError } from './api';
import { HttpError, badRequest, notFound, route } from './errors';

const FILE_ROUTE = /^\/notebooks\/([^/]+)\/files\/(.*)$/;

const FILE_ERROR_STATUS: Record<FileErrorCode, number> = {
  BAD_PATH: 400,
  OUTSIDE: 400,
  NOT_FOUND: 404,
  NOT_A_FILE: 409,
  IS_A_DIRECTORY: 409,
  NOT_A_DIRECTORY: 409,
  FILE_TOO_LARGE: 413,
  QUOTA_EXCEEDED: 413,
  PERMISSION: 409,
  IO: 500,
  CORRUPTED: 500,
  INTERNAL: 500,
  BAD_REQUEST: 400,
  RESERVED: 400,
};

const fmtMiB = (bytes: number) => (bytes >= 1024 * MiB && bytes % (1024 * MiB) === 0 ? `${bytes / (1024 * MiB)} GiB` : `${+(bytes / MiB).toFixed(1)} MiB`);

export function limitMessage(code: 'FILE_TOO_LARGE' | 'QUOTA_EXCEEDED', limits: FileLimits): string {
  return code === 'FILE_TOO_LARGE'
    ? `the file is larger than the per-file limit of ${fmtMiB(limits.maxFileBytes)} (FILES_MAX_FILE_MB)`
    : `the notebook's files would exceed its quota of ${fmtMiB(limits.quotaBytes)} (FILES_QUOTA_MB): delete some files first`;
}

export function filesHttpError(err: unknown, limits: FileLimits): unknown {
  if (err instanceof FileOpError) {
    const message = err.code === 'FILE_TOO_LARGE' || err.code === 'QUOTA_EXCEEDED' ? limitMessage(err.code, limits) : err.message;
    return new HttpError(FILE_ERROR_STATUS[err.code] ?? 500, err.code, message);
  }
  if (err instanceof KernelError && err.code === 'TIMEOUT') {
    return new HttpError(
      503,
      'KERNEL_BUSY',
      'The kernel did not answer in time: it is probably busy running a cell. Files move through the kernel; try again when the cell finishes, or interrupt it.',
    );
  }
  return kernelHttpError(err);
}

/** `Content-Disposition: attachment` with an ASCII fallback and the UTF-8 name (RFC 6266). */
export function attachmentHeader(filePath: string): string {
  const name = path.posix.basename(filePath);
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export interface FilesApiDeps {
  notebooks: NotebookService;
  files: FilesService;
}

export function createFilesApi(deps: FilesApiDeps): Router {
  const api = Router();
  const limits = deps.files.limits;

  const requireNotebook = async (id: string) => {
    if (!(await deps.notebooks.get(id))) throw notFound('notebook');
  };

  api.get(
    '/notebooks/:id/files',
    route(async (req, res) => {
      await requireNotebook(req.params.id);
      try {
        const { files, truncated } = await deps.files.list(req.params.id);
        res.json(truncated ? { files, truncated } : { files });
      } catch (err) {
        throw filesHttpError(err, limits);
      }
    }),
  );

  api.all(
    FILE_ROUTE,
    route(async (req, res) => {
      const m = FILE_ROUTE.exec(req.path);
      if (!m) throw notFound('file');
      let id: string;
      try {
        id = decodeURIComponent(m[1]);
      } catch {
        throw notFound('notebook');
      }
      const checked = filePathFromUrlTail(m[2]);
      if (!checked.ok) {
        res.setHeader('Connection', 'close'); // do not read an upload's body we refuse
        throw badRequest(`invalid file path: ${checked.message}`, 'BAD_PATH');
      }
      if (isReservedPath(checked.path)) {
        res.setHeader('Connection', 'close');
        throw badRequest(reservedPathMessage(checked.path), 'RESERVED');
      }
      await requireNotebook(id);
      try {
        if (req.method === 'PUT') await upload(req, res, id, checked.path);
        else if (req.method === 'GET' || req.method === 'HEAD') await download(req, res, id, checked.path);
        else if (req.method === 'DELETE') {
          await deps.files.delete(id, checked.path);
          res.status(204).end();
        } else {
          res.setHeader('Allow', 'GET, HEAD, PUT, DELETE');
          throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on a file`);
        }
      } catch (err) {
        throw filesHttpError(err, limits);
      }
    }),
  );

  async function upload(req: Request, res: Response, id: string, filePath: string) {
    const header = req.headers['content-length'];
    const size = header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
    if (size !== undefined && size > limits.maxFileBytes) {
      res.setHeader('Connection', 'close');
      throw new FileOpError('FILE_TOO_LARGE', 'too large');
    }
    try {
      const saved = await deps.files.put(id, filePath, req, size);
      res.status(201).json(saved);
    } catch (err) {
      // refused before the whole body was read: answer now and drop the rest of the upload
      if (!req.complete) res.setHeader('Connection', 'close');
      throw err;
    }
  }

  async function download(req: Request, res: Response, id: string, filePath: string) {
    const reader = await deps.files.read(id, filePath);
    let isGone = false;
    res.on('close', () => {
      isGone = true;
    });
    try {
      res.status(200);
      res.type(path.posix.extname(filePath) || 'application/octet-stream');
      res.setHeader('Content-Length', String(reader.size));
      res.setHeader('Content-Disposition', attachmentHeader(filePath));
      // an uploaded HTML or SVG file opened from here can never run script in the app's origin
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Content-Security-Policy', 'sandbox');
      res.setHeader('Cache-Control', 'no-store');
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      for await (const chunk of reader.chunks()) {
        if (isGone) return;
        if (!res.write(chunk)) await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
      res.end();
    } catch (err) {
      // headers are out: the only honest signal left is a cut connection (short Content-Length)
      if (res.headersSent) {
        res.destroy(err instanceof Error ? err : undefined);
        return;
      }
      throw err;
    } finally {
      reader.close();
    }
  }

  return api;
}
