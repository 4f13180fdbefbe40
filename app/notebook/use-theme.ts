// Light or dark (docs/decisions/0013-math-and-theme.md). The person chooses system, light or dark
// (kept in localStorage); "system" follows `prefers-color-scheme`, live. The resolved theme is the
// `data-theme` attribute of <html>, which app/styles/theme.css keys on; an inline script in the
// page's <head> (THEME_INIT_SCRIPT) sets it before the first paint, so no page flashes light.
import { useSyncExternalStore } from 'react';

export type ThemeChoice = 'system' | 'light' | 'dark';
export type Theme = 'light' | 'dark';

export const THEME_STORAGE_KEY = 'notebook.theme';
export const THEME_CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark'];
const DARK_QUERY = '(prefers-color-scheme: dark)';

/**
 * Runs in <head> before anything is drawn (the page's CSP allows inline scripts: Remix's own need
 * it). The same rules as `readChoice` and `resolveTheme` below, kept in step by a unit test.
 */
export const THEME_INIT_SCRIPT = `(function(){var c='system';try{c=localStorage.getItem(${JSON.stringify(THEME_STORAGE_KEY)})||c}catch(e){}if(c!=='light'&&c!=='dark')c='system';var d=c==='dark'||(c==='system'&&!!window.matchMedia&&matchMedia(${JSON.stringify(DARK_QUERY)}).matches);var r=document.documentElement;r.setAttribute('data-theme',d?'dark':'light');r.setAttribute('data-theme-choice',c)})()`;

export function parseChoice(value: unknown): ThemeChoice {
  return value === 'light' || value === 'dark' ? value : 'system';
}

export function resolveTheme(choice: ThemeChoice, prefersDark: boolean): Theme {
  return choice === 'system' ? (prefersDark ? 'dark' : 'light') : choice;
}

/** The choice made on this page when localStorage is blocked: it lasts until the page goes. */
let unsavedChoice: ThemeChoice | null = null;

function readChoice(): ThemeChoice {
  try {
    return parseChoice(window.localStorage.getItem(THEME_STORAGE_KEY));
  } catch {
    return unsavedChoice ?? 'system';
  }
}

function prefersDark(): boolean {
  return typeof window.matchMedia === 'function' && window.matchMedia(DARK_QUERY).matches;
}

const listeners = new Set<() => void>();
let detach: (() => void) | null = null;

/** Puts the current choice on <html> and tells every subscriber. */
function apply(): void {
  const choice = readChoice();
  const root = document.documentElement;
  root.setAttribute('data-theme', resolveTheme(choice, prefersDark()));
  root.setAttribute('data-theme-choice', choice);
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (!detach) {
    const media = typeof window.matchMedia === 'function' ? window.matchMedia(DARK_QUERY) : null;
    // another tab changed the choice
    const onStorage = (e: StorageEvent) => {
      if (e.key === THEME_STORAGE_KEY || e.key === null) apply();
    };
    media?.addEventListener('change', apply);
    window.addEventListener('storage', onStorage);
    detach = () => {
      media?.removeEventListener('change', apply);
      window.removeEventListener('storage', onStorage);
    };
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      detach?.();
      detach = null;
    }
  };
}

export function setThemeChoice(choice: ThemeChoice): void {
  try {
    if (choice === 'system') window.localStorage.removeItem(THEME_STORAGE_KEY);
    else window.localStorage.setItem(THEME_STORAGE_KEY, choice);
  } catch {
    unsavedChoice = choice;
  }
  apply();
}

const choiceSnapshot = (): ThemeChoice => parseChoice(document.documentElement.getAttribute('data-theme-choice'));
const themeSnapshot = (): Theme => (document.documentElement.getAttribute('data-theme') === 'dark' ? 'dark' : 'light');

/** What the person chose: system, light or dark ("system" while the server renders). */
export function useThemeChoice(): ThemeChoice {
  return useSyncExternalStore(subscribe, choiceSnapshot, () => 'system');
}

/** The theme in effect now ("light" while the server renders). */
export function useTheme(): Theme {
  return useSyncExternalStore(subscribe, themeSnapshot, () => 'light');
}
