// The theme script that runs in <head> before the app (no flash of the wrong theme) must decide
// exactly as the app does afterwards (app/notebook/use-theme.ts).
import { describe, expect, it } from 'vitest';
import { THEME_INIT_SCRIPT, THEME_STORAGE_KEY, parseChoice, resolveTheme } from '../../app/notebook/use-theme';

/** Runs the script against a stand-in page: what it stored, what the system prefers. */
function runScript(stored: string | null | Error, prefersDark: boolean): Record<string, string> {
  const attrs: Record<string, string> = {};
  const window = {
    matchMedia: (q: string) => ({ matches: q === '(prefers-color-scheme: dark)' && prefersDark }),
  };
  const localStorage = {
    getItem: (key: string) => {
      if (stored instanceof Error) throw stored;
      return key === THEME_STORAGE_KEY ? stored : null;
    },
  };
  const document = { documentElement: { setAttribute: (k: string, v: string) => (attrs[k] = v) } };
  new Function('window', 'localStorage', 'document', 'matchMedia', THEME_INIT_SCRIPT)(window, localStorage, document, window.matchMedia);
  return attrs;
}

describe('THEME_INIT_SCRIPT', () => {
  for (const stored of [null, 'system', 'light', 'dark', 'purple']) {
    for (const prefersDark of [false, true]) {
      it(`stored ${stored}, system ${prefersDark ? 'dark' : 'light'}`, () => {
        const choice = parseChoice(stored);
        expect(runScript(stored, prefersDark)).toEqual({ 'data-theme': resolveTheme(choice, prefersDark), 'data-theme-choice': choice });
      });
    }
  }

  it('follows the system when storage is blocked', () => {
    expect(runScript(new Error('SecurityError'), true)).toEqual({ 'data-theme': 'dark', 'data-theme-choice': 'system' });
  });
});
