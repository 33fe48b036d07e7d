// Helpers for walking an arbitrary JSON value in the details tree, a page of
// children at a time, so a 256 KiB document renders only what is looked at.

/** Children rendered per page; "Show more" adds another page. */
export const PAGE = 100;

/** Strings longer than this show their start and a button for the rest. */
export const LONG_STRING = 2000;

/** How many rows the containers directly under the root may open by default. */
export const OPEN_BUDGET = 200;

export type Container = unknown[] | Record<string, unknown>;

export function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

export function childCount(value: Container): number {
  return Array.isArray(value) ? value.length : Object.keys(value).length;
}

/** The keys (object) or indexes (array) of children `0 .. end`. */
export function childKeys(value: Container, end: number): (string | number)[] {
  if (Array.isArray(value)) {
    const length = Math.min(end, value.length);
    return Array.from({ length }, (_, index) => index);
  }
  const keys = Object.keys(value);
  return keys.length > end ? keys.slice(0, end) : keys;
}

export function childAt(value: Container, key: string | number): unknown {
  return Array.isArray(value) ? value[key as number] : value[key as string];
}

function plural(count: number, one: string, many: string): string {
  return `${count.toLocaleString('en')} ${count === 1 ? one : many}`;
}

/** "{3 keys}", "[1 item]". */
export function summary(value: Container): string {
  const count = childCount(value);
  return Array.isArray(value) ? `[${plural(count, 'item', 'items')}]` : `{${plural(count, 'key', 'keys')}}`;
}

/**
 * Which of `keys` (children of the root) open by default: containers, in
 * order, while their own children fit in what is left of `budget` rows.
 * Everything deeper starts collapsed.
 */
export function openByDefault(value: Container, keys: (string | number)[], budget = OPEN_BUDGET): boolean[] {
  let left = budget;
  return keys.map((key) => {
    const child = childAt(value, key);
    if (!isContainer(child)) return false;
    const rows = Math.min(childCount(child), PAGE);
    if (rows > left) {
      left = 0;
      return false;
    }
    left -= rows;
    return true;
  });
}

/** The first `limit` UTF-16 units of `text`, not splitting a surrogate pair. */
export function head(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const code = text.charCodeAt(limit - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit);
}
