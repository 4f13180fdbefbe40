import type { LinksFunction, MetaFunction } from '@remix-run/node';
import {
  Link,
  Links,
  Meta,
  Outlet,
  Scripts,
  ScrollRestoration,
  isRouteErrorResponse,
  useRouteError,
} from '@remix-run/react';
import type { ReactNode } from 'react';
import styles from './styles/app.css?url';
import themeStyles from './styles/theme.css?url';
import { THEME_INIT_SCRIPT } from './notebook/use-theme';

export const links: LinksFunction = () => [
  { rel: 'stylesheet', href: styles },
  { rel: 'stylesheet', href: themeStyles },
  {
    rel: 'icon',
    href: "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'><rect width='32' height='32' rx='7' fill='%234f46e5'/><text x='16' y='22' font-family='monospace' font-size='16' font-weight='bold' fill='white' text-anchor='middle'>[ ]</text></svg>",
  },
];

export const meta: MetaFunction = () => [{ title: 'Notebooks' }];

export function Layout({ children }: { children: ReactNode }) {
  return (
    // the theme script sets data-theme on <html> before hydration: React must not mind
    <html lang="en" suppressHydrationWarning>
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        {/* before any stylesheet or paint: the person's light or dark theme, never a flash of the other */}
        <script dangerouslySetInnerHTML={{ __html: THEME_INIT_SCRIPT }} />
        <Meta />
        <Links />
      </head>
      <body>
        {children}
        <ScrollRestoration />
        <Scripts />
      </body>
    </html>
  );
}

export default function App() {
  return <Outlet />;
}

export function ErrorBoundary() {
  const error = useRouteError();
  let title = 'Something went wrong';
  let detail = 'An unexpected error occurred. Reloading the page usually helps.';
  if (isRouteErrorResponse(error)) {
    title = error.status === 404 ? 'Not found' : `${error.status} ${error.statusText}`;
    detail = typeof error.data === 'string' && error.data ? error.data : detail;
  } else if (error instanceof Error && import.meta.env.DEV) {
    detail = error.message;
  }
  return (
    <main className="error-page">
      <h1>{title}</h1>
      <p>{detail}</p>
      <Link to="/">← All notebooks</Link>
    </main>
  );
}
