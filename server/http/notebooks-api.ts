// The home page's actions on a notebook under /api (docs/decisions/0015-home-page-actions.md):
// rename it through the server's copy of its document, so everyone who has it open sees the new
// title at once and the export and the list follow; duplicate it in one step, files left behind.
import express, { Router } from 'express';
import { z } from 'zod';
import type { NotebookService } from '../notebook/notebooks';
import { duplicateDocState } from '../notebook/duplicate';
import type { RoomManager } from '../sync/rooms';
import { ORIGIN_SERVER } from '../sync/room';
import { getTitle, setTitle } from '../../common/notebook/model';
import { checkTitle, copyTitle } from '../../common/notebook/title';
import { badRequest, notFound, route } from './errors';

/** A rename's body is one short title: anything much larger is not one. */
const MAX_RENAME_BODY = '16kb';

const RenameBody = z.object({ title: z.unknown() }).strict();

export interface NotebooksApiDeps {
  notebooks: NotebookService;
  rooms: Pick<RoomManager, 'acquire'>;
}

export function createNotebooksApi(deps: NotebooksApiDeps): Router {
  const api = Router();
  const json = express.json({ limit: MAX_RENAME_BODY });

  // editor and up (server/access/policy.ts): an editor can already change the title in the document
  api.patch(
    '/notebooks/:id',
    json,
    route(async (req, res) => {
      const body = RenameBody.safeParse(req.body ?? {});
      if (!body.success || !('title' in body.data)) throw badRequest('invalid body: expected {"title": "<the new title>"}', 'INVALID_TITLE');
      const checked = checkTitle(body.data.title);
      if (!checked.ok) throw badRequest(checked.message, 'INVALID_TITLE');
      const rec = await deps.notebooks.get(req.params.id);
      const held = rec && (await deps.rooms.acquire(rec.id));
      if (!held) throw notFound('notebook');
      let title: string;
      let isStored: boolean;
      try {
        // the shared document is where the title lives: every open copy gets it through sync, and
        // the room stores it (and touches the record) like any other edit
        const { room } = held;
        if (getTitle(room.doc) !== checked.title) room.doc.transact(() => setTitle(room.doc, checked.title), ORIGIN_SERVER);
        title = getTitle(room.doc);
        await room.flushed();
        isStored = !room.hasUnsaved;
      } finally {
        held.release();
      }
      // the list has the new title as soon as this answer arrives; while storage fails the edit
      // waits in memory (never dropped), and the record follows when the room stores it
      if (isStored) await deps.notebooks.recordTitle(rec.id, title);
      res.json({ id: rec.id, title });
    }),
  );

  // the admin's, like create: the copy gets its own owner, whose token is in this answer only
  api.post(
    '/notebooks/:id/duplicate',
    route(async (req, res) => {
      const rec = await deps.notebooks.get(req.params.id);
      const held = rec && (await deps.rooms.acquire(rec.id));
      if (!held) throw notFound('notebook');
      let title: string;
      let state: Uint8Array;
      try {
        title = copyTitle(getTitle(held.room.doc));
        state = duplicateDocState(held.room.doc, title);
      } finally {
        held.release();
      }
      // record, document and owner grant in one transaction: listed whole or not at all
      const copy = await deps.notebooks.create({ title, initialState: state });
      res.status(201).json({ id: copy.id, token: copy.ownerToken, title: copy.title });
    }),
  );

  return api;
}
