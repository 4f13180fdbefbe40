// Share links of a notebook (owner or admin; the route policy checks the role):
//   POST   /api/notebooks/:id/links {role: "editor" | "viewer"} -> 201 {id, role, token, url}
//   GET    /api/notebooks/:id/links                             -> {links: [{id, role, createdAt}]}
//   DELETE /api/notebooks/:id/links/:linkId                     -> 204, open connections close at once
import express, { Router, type Request } from 'express';
import { z } from 'zod';
import type { AccessService } from '../access/access';
import type { NotebookService } from '../notebook/notebooks';
import { badRequest, notFound, route } from './errors';

const LinkBody = z.object({ role: z.enum(['editor', 'viewer']) }).strict();

export interface LinksApiDeps {
  notebooks: NotebookService;
  access: AccessService;
  /** the URL people use to reach the app (PUBLIC_URL), else the request's own */
  publicUrl?: string;
}

function baseUrl(req: Request, publicUrl?: string): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  return `${req.protocol}://${req.headers.host ?? 'localhost'}`;
}

export function createLinksApi(deps: LinksApiDeps): Router {
  const api = Router();
  api.use('/notebooks/:id/links', express.json({ limit: '16kb' }));

  const requireNotebook = async (id: string) => {
    if (!(await deps.notebooks.get(id))) throw notFound('notebook');
  };

  api.post(
    '/notebooks/:id/links',
    route(async (req, res) => {
      const parsed = LinkBody.safeParse(req.body ?? {});
      if (!parsed.success) throw badRequest('invalid body: role must be "editor" or "viewer"');
      await requireNotebook(req.params.id);
      const { link, token } = await deps.access.createLink(req.params.id, parsed.data.role);
      const url = `${baseUrl(req, deps.publicUrl)}/n/${encodeURIComponent(req.params.id)}?token=${encodeURIComponent(token)}`;
      res.status(201).json({ ...link, token, url });
    }),
  );

  api.get(
    '/notebooks/:id/links',
    route(async (req, res) => {
      await requireNotebook(req.params.id);
      res.json({ links: await deps.access.listLinks(req.params.id) });
    }),
  );

  api.delete(
    '/notebooks/:id/links/:linkId',
    route(async (req, res) => {
      await requireNotebook(req.params.id);
      if (!(await deps.access.revokeLink(req.params.id, req.params.linkId))) throw notFound('link');
      res.status(204).end();
    }),
  );

  return api;
}
