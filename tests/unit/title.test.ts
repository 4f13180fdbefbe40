// The rules for a title a person sets (rename), shared by the API and the home page.
import { describe, expect, it } from 'vitest';
import { checkTitle, copyTitle, MAX_TITLE_LENGTH } from '../../common/notebook/title';

describe('checkTitle', () => {
  it('trims and accepts plain text in any script, up to the limit', () => {
    expect(checkTitle('  Revenue by month ')).toEqual({ ok: true, title: 'Revenue by month' });
    expect(checkTitle('数据分析 — Ünïcode 📈')).toEqual({ ok: true, title: '数据分析 — Ünïcode 📈' });
    expect(checkTitle('עברית')).toEqual({ ok: true, title: 'עברית' });
    expect(checkTitle('x'.repeat(MAX_TITLE_LENGTH))).toMatchObject({ ok: true });
  });

  it('refuses what is not a title, saying why', () => {
    expect(checkTitle(undefined)).toEqual({ ok: false, message: 'title must be a string' });
    expect(checkTitle(' \t ')).toEqual({ ok: false, message: 'title is empty: give the notebook a name' });
    expect(checkTitle('x'.repeat(MAX_TITLE_LENGTH + 1))).toMatchObject({ ok: false, message: expect.stringContaining(`at most ${MAX_TITLE_LENGTH}`) });
    expect(checkTitle('a\rb')).toEqual({ ok: false, message: 'title contains a control character (U+000D) at position 2; use plain text on one line' });
    for (const c of ['\u0000', '\u001b', '\u007f', '\u009b', '\u2029', '\u202d', '\u2067']) expect(checkTitle(`a${c}b`).ok).toBe(false);
  });
});

describe('copyTitle', () => {
  it('is "Copy of X", cut to the limit without splitting a character', () => {
    expect(copyTitle('Sales')).toBe('Copy of Sales');
    const long = copyTitle('📈'.repeat(MAX_TITLE_LENGTH));
    expect(long.length).toBeLessThanOrEqual(MAX_TITLE_LENGTH);
    expect(long.endsWith('📈…')).toBe(true);
    expect(checkTitle(long)).toMatchObject({ ok: true });
  });
});
