import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../lib/api';
import { fakeBackend } from '../test/ipc';
import History from './History.svelte';

const entry = (overrides: Partial<HistoryEntry>): HistoryEntry => ({
  requestId: 'r1',
  title: 'Deploy',
  verdict: 'approve',
  state: 'delivered',
  reason: null,
  attempts: 1,
  lastError: null,
  created: '2030-05-01T12:00:00Z',
  updated: '2030-05-01T12:00:00Z',
  ...overrides,
});

describe('History', () => {
  it('shows decisions in the order given (newest first) with their state', async () => {
    fakeBackend({
      history: [
        entry({ requestId: 'new', state: 'pending', lastError: 'AWS cannot be reached', attempts: 3 }),
        entry({ requestId: 'old', verdict: 'deny', reason: 'freeze', state: 'closed' }),
      ],
    });
    render(History);
    const items = await screen.findAllByTestId('history-item');
    expect(items.map((item) => [item.dataset.id, item.dataset.state])).toEqual([
      ['new', 'pending'],
      ['old', 'closed'],
    ]);
    expect(items[0]?.textContent).toContain('Waiting to be sent, 3 attempts so far');
    expect(items[0]?.textContent).toContain('AWS cannot be reached');
    expect(items[1]?.textContent).toContain('Denied');
    expect(items[1]?.textContent).toContain('freeze');
  });
});
