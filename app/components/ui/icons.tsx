// A handful of 16px stroke icons for the cell toolbar; inline so they need no icon font.
const PATHS = {
  up: 'M8 13V3M4 7l4-4 4 4',
  down: 'M8 3v10M4 9l4 4 4-4',
  insertAbove: 'M2 11h12M2 14h12M8 1v6M5 4h6',
  insertBelow: 'M2 2h12M2 5h12M8 9v6M5 12h6',
  trash: 'M3 4h10M6 4V2.5h4V4M4.5 4l.7 9.5h5.6l.7-9.5',
  split: 'M2 8h12M5 5l3-3 3 3M5 11l3 3 3-3',
  merge: 'M2 8h12M5 2l3 3 3-3M5 14l3-3 3 3',
  play: 'M5 3l8 5-8 5z',
  plus: 'M8 3v10M3 8h10',
  sparkle: 'M8 1.5l1.6 4.9 4.9 1.6-4.9 1.6L8 14.5l-1.6-4.9L1.5 8l4.9-1.6zM13 1.5v3M11.5 3h3',
} as const;

export type IconName = keyof typeof PATHS;

export function Icon({ name }: { name: IconName }) {
  return (
    <svg className="icon" width="16" height="16" viewBox="0 0 16 16" aria-hidden focusable="false">
      <path d={PATHS[name]} fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}
