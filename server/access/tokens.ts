// Tokens: 32 random bytes, base64url. Only their sha256 is stored; comparisons of secrets are
// constant-time.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_BYTES = 32;
/** Longest credential looked at; anything longer is not one of ours (and is not hashed). */
export const MAX_TOKEN_CHARS = 256;

export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newGrantId(): string {
  return randomBytes(9).toString('base64url');
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(hashToken(a), 'hex');
  const y = Buffer.from(hashToken(b), 'hex');
  return timingSafeEqual(x, y);
}

/**
 * A tag binding an admin session to the admin token it was opened with: a new ADMIN_TOKEN ends
 * every admin session made with the old one. Keyed by the token, over the session id (which is
 * stored only hashed), so the stored tag gives nothing to test guesses of the token against.
 */
export function adminSessionTag(adminToken: string, sessionId: string): string {
  return createHmac('sha256', adminToken).update(`ynb-admin-session:${sessionId}`, 'utf8').digest('hex');
}

export function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
