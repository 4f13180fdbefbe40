import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, isRouteErrorResponse, useLoaderData, useRouteError } from '@remix-run/react';
import { useEffect, useState } from 'react';
import { NotebookEditor } from '~/components/notebook-editor';

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: data?.notebook.title ?? 'Notebook' }];

export async function loader({ params, context }: LoaderFunctionArgs) {
  const id = params.id ?? '';
  const notebook = await context.services.getNotebook(id);
  if (!notebook) throw new Response(`There is no notebook "${id}".`, { status: 404, statusText: 'Not Found' });
  return { notebook, model: context.services.modelInfo() };
}

export default function NotebookRoute() {
  const { notebook, model } = useLoaderData<typeof loader>();
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
        </header>
        <div className="nb-loading">Loading notebook…</div>
      </div>
    );
  }
  return <NotebookEditor key={notebook.id} notebookId={notebook.id} initialTitle={notebook.title} model={model} />;
}

export function ErrorBoundary() {
  const error = useRouteError();
  const isNotFound = isRouteErrorResponse(error) && error.status === 404;
  return (
    <main className="error-page">
      <h1>{isNotFound ? 'Notebook not found' : 'This notebook could not be opened'}</h1>
      <p>
        {isNotFound
          ? 'It may have been deleted, or the address is mistyped.'
          : 'Something went wrong while loading it. Reloading the page usually helps.'}
      </p>
      <Link to="/">← All notebooks</Link>
    </main>
  );
}
