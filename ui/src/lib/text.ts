// Untrusted text made safe to read. A request's title, requester and details
// come from whoever started the workflow; characters that are invisible or
// that reorder text (the "Trojan Source" bidi overrides) could make an
// approver read something other than what they sign. Every such character is
// replaced by a visible marker such as ⟨U+202E⟩.
//
// Deliberately kept as plain text: tab and line feed (they show as layout in
// the places that preserve white space, and JSON values legitimately hold
// them), and everything printable, including right-to-left scripts, whose
// order the UI isolates with `unicode-bidi: isolate` instead.

export type Segment =
  | { kind: 'text'; text: string }
  | { kind: 'control'; codePoint: number; label: string; name: string };

// The list is tapprove_proto::text::HIDDEN_CHARACTERS (which the CLI, the tray
// menu and notifications use) plus the controls; tests/hidden_characters.rs
// fails when the two differ.
// C0 controls other than tab and line feed, DEL and C1 controls, soft hyphen,
// combining grapheme joiner, Arabic letter mark, Hangul fillers, Khmer
// invisible vowels, Mongolian free variation selectors and vowel separator,
// variation selectors (U+FE00–U+FE0F, U+E0100–U+E01EF), Egyptian hieroglyph,
// shorthand and musical format controls, zero-width and directional
// marks (U+200B–U+200F), line/paragraph separators and bidi embeddings and
// overrides (U+2028–U+202E), word joiner and invisible operators
// (U+2060–U+2064), bidi isolates and deprecated format characters
// (U+2066–U+206F), byte order mark, interlinear annotations, tag characters
// (U+E0000–U+E007F, used to smuggle hidden ASCII) and lone surrogates.
const CONTROL =
  /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u00AD\u034F\u061C\u115F-\u1160\u17B4-\u17B5\u180B-\u180F\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF9-\uFFFB\u{13430}-\u{1343F}\u{1BCA0}-\u{1BCA3}\u{1D173}-\u{1D17A}\u{E0000}-\u{E007F}\u{E0100}-\u{E01EF}]|\p{Cs}/u;
const CONTROL_GLOBAL = new RegExp(CONTROL.source, 'gu');

const NAMES: Record<number, string> = {
  0x00: 'null',
  0x0d: 'carriage return',
  0x1b: 'escape',
  0x7f: 'delete',
  0xad: 'soft hyphen',
  0x061c: 'Arabic letter mark',
  0x200b: 'zero width space',
  0x200c: 'zero width non-joiner',
  0x200d: 'zero width joiner',
  0x200e: 'left-to-right mark',
  0x200f: 'right-to-left mark',
  0x2028: 'line separator',
  0x2029: 'paragraph separator',
  0x202a: 'left-to-right embedding',
  0x202b: 'right-to-left embedding',
  0x202c: 'pop directional formatting',
  0x202d: 'left-to-right override',
  0x202e: 'right-to-left override',
  0x2060: 'word joiner',
  0x2066: 'left-to-right isolate',
  0x2067: 'right-to-left isolate',
  0x2068: 'first strong isolate',
  0x2069: 'pop directional isolate',
  0xfeff: 'zero width no-break space',
};

/** "U+202E", "U+E0041": the code point in the notation the marker shows. */
export function codePointLabel(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

function describe(codePoint: number): string {
  const name = NAMES[codePoint];
  if (name !== undefined) return name;
  if (codePoint <= 0x1f || (codePoint >= 0x80 && codePoint <= 0x9f)) return 'control character';
  if (codePoint >= 0xe0000 && codePoint <= 0xe007f) return 'invisible tag character';
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return 'unpaired surrogate';
  return 'invisible formatting character';
}

/** Whether `text` holds any character that `revealControls` would mark. */
export function hasControls(text: string): boolean {
  return CONTROL.test(text);
}

/**
 * `text` split into plain runs and one segment per invisible or
 * direction-changing character. Joining the plain runs and the original
 * characters of the control segments gives `text` back.
 */
export function revealControls(text: string): Segment[] {
  if (!CONTROL.test(text)) return text === '' ? [] : [{ kind: 'text', text }];
  const segments: Segment[] = [];
  let last = 0;
  CONTROL_GLOBAL.lastIndex = 0;
  for (let match = CONTROL_GLOBAL.exec(text); match !== null; match = CONTROL_GLOBAL.exec(text)) {
    if (match.index > last) segments.push({ kind: 'text', text: text.slice(last, match.index) });
    const codePoint = match[0].codePointAt(0) ?? 0;
    segments.push({ kind: 'control', codePoint, label: `⟨${codePointLabel(codePoint)}⟩`, name: describe(codePoint) });
    last = match.index + match[0].length;
  }
  if (last < text.length) segments.push({ kind: 'text', text: text.slice(last) });
  return segments;
}

/**
 * Whether any string in a JSON value, key or value, holds a control
 * character. Iterative, so a deeply nested document cannot overflow the stack.
 */
export function jsonHasControls(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === 'string') {
      if (hasControls(current)) return true;
    } else if (Array.isArray(current)) {
      for (const item of current) stack.push(item);
    } else if (typeof current === 'object' && current !== null) {
      for (const [key, item] of Object.entries(current)) {
        if (hasControls(key)) return true;
        stack.push(item);
      }
    }
  }
  return false;
}
