// ANSI SGR escape codes -> styled text segments, rendered as React spans (never as HTML), so text
// from the kernel can colour itself but never inject markup. Handles what IPython tracebacks,
// colorama, rich and tqdm emit: 16 colours (+ bright), 256 colours, 24-bit colours, bold, dim,
// italic, underline, inverse. Other escape sequences (cursor moves, erase line) are dropped.
// Palette and class names follow JupyterLab (packages/rendermime/src/renderers.ts).

/** The 16 base colours; 8-15 are the "bright" (intense) variants. */
export const ANSI_COLOR_NAMES = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'] as const;

export interface AnsiStyle {
  /** a palette name ('red', 'bright-red') or a CSS colour ('rgb(1, 2, 3)') */
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

export interface AnsiSegment {
  text: string;
  style: AnsiStyle;
}

function paletteName(index: number): string {
  return index < 8 ? ANSI_COLOR_NAMES[index] : `bright-${ANSI_COLOR_NAMES[index - 8]}`;
}

const CUBE_LEVELS = [0, 95, 135, 175, 215, 255];

/** xterm's 256-colour table: 0-15 palette, 16-231 a 6x6x6 cube, 232-255 greys. */
export function color256(n: number): string | undefined {
  if (!Number.isInteger(n) || n < 0 || n > 255) return undefined;
  if (n < 16) return paletteName(n);
  if (n < 232) {
    const i = n - 16;
    return `rgb(${CUBE_LEVELS[Math.floor(i / 36)]}, ${CUBE_LEVELS[Math.floor(i / 6) % 6]}, ${CUBE_LEVELS[i % 6]})`;
  }
  const grey = 8 + (n - 232) * 10;
  return `rgb(${grey}, ${grey}, ${grey})`;
}

/** Applies one SGR parameter list (the `1;31` of `ESC[1;31m`) to a style, returning a new style. */
function applySgr(style: AnsiStyle, params: number[]): AnsiStyle {
  const next: AnsiStyle = { ...style };
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (p === 0) {
      for (const key of Object.keys(next) as (keyof AnsiStyle)[]) delete next[key];
    } else if (p === 1) next.bold = true;
    else if (p === 2) next.dim = true;
    else if (p === 3) next.italic = true;
    else if (p === 4) next.underline = true;
    else if (p === 7) next.inverse = true;
    else if (p === 22) {
      delete next.bold;
      delete next.dim;
    } else if (p === 23) delete next.italic;
    else if (p === 24) delete next.underline;
    else if (p === 27) delete next.inverse;
    else if (p >= 30 && p <= 37) next.fg = paletteName(p - 30);
    else if (p >= 90 && p <= 97) next.fg = paletteName(p - 90 + 8);
    else if (p === 39) delete next.fg;
    else if (p >= 40 && p <= 47) next.bg = paletteName(p - 40);
    else if (p >= 100 && p <= 107) next.bg = paletteName(p - 100 + 8);
    else if (p === 49) delete next.bg;
    else if (p === 38 || p === 48) {
      // 38;5;n (256 colours) or 38;2;r;g;b (24-bit)
      let color: string | undefined;
      if (params[i + 1] === 5) {
        color = color256(params[i + 2]);
        i += 2;
      } else if (params[i + 1] === 2) {
        const [r, g, b] = params.slice(i + 2, i + 5);
        if ([r, g, b].every((c) => Number.isInteger(c) && c >= 0 && c <= 255)) color = `rgb(${r}, ${g}, ${b})`;
        i += 4;
      } else {
        break; // malformed: ignore the rest of this sequence
      }
      if (color) next[p === 38 ? 'fg' : 'bg'] = color;
    }
  }
  return next;
}

function sameStyle(a: AnsiStyle, b: AnsiStyle): boolean {
  return (
    a.fg === b.fg &&
    a.bg === b.bg &&
    !a.bold === !b.bold &&
    !a.dim === !b.dim &&
    !a.italic === !b.italic &&
    !a.underline === !b.underline &&
    !a.inverse === !b.inverse
  );
}

// CSI sequences (ESC [ params final) and the OSC / two-character escapes that sometimes slip in.
// eslint-disable-next-line no-control-regex
const ESCAPE = /\u001b\[([0-9;:?]*)([@-~])|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-Z\\-_]?/g;

/**
 * Splits text into runs of one style. Adjacent runs with the same style are merged, so text
 * without escape codes is a single segment (cheap to render even at 200k characters).
 */
export function parseAnsi(text: string): AnsiSegment[] {
  const segments: AnsiSegment[] = [];
  let style: AnsiStyle = {};
  let last = 0;
  const push = (chunk: string) => {
    if (!chunk) return;
    const prev = segments[segments.length - 1];
    if (prev && sameStyle(prev.style, style)) prev.text += chunk;
    else segments.push({ text: chunk, style });
  };
  if (!text.includes('\u001b')) {
    push(text);
    return segments;
  }
  ESCAPE.lastIndex = 0;
  for (let match = ESCAPE.exec(text); match; match = ESCAPE.exec(text)) {
    push(text.slice(last, match.index));
    last = ESCAPE.lastIndex;
    if (match[2] === 'm') {
      const raw = match[1];
      const params = raw === '' ? [0] : raw.split(/[;:]/).map((s) => (s === '' ? 0 : Number(s)));
      style = applySgr(style, params);
    }
  }
  push(text.slice(last));
  return segments;
}

/** Text with every escape sequence removed (for alt text, copy, tests). */
export function stripAnsi(text: string): string {
  return text.replace(ESCAPE, '');
}

/**
 * Applies carriage returns and backspaces the way a terminal (and Jupyter) does, so a tqdm progress
 * bar shows its last state instead of every frame: `\r` returns to the line start and overwrites.
 * A trailing `\r` leaves the line as it is.
 */
export function fixConsole(text: string): string {
  if (text.includes('\b')) {
    // eslint-disable-next-line no-control-regex
    const backspace = /[^\n\b]\u0008/;
    while (backspace.test(text)) text = text.replace(/[^\n\b]\u0008/g, '');
    text = text.replace(/\u0008/g, '');
  }
  if (!text.includes('\r')) return text;
  const lines = text.replace(/\r+\n/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.includes('\r')) continue;
    let buffer = '';
    for (const part of line.split('\r')) buffer = part + buffer.slice(part.length);
    lines[i] = buffer;
  }
  return lines.join('\n');
}
