// The packages `pip install` put in a notebook's own prefix (`.ynotebook/site-packages` of its
// working directory, docs/decisions/0025-no-poisoned-notebooks.md). Whatever is there is imported
// by every kernel start, whoever put it there and even after their link was revoked: its owner
// sees it and can remove it. Read and removed through the kernel, as files are (decision 0008).
//   GET    /api/notebooks/:id/packages -> {path, packages: [{name, version}], otherFiles: [name]}
//   DELETE /api/notebooks/:id/packages -> 200 {removed: <number of packages>}
import { Router } from 'express';
import type { FilesService } from '../notebook/files';
import type { NotebookService } from '../notebook/notebooks';
import { filesHttpError } from './files-api';
import { notFound, route } from './errors';

export interface PackagesApiDeps {
  notebooks: NotebookService;
  files: FilesService;
}

export function createPackagesApi(deps: PackagesApiDeps): Router {
  const api = Router();
  const requireNotebook = async (id: string) => {
    if (!(await deps.notebooks.get(id))) throw notFound('notebook');
  };

  api.get(
    '/notebooks/:id/packages',
    route(async (req, res) => {
      await requireNotebook(req.params.id);
      try {
        res.setHeader('Cache-Control', 'no-store');
        res.json(await deps.files.packages(req.params.id));
      } catch (err) {
        throw filesHttpError(err, deps.files.limits);
      }
    }),
  );

  api.delete(
    '/notebooks/:id/packages',
    route(async (req, res) => {
      await requireNotebook(req.params.id);
      try {
        // the running kernel keeps what it imported; the next start imports none of it
        res.json(await deps.files.removePackages(req.params.id));
      } catch (err) {
        throw filesHttpError(err, deps.files.limits);
      }
    }),
  );

  return api;
}
