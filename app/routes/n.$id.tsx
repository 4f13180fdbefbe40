import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, isRouteErrorResponse, useLoaderData, useRouteError } from '@remix-run/react';
import { useEffect, useState } from 'react';
import { ViewOnlyBadge } from '~/components/header-parts';
import { NotebookEditor } from '~/components/notebook-editor';

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: data?.notebook.title ?? 'Notebook' }];

export async function loader({ params, context }: LoaderFunctionArgs) {
  const id = params.id ?? '';
  const role = context.viewer.role;
  // the same answer for "no such notebook" and "not yours" would hide which ids exist; a link
  // holder of another notebook is told it is not theirs, a stranger that they need a link
  if (!role) throw new Response('Open this notebook with the link its owner shared (it ends in ?token=…).', { status: 401, statusText: 'Unauthorized' });
  const notebook = await context.services.getNotebook(id);
  if (!notebook) throw new Response(`There is no notebook "${id}".`, { status: 404, statusText: 'Not Found' });
  return { notebook, role, model: context.services.modelInfo(role), sandbox: await context.services.kernelSandbox() };
}

export default function NotebookRoute() {
  const { notebook, model, role, sandbox } = useLoaderData<typeof loader>();
  // The notebook lives in a Y.Doc synced over a WebSocket and edited in Monaco: all browser-only.
  // The server renders the frame; the document mounts after hydration.
  const [isHydrated, setIsHydrated] = useState(false);
  useEffect(() => setIsHydrated(true), []);
  if (!isHydrated) {
    return (
      <div className="notebook-page">
        <header className="nb-header">
          <Link to="/" className="brand brand-small">
            <span className="brand-mark">[ ]</span>
          </Link>
          <div className="nb-title-static">{notebook.title}</div>
          {role === 'viewer' ? <ViewOnlyBadge /> : null}
        </header>
        <div className="nb-loading">Loading notebook…</div>
      </div>
    );
  }
  return <NotebookEditor key={notebook.id} notebookId={notebook.id} initialTitle={notebook.title} model={model} role={role} sandbox={sandbox} />;
}

export function ErrorBoundary() {
  const error = useRouteError();
  const isNotFound = isRouteErrorResponse(error) && error.status === 404;
  const isUnauthorized = isRouteErrorResponse(error) && error.status === 401;
  return (
    <main className="error-page" data-testid="notebook-error">
      <h1>{isNotFound ? 'Notebook not found' : isUnauthorized ? 'You need a link to open this notebook' : 'This notebook could not be opened'}</h1>
      <p>
        {isNotFound
          ? 'It may have been deleted, or the address is mistyped.'
          : isUnauthorized
            ? 'Ask its owner for a link (viewer or editor). A link opens only its own notebook.'
            : 'Something went wrong while loading it. Reloading the page usually helps.'}
      </p>
      <Link to="/">← All notebooks</Link>
    </main>
  );
}
