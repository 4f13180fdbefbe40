// `.ipynb` export and import under /api (docs/decisions/0007-ipynb-mapping.md). Mounted before the
// JSON API: the import reads its raw body itself, with its own limit, whatever its content type.
import type { IncomingMessage } from 'node:http';
import { Router } from 'express';
import type { NotebookService } from '../notebook/notebooks';
import type { RoomManager } from '../sync/rooms';
import { docToIpynb, importIpynb, IpynbError, serializeIpynb } from '../notebook/ipynb';
import { HttpError, notFound, route } from './errors';

/** Largest `.ipynb` accepted by the import (a notebook of a few MB is common; plots make them big). */
export const MAX_IMPORT_BYTES = 50 * 1024 * 1024;
/** After refusing a too-large upload, read and discard at most this much more before hanging up. */
const MAX_DISCARD_BYTES = 256 * 1024 * 1024;
export const IPYNB_CONTENT_TYPE = 'application/x-ipynb+json';
/** Characters of the title kept in a download's file name. */
const MAX_FILENAME_CHARS = 100;

const tooLarge = () =>
  new HttpError(413, 'TOO_LARGE', `the notebook is larger than the import limit of ${MAX_IMPORT_BYTES / (1024 * 1024)} MiB (MAX_IMPORT_BYTES = ${MAX_IMPORT_BYTES.toLocaleString('en-US')} bytes)`);

/**
 * Reads a request body up to `limit` bytes. Over the limit it rejects at once (413) and keeps
 * discarding what the client still sends, so the client reads the answer instead of a reset.
 */
export function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let size = 0;
    let refused = false;
    const chunks: Buffer[] = [];
    const refuse = () => {
      refused = true;
      chunks.length = 0;
      reject(tooLarge());
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (refused) {
        if (size > limit + MAX_DISCARD_BYTES) req.socket.destroy();
        return;
      }
      if (size > limit) refuse();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (!refused) reject(err);
    });
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) refuse();
  });
}

/** `Content-Disposition` for a download named after the notebook: an ASCII name and the UTF-8 one. */
export function attachmentDisposition(title: string): string {
  const trimmed = [...title].slice(0, MAX_FILENAME_CHARS).join('').trim();
  const ascii =
    trimmed
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^A-Za-z0-9 ._()-]+/g, '_')
      .replace(/^[\s._]+|[\s._]+$/g, '') || 'notebook';
  const utf8 = (trimmed.replace(/[\u0000-\u001f\u007f/\\]+/g, '_') || 'notebook') + '.ipynb';
  return `attachment; filename="${ascii}.ipynb"; filename*=UTF-8''${encodeURIComponent(utf8).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

export interface IpynbApiDeps {
  notebooks: NotebookService;
  rooms: Pick<RoomManager, 'acquire'>;
}

export function createIpynbApi(deps: IpynbApiDeps): Router {
  const api = Router();

  api.get(
    '/notebooks/:id/export.ipynb',
    route(async (req, res) => {
      const rec = await deps.notebooks.get(req.params.id);
      const held = rec && (await deps.rooms.acquire(rec.id));
      if (!held) throw notFound('notebook');
      let text: string;
      let title: string;
      try {
        const nb = docToIpynb(held.room.doc);
        title = nb.metadata.title as string;
        text = serializeIpynb(nb);
      } finally {
        held.release();
      }
      res.setHeader('Content-Type', `${IPYNB_CONTENT_TYPE}; charset=utf-8`);
      res.setHeader('Content-Disposition', attachmentDisposition(title));
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.send(text);
    }),
  );

  api.post(
    '/notebooks/import',
    route(async (req, res) => {
      const body = await readRawBody(req, MAX_IMPORT_BYTES);
      const name = typeof req.query.name === 'string' ? req.query.name.slice(0, 1000) : undefined;
      let imported;
      try {
        imported = importIpynb(body, { name });
      } catch (err) {
        if (err instanceof IpynbError) throw new HttpError(400, err.code, err.message);
        throw err;
      }
      // the record and the whole document in one transaction: never listed half-made
      const rec = await deps.notebooks.create({ title: imported.title, initialState: imported.update });
      res.status(201).json({ id: rec.id, token: rec.ownerToken, title: rec.title, cells: imported.cellCount });
    }),
  );

  return api;
}
