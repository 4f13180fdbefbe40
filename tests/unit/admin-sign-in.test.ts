// What `npm start` prints about the admin's sign-in: the address with the token only when the server
// made the token; a token the operator gave in ADMIN_TOKEN never reaches the log.
import { describe, expect, it } from 'vitest';
import { adminSignInLine } from '../../server/http/admin-sign-in';

const TOKEN = 'an-operator-chosen-secret-0123456789';

describe('the admin sign-in line', () => {
  it('prints the sign-in address with a token the server made', () => {
    expect(adminSignInLine({ base: 'http://localhost:3000/', adminToken: 'made+by/us', isFromEnv: false })).toBe('sign in as the admin: http://localhost:3000/?token=made%2Bby%2Fus');
  });

  it('names ADMIN_TOKEN instead of printing a token given in the environment', () => {
    const line = adminSignInLine({ base: 'https://nb.example.org', adminToken: TOKEN, isFromEnv: true });
    expect(line).not.toContain(TOKEN);
    expect(line).not.toContain(encodeURIComponent(TOKEN));
    expect(line).toBe('sign in as the admin: https://nb.example.org/?token=<ADMIN_TOKEN> (the admin token comes from the environment, ADMIN_TOKEN; it is not printed)');
  });
});
