// ANSI-coloured text as React spans: the kernel's text is always a text node, never markup.
import { memo, useMemo, type CSSProperties, type ReactNode } from 'react';
import { parseAnsi, type AnsiSegment } from './ansi';

const isPaletteName = (color: string) => /^(bright-)?[a-z]+$/.test(color);

function renderSegment(segment: AnsiSegment, key: number): ReactNode {
  const { style: s, text } = segment;
  let fg = s.fg;
  let bg = s.bg;
  if (s.inverse) {
    // an inverted run with default colours still needs to show as inverted
    [fg, bg] = [bg ?? 'default-inverse-fg', fg ?? 'default-inverse-bg'];
  }
  const classes: string[] = [];
  const css: CSSProperties = {};
  if (fg) {
    if (isPaletteName(fg) || fg.startsWith('default-')) classes.push(`ansi-${fg}-fg`);
    else css.color = fg;
  }
  if (bg) {
    if (isPaletteName(bg) || bg.startsWith('default-')) classes.push(`ansi-${bg}-bg`);
    else css.backgroundColor = bg;
  }
  if (s.bold) classes.push('ansi-bold');
  if (s.dim) classes.push('ansi-dim');
  if (s.italic) classes.push('ansi-italic');
  if (s.underline) classes.push('ansi-underline');
  if (classes.length === 0 && !css.color && !css.backgroundColor) return text;
  return (
    <span key={key} className={classes.join(' ') || undefined} style={css.color || css.backgroundColor ? css : undefined}>
      {text}
    </span>
  );
}

/** Parses once per distinct text (memoised), so re-renders of a long stream cost nothing. */
export const AnsiText = memo(function AnsiText({ text }: { text: string }) {
  const nodes = useMemo(() => {
    const segments = parseAnsi(text);
    if (segments.length === 1) return renderSegment(segments[0], 0);
    return segments.map(renderSegment);
  }, [text]);
  return <>{nodes}</>;
});
