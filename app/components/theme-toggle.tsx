// The theme menu of the notebook header and the home page: System, Light or Dark. The button shows
// the choice; the menu closes on a choice, a click elsewhere or Escape.
import { useEffect, useRef, useState } from 'react';
import { THEME_CHOICES, setThemeChoice, useTheme, useThemeChoice, type ThemeChoice } from '~/notebook/use-theme';

const LABELS: Record<ThemeChoice, string> = { system: 'System', light: 'Light', dark: 'Dark' };
const DETAILS: Record<ThemeChoice, string> = {
  system: 'follows your device',
  light: 'always light',
  dark: 'always dark',
};

const PATHS: Record<ThemeChoice, string> = {
  system: 'M2 3h12v8H2zM5.5 14h5M8 11v3',
  light: 'M8 5a3 3 0 100 6 3 3 0 000-6zM8 1v1.5M8 13.5V15M1 8h1.5M13.5 8H15M3 3l1.1 1.1M11.9 11.9L13 13M3 13l1.1-1.1M11.9 4.1L13 3',
  dark: 'M13.5 9.6A5.6 5.6 0 016.4 2.5a5.6 5.6 0 107.1 7.1z',
};

function ThemeIcon({ choice }: { choice: ThemeChoice }) {
  return (
    <svg className="icon" width="16" height="16" viewBox="0 0 16 16" aria-hidden focusable="false">
      <path d={PATHS[choice]} fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

export function ThemeToggle() {
  const choice = useThemeChoice();
  const theme = useTheme();
  const [isOpen, setIsOpen] = useState(false);
  const rootRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!isOpen) return;
    const onPointerDown = (e: PointerEvent) => {
      if (!rootRef.current?.contains(e.target as Node)) setIsOpen(false);
    };
    document.addEventListener('pointerdown', onPointerDown);
    rootRef.current?.querySelector<HTMLElement>('[aria-checked="true"]')?.focus();
    return () => document.removeEventListener('pointerdown', onPointerDown);
  }, [isOpen]);

  const choose = (next: ThemeChoice) => {
    setThemeChoice(next);
    setIsOpen(false);
    rootRef.current?.querySelector<HTMLElement>('.theme-toggle-button')?.focus();
  };

  const title = `Theme: ${LABELS[choice]}${choice === 'system' ? ` (${theme} now)` : ''}`;
  return (
    <div
      ref={rootRef}
      className="theme-toggle"
      data-testid="theme-toggle"
      data-choice={choice}
      // keys here choose a theme; they are not the notebook's command keys
      onKeyDown={(e) => {
        e.stopPropagation();
        if (e.key === 'Escape' && isOpen) {
          e.preventDefault();
          setIsOpen(false);
          rootRef.current?.querySelector<HTMLElement>('.theme-toggle-button')?.focus();
        }
        if (isOpen && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
          e.preventDefault();
          const items = Array.from(rootRef.current?.querySelectorAll<HTMLElement>('[role="menuitemradio"]') ?? []);
          const at = items.indexOf(document.activeElement as HTMLElement);
          items[(at + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length]?.focus();
        }
      }}
    >
      <button
        type="button"
        className="hbtn hbtn-icon theme-toggle-button"
        data-testid="theme-toggle-button"
        aria-label={title}
        title={title}
        aria-haspopup="menu"
        aria-expanded={isOpen}
        onClick={() => setIsOpen((open) => !open)}
      >
        <ThemeIcon choice={choice} />
      </button>
      {isOpen ? (
        <div className="theme-menu" role="menu" aria-label="Theme" data-testid="theme-menu">
          {THEME_CHOICES.map((c) => (
            <button
              key={c}
              type="button"
              role="menuitemradio"
              aria-checked={c === choice}
              className={`theme-menu-item${c === choice ? ' is-on' : ''}`}
              data-testid={`theme-${c}`}
              onClick={() => choose(c)}
            >
              <ThemeIcon choice={c} />
              <span className="theme-menu-label">{LABELS[c]}</span>
              <span className="theme-menu-detail">{DETAILS[c]}</span>
            </button>
          ))}
        </div>
      ) : null}
    </div>
  );
}
