// Countdowns and dates. Time is passed in (`now`), never read here, so the
// wording is tested without a clock.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Milliseconds since the epoch, or NaN for a date that does not parse. */
export function parseTime(rfc3339: string): number {
  return Date.parse(rfc3339);
}

/** "closes in 14 min", "closes in 42 s", "closes in 2 h 5 min", "closed". Rounds down. */
export function countdown(deadline: string, now: number): string {
  const at = parseTime(deadline);
  if (Number.isNaN(at)) return 'no valid deadline';
  const left = at - now;
  if (left <= 0) return 'closed';
  if (left < MINUTE) return `closes in ${Math.floor(left / 1000)} s`;
  if (left < HOUR) return `closes in ${Math.floor(left / MINUTE)} min`;
  if (left < 2 * DAY) {
    const hours = Math.floor(left / HOUR);
    const minutes = Math.floor((left % HOUR) / MINUTE);
    return minutes === 0 ? `closes in ${hours} h` : `closes in ${hours} h ${minutes} min`;
  }
  return `closes in ${Math.floor(left / DAY)} days`;
}

export type Urgency = 'closed' | 'soon' | 'normal';

/** Under five minutes left is "soon". */
export function urgency(deadline: string, now: number): Urgency {
  const left = parseTime(deadline) - now;
  if (!(left > 0)) return 'closed';
  return left < 5 * MINUTE ? 'soon' : 'normal';
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

/** Local date and time, or the text as given when it does not parse. */
export function formatDateTime(rfc3339: string): string {
  const at = parseTime(rfc3339);
  return Number.isNaN(at) ? rfc3339 : dateTime.format(at);
}

/** Local time of day, or the text as given when it does not parse. */
export function formatTime(rfc3339: string): string {
  const at = parseTime(rfc3339);
  return Number.isNaN(at) ? rfc3339 : timeOnly.format(at);
}

/** Inbox items ordered by deadline, soonest first; unparseable deadlines last. Does not mutate. */
export function byDeadline<T extends { deadline: string }>(items: readonly T[]): T[] {
  const key = (item: T) => {
    const at = parseTime(item.deadline);
    return Number.isNaN(at) ? Number.POSITIVE_INFINITY : at;
  };
  return [...items].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}
