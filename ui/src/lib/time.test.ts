import { describe, expect, it } from 'vitest';
import { byDeadline, countdown, urgency } from './time';

const NOW = Date.parse('2030-05-01T12:00:00Z');
const at = (ms: number) => new Date(NOW + ms).toISOString();

describe('countdown', () => {
  it.each([
    [14 * 60_000 + 59_000, 'closes in 14 min'],
    [60_000, 'closes in 1 min'],
    [59_999, 'closes in 59 s'],
    [1_000, 'closes in 1 s'],
    [2 * 3600_000 + 5 * 60_000, 'closes in 2 h 5 min'],
    [3 * 3600_000, 'closes in 3 h'],
    [3 * 86_400_000 + 5_000, 'closes in 3 days'],
    [0, 'closed'],
    [-5_000, 'closed'],
  ])('%d ms before the deadline reads "%s"', (left, text) => {
    expect(countdown(at(left), NOW)).toBe(text);
  });

  it('says so when the deadline does not parse', () => {
    expect(countdown('soon', NOW)).toBe('no valid deadline');
  });
});

describe('urgency', () => {
  it('is soon under five minutes and closed at the deadline', () => {
    expect(urgency(at(5 * 60_000), NOW)).toBe('normal');
    expect(urgency(at(5 * 60_000 - 1), NOW)).toBe('soon');
    expect(urgency(at(0), NOW)).toBe('closed');
    expect(urgency('garbage', NOW)).toBe('closed');
  });
});

describe('byDeadline', () => {
  it('orders soonest first, unparseable last, without touching the input', () => {
    const items = [{ deadline: at(3) }, { deadline: 'bad' }, { deadline: at(1) }, { deadline: at(2) }];
    const copy = [...items];
    expect(byDeadline(items).map((item) => item.deadline)).toEqual([at(1), at(2), at(3), 'bad']);
    expect(items).toEqual(copy);
  });
});
