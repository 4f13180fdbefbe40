// Tokens: 32 random bytes, base64url. Only their sha256 is stored; comparisons of secrets are
// constant-time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

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
