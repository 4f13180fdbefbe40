// Typed HTTP errors: every API failure is `{error: {code, message}}` with a 4xx/5xx status.
import type { NextFunction, Request, Response } from 'express';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new HttpError(404, 'NOT_FOUND', `${what} not found`);
export const badRequest = (message: string, code = 'BAD_REQUEST') => new HttpError(400, code, message);

type AsyncHandler = (req: Request, res: Response, next: NextFunction) => Promise<unknown>;

/** Express 4 does not catch rejected promises; this forwards them to the error handler. */
export const route =
  (fn: AsyncHandler) =>
  (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res, next).catch(next);
  };

export function errorHandler(log: (msg: string) => void) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) return;
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: { code: err.code, message: err.message } });
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    // body-parser errors: bad JSON, too large
    if (e?.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'BAD_JSON', message: `request body is not valid JSON: ${e.message}` } });
      return;
    }
    if (e?.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'TOO_LARGE', message: 'request body too large' } });
      return;
    }
    log(`unhandled error: ${(err as Error)?.stack ?? err}`);
    res.status(500).json({ error: { code: 'INTERNAL', message: 'internal server error' } });
  };
}
