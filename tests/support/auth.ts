// The admin credential of the servers the tests start (ADMIN_TOKEN), and fetch with it: most tests
// act as the instance admin; tests/integration/access.test.ts checks what everyone else may do.
export const TEST_ADMIN_TOKEN = 'test-admin-token-5f0c1e2d9a8b7c6d';

export function adminHeaders(extra: HeadersInit = {}): Headers {
  const h = new Headers(extra);
  if (!h.has('authorization')) h.set('authorization', `Bearer ${TEST_ADMIN_TOKEN}`);
  return h;
}

/** fetch as the instance admin (an Authorization header the caller sets wins). */
export function fetchAsAdmin(input: string | URL, init: RequestInit = {}): Promise<Response> {
  return fetch(input, { ...init, headers: adminHeaders(init.headers) });
}
