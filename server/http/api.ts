// The JSON API under /api (see ARCHITECTURE.md "Public interfaces").
import express, { Router } from 'express';
import { z } from 'zod';
import type { NotebookService } from '../notebook/notebooks';
import { badRequest, notFound, route } from './errors';

/** JSON bodies larger than this are refused with 413 (imports have their own limit). */
export const MAX_JSON_BODY = '2mb';

const CreateBody = z.object({ title: z.string().max(1000).optional() }).strict();

export interface ApiDeps {
  notebooks: NotebookService;
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
      const body = CreateBody.safeParse(req.body ?? {});
      if (!body.success) throw badRequest(`invalid body: ${body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
      const rec = await deps.notebooks.create({ title: body.data.title });
      res.status(201).json({ id: rec.id, title: rec.title });
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

  return api;
}
