import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { redirect } from '@remix-run/node';
import { Form, Link, useLoaderData, useNavigation } from '@remix-run/react';
import { cleanTitle } from '../../common/notebook/model';
import { relativeTime } from '~/components/ui/relative-time';

export const meta: MetaFunction = () => [{ title: 'Notebooks' }];

export async function loader({ context }: LoaderFunctionArgs) {
  const notebooks = await context.services.listNotebooks();
  notebooks.sort((a, b) => b.updatedAt - a.updatedAt);
  // "now" comes from the server so the relative times render the same on both sides of hydration
  return { notebooks, now: Date.now() };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  const raw = form.get('title');
  const title = typeof raw === 'string' && raw.trim() ? cleanTitle(raw) : undefined;
  const { id } = await context.services.createNotebook({ title });
  return redirect(`/n/${encodeURIComponent(id)}`);
}

export default function Index() {
  const { notebooks, now } = useLoaderData<typeof loader>();
  const navigation = useNavigation();
  const isCreating = navigation.state !== 'idle' && navigation.formMethod === 'POST';
  return (
    <div className="home">
      <header className="home-header">
        <div className="brand">
          <span className="brand-mark">[ ]</span>
          <span>Notebooks</span>
        </div>
        <p className="home-tagline">Collaborative Python notebooks on a shared kernel.</p>
      </header>

      <main className="home-main">
        <Form method="post" className="new-notebook" data-testid="new-notebook-form">
          <input
            name="title"
            type="text"
            placeholder="Untitled notebook"
            aria-label="Title of the new notebook"
            maxLength={200}
            autoComplete="off"
          />
          <button type="submit" className="btn btn-primary" disabled={isCreating} data-testid="new-notebook">
            {isCreating ? 'Creating…' : 'New notebook'}
          </button>
        </Form>

        {notebooks.length === 0 ? (
          <div className="empty">
            <p>No notebooks yet.</p>
            <p className="muted">Create one above; share its address and edit it together.</p>
          </div>
        ) : (
          <ul className="notebook-list" data-testid="notebook-list">
            {notebooks.map((nb) => (
              <li key={nb.id}>
                <Link to={`/n/${encodeURIComponent(nb.id)}`} className="notebook-link">
                  <span className="notebook-icon" aria-hidden>
                    ▤
                  </span>
                  <span className="notebook-title">{nb.title}</span>
                  <time
                    className="notebook-time"
                    dateTime={new Date(nb.updatedAt).toISOString()}
                    title={new Date(nb.updatedAt).toUTCString()}
                  >
                    edited {relativeTime(nb.updatedAt, now)}
                  </time>
                </Link>
              </li>
            ))}
          </ul>
        )}
      </main>
    </div>
  );
}
