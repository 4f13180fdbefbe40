import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { redirect } from '@remix-run/node';
import { Form, useLoaderData, useNavigation } from '@remix-run/react';
import { cleanTitle } from '../../common/notebook/model';
import { ImportNotebook } from '~/components/import-notebook';
import { NotebookList } from '~/components/notebook-list';
import { ThemeToggle } from '~/components/theme-toggle';

export const meta: MetaFunction = () => [{ title: 'Notebooks' }];

export async function loader({ context }: LoaderFunctionArgs) {
  // the list and the create form are the instance admin's (ADMIN_TOKEN; `npm start` prints the URL)
  if (context.viewer.role !== 'admin') return { isAdmin: false, notebooks: [], now: Date.now() };
  const notebooks = await context.services.listNotebooks();
  notebooks.sort((a, b) => b.updatedAt - a.updatedAt);
  // "now" comes from the server so the relative times render the same on both sides of hydration
  return { isAdmin: true, notebooks, now: Date.now() };
}

export async function action({ request, context }: ActionFunctionArgs) {
  if (context.viewer.role !== 'admin') throw new Response('Only the instance admin may create notebooks.', { status: 403 });
  const form = await request.formData();
  const raw = form.get('title');
  const title = typeof raw === 'string' && raw.trim() ? cleanTitle(raw) : undefined;
  const { id } = await context.services.createNotebook({ title });
  return redirect(`/n/${encodeURIComponent(id)}`);
}

export default function Index() {
  const { isAdmin, notebooks, now } = useLoaderData<typeof loader>();
  const navigation = useNavigation();
  const isCreating = navigation.state !== 'idle' && navigation.formMethod === 'POST';
  if (!isAdmin) return <SignIn />;
  return (
    <div className="home">
      <HomeHeader />

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
        <ImportNotebook />

        {/* the list shows its own empty state, so a notice ("Deleted …") outlives the last notebook */}
        <NotebookList notebooks={notebooks} now={now} />
      </main>
    </div>
  );
}

function HomeHeader() {
  return (
    <header className="home-header">
      <div className="brand">
        <span className="brand-mark">[ ]</span>
        <span>Notebooks</span>
      </div>
      <p className="home-tagline">Collaborative Python notebooks on a shared kernel.</p>
      <ThemeToggle />
    </header>
  );
}

/** What someone without the admin token sees: how to get in. */
function SignIn() {
  return (
    <div className="home">
      <HomeHeader />
      <main className="home-main" data-testid="sign-in">
        <h2>Sign in</h2>
        <p>
          Open the sign-in address that <code>npm start</code> printed (<code>http://localhost:3000/?token=…</code>), or the
          link to a notebook that its owner shared with you.
        </p>
        <p className="muted">The admin token is kept in the server&apos;s data folder (<code>data/admin-token</code>) or set with ADMIN_TOKEN.</p>
      </main>
    </div>
  );
}
