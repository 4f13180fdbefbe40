// The JSON API under /api (see ARCHITECTURE.md "Public interfaces").
import express, { Router } from 'express';
import { z } from 'zod';
import type { NotebookService } from '../notebook/notebooks';
import type { ExecutionService } from '../notebook/execution';
import { RunError } from '../notebook/runner';
import { KernelError } from '../kernel/errors';
import { AiError, type AiService } from '../ai/agent';
import { CELL_ID_PATTERN } from '../../common/notebook/model';
import { HttpError, badRequest, notFound, route } from './errors';
import { MAX_ATTACHMENTS } from '../ai/limits';
import { checkFilePath, MAX_FILE_PATH_CHARS } from '../../common/files/paths';
import { OwnershipError } from '../notebook/lease';

/** JSON bodies larger than this are refused with 413 (imports have their own limit). */
export const MAX_JSON_BODY = '2mb';

const CreateBody = z.object({ title: z.string().max(1000).optional() }).strict();

/** Who asked, as the requester names themself (roles and tokens come with access control). */
const ActorSchema = z.object({
  name: z.string().trim().min(1).max(80),
  color: z.string().regex(/^#[0-9a-fA-F]{3,8}$/).optional(),
});
const API_ACTOR = { name: 'API client' };

const RunBody = z
  .object({
    /** the code the requester saw; defaults to the cell's current source */
    source: z.string().max(1_000_000).optional(),
    by: ActorSchema.optional(),
    /** answer at once (202) instead of when the run ends */
    wait: z.boolean().optional(),
  })
  .strict();

const RunManyBody = z
  .object({
    cells: z.array(z.object({ cellId: z.string().regex(CELL_ID_PATTERN), source: z.string().max(1_000_000).optional() }).strict()).min(1).max(10_000),
    by: ActorSchema.optional(),
  })
  .strict();

const ByBody = z.object({ by: ActorSchema.optional() }).strict();

const GenerateBody = z
  .object({
    /** replaces the cell's prompt; without it the cell's shared prompt is used */
    prompt: z.string().max(20_000).optional(),
    by: ActorSchema.optional(),
    /** answer when the generation ends (default: at once, 202) */
    wait: z.boolean().optional(),
    /**
     * files of the working directory the request is about (the ask bar's attachments, uploaded
     * before); kept on the cell's provenance and named to the model. Without it a regenerate keeps
     * the cell's earlier attachments.
     */
    attachments: z.array(z.string().max(MAX_FILE_PATH_CHARS)).max(MAX_ATTACHMENTS).optional(),
  })
  .strict();

/** A cell's code sent for completion or help (the same bound as a run's source). */
export const MAX_EDITOR_CODE_CHARS = 1_000_000;

/** `cursor_pos`: a JS string (UTF-16) offset into `code`, as editors count; the kernel layer converts. */
const CompleteBody = z
  .object({
    code: z.string().max(MAX_EDITOR_CODE_CHARS),
    cursor_pos: z.number().int().min(0),
  })
  .strict()
  .refine((b) => b.cursor_pos <= b.code.length, { message: 'cursor_pos is past the end of code', path: ['cursor_pos'] });

const InspectBody = z
  .object({
    code: z.string().max(MAX_EDITOR_CODE_CHARS),
    cursor_pos: z.number().int().min(0),
    /** 0: signature and docstring (Shift+Tab); 1: also the source, as `obj??` */
    detail_level: z.union([z.literal(0), z.literal(1)]).optional(),
  })
  .strict()
  .refine((b) => b.cursor_pos <= b.code.length, { message: 'cursor_pos is past the end of code', path: ['cursor_pos'] });

const AI_ERROR_STATUS: Record<AiError['code'], number> = {
  NOT_CONFIGURED: 503,
  NOT_FOUND: 404,
  BUSY: 409,
  NO_PROMPT: 400,
  NOT_CODE: 400,
};

/** Attachments are paths in the working directory, checked as the files API checks them. */
function checkAttachments(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const check = checkFilePath(p);
    if (!check.ok) throw badRequest(`attachment "${p.slice(0, 100)}": ${check.message}`, 'BAD_ATTACHMENT');
    if (!out.includes(check.path)) out.push(check.path);
  }
  return out;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) {
    throw badRequest(`invalid body: ${r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  }
  return r.data;
}

/** Maps kernel-layer failures to HTTP answers that say what to do. */
export function kernelHttpError(err: unknown): unknown {
  if (err instanceof OwnershipError) return new HttpError(503, err.code, err.message);
  if (err instanceof RunError) return err.code === 'NOT_FOUND' ? new HttpError(404, 'NOT_FOUND', err.message) : badRequest(err.message, err.code);
  if (err instanceof KernelError) {
    const status = err.code === 'GATEWAY_UNREACHABLE' || err.code === 'GATEWAY_START_FAILED' ? 503 : 502;
    return new HttpError(status, err.code, err.message);
  }
  return err;
}

export interface ApiDeps {
  notebooks: NotebookService;
  /** stops everything of a notebook that is about to be deleted (generations, runs, kernel, room) */
  beforeDelete(notebookId: string): Promise<void>;
  execution: ExecutionService;
  ai: AiService;
  /** the current source of a cell, or null when the notebook or cell does not exist */
  cellSource(notebookId: string, cellId: string): Promise<string | null>;
}

export function createApi(deps: ApiDeps): Router {
  const api = Router();
  api.use(express.json({ limit: MAX_JSON_BODY }));

  api.get(
    '/notebooks',
    route(async (_req, res) => {
      const list = await deps.notebooks.list();
      res.json({ notebooks: list });
    }),
  );

  api.post(
    '/notebooks',
    route(async (req, res) => {
      const body = parse(CreateBody, req.body);
      const rec = await deps.notebooks.create({ title: body.title });
      res.status(201).json({ id: rec.id, token: rec.ownerToken, title: rec.title });
    }),
  );

  api.get(
    '/notebooks/:id',
    route(async (req, res) => {
      const rec = await deps.notebooks.get(req.params.id);
      if (!rec) throw notFound('notebook');
      res.json(rec);
    }),
  );

  // the admin's: the notebook, its document, links, kernel and (embedded gateway) files are gone
  api.delete(
    '/notebooks/:id',
    route(async (req, res) => {
      if (!(await deps.notebooks.get(req.params.id))) throw notFound('notebook');
      await deps.beforeDelete(req.params.id);
      await deps.notebooks.delete(req.params.id);
      res.status(204).end();
    }),
  );

  const requireNotebook = async (id: string) => {
    const rec = await deps.notebooks.get(id);
    if (!rec) throw notFound('notebook');
    return rec;
  };

  api.post(
    '/notebooks/:id/cells/:cellId/run',
    route(async (req, res) => {
      const body = parse(RunBody, req.body);
      await requireNotebook(req.params.id);
      const source = body.source ?? (await deps.cellSource(req.params.id, req.params.cellId));
      if (source === null) throw notFound('cell');
      const run = deps.execution.run(req.params.id, req.params.cellId, source, body.by ?? API_ACTOR);
      if (body.wait === false) {
        run.catch(() => undefined);
        res.status(202).json({ queued: true });
        return;
      }
      try {
        res.json(await run);
      } catch (err) {
        throw kernelHttpError(err);
      }
    }),
  );

  // An extension of ours: run several cells in this order (run all / above / below) in one request,
  // so they cannot arrive out of order.
  api.post(
    '/notebooks/:id/run',
    route(async (req, res) => {
      const body = parse(RunManyBody, req.body);
      await requireNotebook(req.params.id);
      const runs: Promise<unknown>[] = [];
      for (const c of body.cells) {
        const source = c.source ?? (await deps.cellSource(req.params.id, c.cellId));
        if (source === null) continue;
        runs.push(deps.execution.run(req.params.id, c.cellId, source, body.by ?? API_ACTOR));
      }
      try {
        res.json({ results: await Promise.all(runs) });
      } catch (err) {
        throw kernelHttpError(err);
      }
    }),
  );

  // interrupt: stop the running cell and clear the queue; restart: a fresh kernel, outputs kept
  for (const action of ['interrupt', 'restart'] as const) {
    api.post(
      `/notebooks/:id/${action}`,
      route(async (req, res) => {
        const body = parse(ByBody, req.body);
        await requireNotebook(req.params.id);
        try {
          if (action === 'interrupt') await deps.execution.interrupt(req.params.id, body.by ?? API_ACTOR);
          else await deps.execution.restart(req.params.id);
        } catch (err) {
          throw kernelHttpError(err);
        }
        res.json({ ok: true });
      }),
    );
  }

  api.post(
    '/notebooks/:id/cells/:cellId/generate',
    route(async (req, res) => {
      const body = parse(GenerateBody, req.body);
      await requireNotebook(req.params.id);
      let started;
      try {
        started = await deps.ai.generate(req.params.id, req.params.cellId, { prompt: body.prompt, by: body.by ?? API_ACTOR, attachments: body.attachments && checkAttachments(body.attachments) });
      } catch (err) {
        if (err instanceof AiError) throw new HttpError(AI_ERROR_STATUS[err.code], err.code, err.message);
        throw err;
      }
      if (body.wait) {
        res.json({ ai: await started.done });
        return;
      }
      res.status(202).json({ started: true });
    }),
  );

  api.post(
    '/notebooks/:id/cells/:cellId/stop',
    route(async (req, res) => {
      const body = parse(ByBody, req.body);
      await requireNotebook(req.params.id);
      const stopped = await deps.ai.stop(req.params.id, req.params.cellId, body.by ?? API_ACTOR);
      res.json({ stopped });
    }),
  );

  // Completion and help for the editor, from the notebook's kernel (the browser never talks to the
  // gateway). Beside the run queue, never in it; never starting a kernel; within a named deadline
  // (COMPLETE_TIMEOUT_MS), else an empty answer: a suggestion that comes late is worth nothing.
  api.post(
    '/notebooks/:id/complete',
    route(async (req, res) => {
      const body = parse(CompleteBody, req.body);
      await requireNotebook(req.params.id);
      res.json(await deps.execution.complete(req.params.id, body.code, body.cursor_pos));
    }),
  );

  api.post(
    '/notebooks/:id/inspect',
    route(async (req, res) => {
      const body = parse(InspectBody, req.body);
      await requireNotebook(req.params.id);
      res.json(await deps.execution.inspect(req.params.id, body.code, body.cursor_pos, body.detail_level ?? 0));
    }),
  );

  return api;
}
