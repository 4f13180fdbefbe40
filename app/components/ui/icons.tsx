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
  download: 'M8 2v8.5M4.5 7L8 10.5 11.5 7M2.5 13.5h11',
  upload: 'M8 11V2.5M4.5 6L8 2.5 11.5 6M2.5 13.5h11',
  file: 'M4 1.5h5l3.5 3.5v9.5h-8.5zM9 1.5V5h3.5',
  folder: 'M1.5 3.5h4.5l1.5 1.5h7v8.5h-13z',
  close: 'M4 4l8 8M12 4l-8 8',
  link: 'M6.8 9.2l2.4-2.4M7.4 4.9l1.1-1.1a2.6 2.6 0 013.7 3.7l-1.1 1.1M8.6 11.1l-1.1 1.1a2.6 2.6 0 01-3.7-3.7l1.1-1.1',
  eye: 'M1.5 8S4 3.5 8 3.5 14.5 8 14.5 8 12 12.5 8 12.5 1.5 8 1.5 8zM8 10a2 2 0 100-4 2 2 0 000 4z',
  warning: 'M8 2l6.5 11.5h-13zM8 6.5v3.2M8 11.7v.1',
  copy: 'M5.5 5.5h8v8h-8zM10.5 5.5v-3h-8v8h3',
  pencil: 'M10.5 2.5l3 3-8 8h-3v-3zM8.5 4.5l3 3',
  search: 'M7 12a5 5 0 100-10 5 5 0 000 10zM10.6 10.6L14 14',
  paperclip: 'M13.2 7.6l-5.3 5.3a3.3 3.3 0 01-4.7-4.7l5.6-5.6a2.2 2.2 0 013.1 3.1L6.3 11.3a1.1 1.1 0 01-1.6-1.6l5-5',
} as const;

export type IconName = keyof typeof PATHS;

export function Icon({ name }: { name: IconName }) {
  return (
    <svg className="icon" width="16" height="16" viewBox="0 0 16 16" aria-hidden focusable="false">
      <path d={PATHS[name]} fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}
