// What `npm start` says about signing in as the admin. A token the operator chose (ADMIN_TOKEN) is
// theirs, and never copied into logs; a token the server made is printed with its sign-in address,
// as Jupyter does, because the log is where its owner looks for it.

export function adminSignInLine(opts: { base: string; adminToken: string; isFromEnv: boolean }): string {
  const base = opts.base.replace(/\/+$/, '');
  if (opts.isFromEnv) return `sign in as the admin: ${base}/?token=<ADMIN_TOKEN> (the admin token comes from the environment, ADMIN_TOKEN; it is not printed)`;
  return `sign in as the admin: ${base}/?token=${encodeURIComponent(opts.adminToken)}`;
}
