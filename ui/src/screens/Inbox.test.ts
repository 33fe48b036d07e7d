import { act, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NOW, at, overview, summary } from '../test/fixtures';
import { commands, fakeBackend } from '../test/ipc';
import Inbox from './Inbox.svelte';

const items = () => screen.queryAllByTestId('inbox-item');
const countdowns = () => screen.getAllByTestId('countdown').map((element) => element.textContent);

function setVisibility(state: 'visible' | 'hidden'): void {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
  document.dispatchEvent(new Event('visibilitychange'));
}

describe('Inbox', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });

  afterEach(() => {
    vi.useRealTimers();
    setVisibility('visible');
  });

  it('lists requests soonest deadline first, whatever order they come in', () => {
    const inbox = [
      summary({ id: 'later', title: 'Later', deadline: at(50 * 60_000) }),
      summary({ id: 'soonest', title: 'Soonest', deadline: at(2 * 60_000) }),
      summary({ id: 'middle', title: 'Middle', deadline: at(20 * 60_000) }),
    ];
    render(Inbox, { overview: overview({ inbox }) });
    expect(items().map((item) => item.dataset.id)).toEqual(['soonest', 'middle', 'later']);
    expect(items()[0]?.getAttribute('href')).toBe('#/request/soonest');
    expect(items()[0]?.textContent).toContain('needs 1 of group prod-approvers');
    expect(items()[0]?.textContent).toContain('activity:prod-approvers');
  });

  it('renders a long inbox a page at a time, soonest deadline first, and shows the rest on request', async () => {
    // 1,000 pending: rendering every row would make the window slow to open.
    const inbox = Array.from({ length: 1000 }, (_, i) =>
      summary({ id: `r${String(999 - i).padStart(4, '0')}`, deadline: at((999 - i + 1) * 60_000) }),
    );
    render(Inbox, { overview: overview({ inbox }) });
    expect(items()).toHaveLength(50);
    expect(items()[0]?.dataset.id).toBe('r0000');
    expect(items()[49]?.dataset.id).toBe('r0049');
    const more = screen.getByTestId('inbox-more');
    expect(more.textContent).toBe('Show 50 more (950 not shown)');

    await fireEvent.click(more);
    expect(items()).toHaveLength(100);
    expect(items()[99]?.dataset.id).toBe('r0099');

    await fireEvent.click(screen.getByTestId('inbox-all'));
    expect(items()).toHaveLength(1000);
    expect(items()[999]?.dataset.id).toBe('r0999');
    expect(screen.queryByTestId('inbox-more')).toBeNull();
  });

  it('has no "more" button when the whole inbox fits on the page', () => {
    const inbox = Array.from({ length: 50 }, (_, i) => summary({ id: `r${i}`, deadline: at((i + 1) * 60_000) }));
    render(Inbox, { overview: overview({ inbox }) });
    expect(items()).toHaveLength(50);
    expect(screen.queryByTestId('inbox-more')).toBeNull();
  });

  it('counts down every second while visible, and not while hidden', async () => {
    const inbox = [
      summary({ id: 'a', deadline: at(14 * 60_000 + 30_000) }),
      summary({ id: 'b', deadline: at(62_000) }),
    ];
    render(Inbox, { overview: overview({ inbox }) });
    expect(countdowns()).toEqual(['closes in 1 min', 'closes in 14 min']);

    await act(() => vi.advanceTimersByTime(3_000));
    expect(countdowns()).toEqual(['closes in 59 s', 'closes in 14 min']);

    await act(() => vi.advanceTimersByTime(1_000));
    expect(countdowns()).toEqual(['closes in 58 s', 'closes in 14 min']);

    setVisibility('hidden');
    await act(() => vi.advanceTimersByTime(10_000));
    expect(countdowns()).toEqual(['closes in 58 s', 'closes in 14 min']);
    expect(vi.getTimerCount()).toBe(0);

    // Shown again: catches up at once.
    setVisibility('visible');
    await act(() => Promise.resolve());
    expect(countdowns()).toEqual(['closes in 48 s', 'closes in 14 min']);
  });

  it('stops its timer when it goes away', () => {
    const { unmount } = render(Inbox, { overview: overview() });
    expect(vi.getTimerCount()).toBe(1);
    unmount();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('shows the empty state, and no item, when nothing waits', () => {
    render(Inbox, { overview: overview({ inbox: [] }) });
    expect(items()).toHaveLength(0);
    expect(screen.getByTestId('inbox-empty').textContent).toContain('No requests waiting for you.');
  });

  it('shows the polling problem with the way out its code calls for', () => {
    render(Inbox, {
      overview: overview({ problem: { code: 'not_signed_in', message: 'Your session has ended.' } }),
    });
    const banner = screen.getByTestId('problem-banner');
    expect(banner.textContent).toContain('Your session has ended.');
    expect(banner.querySelector('a')?.getAttribute('href')).toBe('#/sign-in');
  });

  it('resumes paused notifications', async () => {
    vi.useRealTimers();
    const calls = fakeBackend({ pause_notifications: overview({ pausedUntil: null }) });
    render(Inbox, { overview: overview({ pausedUntil: at(30 * 60_000) }) });
    expect(screen.getByTestId('paused-banner').textContent).toContain('Notifications paused until');
    await fireEvent.click(screen.getByTestId('resume'));
    expect(commands(calls, 'pause_notifications')).toEqual([{ minutes: 0 }]);
  });

  it('shows invisible characters in titles as markers', () => {
    render(Inbox, { overview: overview({ inbox: [summary({ title: 'Pay \u202E0001 EUR' })] }) });
    expect(items()[0]?.textContent).toContain('Pay ⟨U+202E⟩0001 EUR');
  });
});
