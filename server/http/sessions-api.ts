// Browsers' sign-ins (docs/decisions/0026-admin-sessions.md); the route policy checks the role:
//   POST   /api/session/sign-out -> 204: ends the sessions this browser's cookies hold (the admin's
//                                   and its notebooks'), clears the cookies; their sockets close (4410)
//   DELETE /api/admin/sessions   -> {ended}: admin: ends every admin browser session, everywhere
//                                   (the admin token itself still works as a Bearer token)
import { Router } from 'express';
import type { AccessService } from '../access/access';
import { route } from './errors';
import { clearSessionCookie, sessionCookiesOf } from './security';

export interface SessionsApiDeps {
  access: AccessService;
  isSecure: boolean;
}

export function createSessionsApi(deps: SessionsApiDeps): Router {
  const api = Router();

  // needs no credential (policy: anyone): it ends whatever the cookies hold, and answers the same
  // whether they held anything, so it tells nothing about them
  api.post(
    '/session/sign-out',
    route(async (req, res) => {
      const cookies = sessionCookiesOf(req);
      await deps.access.endSessions(cookies.map((c) => c.value));
      for (const c of cookies) clearSessionCookie(res, c.name, deps.isSecure);
      res.setHeader('Cache-Control', 'no-store');
      res.status(204).end();
    }),
  );

  api.delete(
    '/admin/sessions',
    route(async (_req, res) => {
      res.json({ ended: await deps.access.endAdminSessions() });
    }),
  );

  return api;
}
