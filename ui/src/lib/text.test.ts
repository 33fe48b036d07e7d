import { describe, expect, it } from 'vitest';
import { hasControls, jsonHasControls, revealControls, type Segment } from './text';

/** The text as it reads on screen: markers in place of the characters. */
const shown = (segments: Segment[]) => segments.map((s) => (s.kind === 'text' ? s.text : s.label)).join('');

/** The original text back from the segments. */
const original = (segments: Segment[]) =>
  segments.map((s) => (s.kind === 'text' ? s.text : String.fromCodePoint(s.codePoint))).join('');

describe('revealControls', () => {
  it('leaves ordinary text, including right-to-left scripts, tabs and newlines, as one run', () => {
    for (const text of ['Deploy payments v42', 'שלום עולם', 'مرحبا', 'line 1\nline 2\tend', 'emoji ✅']) {
      expect(revealControls(text)).toEqual([{ kind: 'text', text }]);
    }
    expect(revealControls('')).toEqual([]);
  });

  it('marks a right-to-left override where it stands (Trojan Source)', () => {
    const segments = revealControls('approve \u202Eyrev\u202C ok');
    expect(shown(segments)).toBe('approve ⟨U+202E⟩yrev⟨U+202C⟩ ok');
    expect(segments[1]).toMatchObject({ kind: 'control', codePoint: 0x202e, name: 'right-to-left override' });
    expect(original(segments)).toBe('approve \u202Eyrev\u202C ok');
  });

  it.each([
    ['embeddings and overrides', [0x202a, 0x202b, 0x202c, 0x202d, 0x202e]],
    ['isolates', [0x2066, 0x2067, 0x2068, 0x2069]],
    ['zero-width characters and marks', [0x200b, 0x200c, 0x200d, 0x200e, 0x200f]],
    ['Arabic letter mark', [0x061c]],
    ['C0 controls other than tab and newline', [0x00, 0x07, 0x08, 0x0b, 0x0c, 0x0d, 0x1b, 0x1f]],
    ['DEL and C1 controls', [0x7f, 0x80, 0x85, 0x9b, 0x9f]],
    ['byte order mark, word joiner, soft hyphen', [0xfeff, 0x2060, 0x00ad]],
    ['tag characters', [0xe0041, 0xe007f]],
  ])('marks %s', (_, codePoints) => {
    for (const codePoint of codePoints) {
      const text = `a${String.fromCodePoint(codePoint)}b`;
      const segments = revealControls(text);
      expect(segments).toHaveLength(3);
      expect(segments[1]).toMatchObject({ kind: 'control', codePoint });
      expect(shown(segments)).toBe(`a⟨U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}⟩b`);
      expect(hasControls(text)).toBe(true);
    }
  });

  it('marks an unpaired surrogate but keeps a proper pair as text', () => {
    expect(revealControls('x\uD800y').map((s) => s.kind)).toEqual(['text', 'control', 'text']);
    expect(revealControls('x\uD83D\uDE00y')).toEqual([{ kind: 'text', text: 'x\uD83D\uDE00y' }]);
  });

  it('marks consecutive controls one by one, at the start and the end', () => {
    const segments = revealControls('\u2066\u2069mid\u200B');
    expect(shown(segments)).toBe('⟨U+2066⟩⟨U+2069⟩mid⟨U+200B⟩');
    expect(segments.filter((s) => s.kind === 'control')).toHaveLength(3);
  });

  it('gives the same answer on every call (no regex state leaks between calls)', () => {
    const text = 'a\u202Eb';
    expect(revealControls(text)).toEqual(revealControls(text));
    expect(hasControls(text)).toBe(true);
    expect(hasControls(text)).toBe(true);
  });
});

describe('jsonHasControls', () => {
  it('finds controls in nested values and in keys, and nothing in clean documents', () => {
    expect(jsonHasControls({ a: [1, { b: 'clean' }], c: null })).toBe(false);
    expect(jsonHasControls({ a: [1, { b: 'x\u202Ey' }] })).toBe(true);
    expect(jsonHasControls({ ['key\u2066']: 1 })).toBe(true);
    expect(jsonHasControls('\u200B')).toBe(true);
  });

  it('copes with deep nesting without recursion', () => {
    let deep: unknown = 'bottom\u202E';
    for (let i = 0; i < 20_000; i++) deep = [deep];
    expect(jsonHasControls(deep)).toBe(true);
  });
});
