// Mounts the Remix app: Vite in middleware mode for development, the built app in production.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import express, { type Express, type Request, type Response } from 'express';
import { createRequestHandler } from '@remix-run/express';
import type { ServerBuild } from '@remix-run/node';
import type { AppServices, ViewerInfo } from '../../common/app-context';

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '../..');
export const BUILD_DIR = path.join(PROJECT_ROOT, 'build');

export class MissingBuildError extends Error {}

export async function mountRemix(
  app: Express,
  opts: { mode: 'production' | 'development'; services: AppServices; viewer?: (res: Response) => ViewerInfo },
): Promise<{ close(): Promise<void> }> {
  const getLoadContext = (_req: Request, res: Response) => ({ services: opts.services, viewer: opts.viewer?.(res) ?? { role: null } });
  if (opts.mode === 'development') {
    const vite = await import('vite');
    const server = await vite.createServer({
      root: PROJECT_ROOT,
      server: { middlewareMode: true, hmr: false },
      appType: 'custom',
    });
    app.use(server.middlewares);
    app.all(
      '*',
      createRequestHandler({
        build: () => server.ssrLoadModule('virtual:remix/server-build') as Promise<ServerBuild>,
        getLoadContext,
        mode: 'development',
      }),
    );
    return { close: () => server.close() };
  }
  const serverEntry = path.join(BUILD_DIR, 'server', 'index.js');
  if (!fs.existsSync(serverEntry)) {
    throw new MissingBuildError(`No production build at ${serverEntry}: run \`npm run build\` first (npm start does it for you).`);
  }
  const build = (await import(pathToFileURL(serverEntry).href)) as ServerBuild;
  app.use('/assets', express.static(path.join(BUILD_DIR, 'client', 'assets'), { immutable: true, maxAge: '1y' }));
  app.use(express.static(path.join(BUILD_DIR, 'client'), { maxAge: '1h' }));
  app.all('*', createRequestHandler({ build, getLoadContext, mode: 'production' }));
  return { close: async () => undefined };
}
