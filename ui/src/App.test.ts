import { render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import App from './App.svelte';
import { detail, overview, summary } from './test/fixtures';
import { commands, deferred, emitEvent, fakeBackend } from './test/ipc';

describe('App', () => {
  it('listens, loads the overview, renders it, then calls ui_ready once', async () => {
    const answer = deferred<unknown>();
    const calls = fakeBackend({ overview: () => answer.promise, ui_ready: null });
    render(App);

    await waitFor(() => expect(commands(calls, 'overview')).toHaveLength(1));
    const order = calls.map((call) => (call.command === 'plugin:event|listen' ? `listen ${String(call.args.event)}` : call.command));
    expect(order.indexOf('overview')).toBeGreaterThan(order.indexOf('listen overview'));
    expect(order).toEqual(expect.arrayContaining(['listen overview', 'listen navigate', 'listen signing', 'listen sign_in']));
    expect(commands(calls, 'ui_ready')).toHaveLength(0);

    answer.resolve(overview({ inbox: [summary({ id: 'one' }), summary({ id: 'two' })] }));
    await waitFor(() => expect(commands(calls, 'ui_ready')).toHaveLength(1));
    // Rendered before ui_ready was called.
    expect(screen.getAllByTestId('inbox-item')).toHaveLength(2);
    expect(screen.getByTestId('nav-inbox').textContent).toContain('2');

    // Later pushes update the screen but do not call ui_ready again.
    await emitEvent('overview', overview({ inbox: [] }));
    await screen.findByTestId('inbox-empty');
    expect(screen.getByTestId('nav-inbox').textContent).not.toContain('2');
    expect(commands(calls, 'ui_ready')).toHaveLength(1);
  });

  it('shows the route the "navigate" event names', async () => {
    fakeBackend({ overview: overview(), ui_ready: null, request: detail({ id: 'AbC123xyz0' }) });
    render(App);
    await screen.findByTestId('inbox-item');
    await emitEvent('navigate', '/request/AbC123xyz0');
    expect(window.location.hash).toBe('#/request/AbC123xyz0');
    expect((await screen.findByTestId('detail-title')).textContent).toBe('Deploy payments v42 to prod');
  });

  it('opens directly at a hash route', async () => {
    window.location.hash = '#/history';
    fakeBackend({ overview: overview(), ui_ready: null, history: [] });
    render(App);
    expect(await screen.findByText('No decisions yet.')).toBeTruthy();
    expect(screen.getByTestId('nav-history').getAttribute('aria-current')).toBe('page');
  });

  it('still renders and reports ready when the overview cannot be loaded', async () => {
    const calls = fakeBackend({
      overview: () => {
        throw { code: 'not_configured', message: 'No config file yet.' };
      },
      ui_ready: null,
    });
    render(App);
    expect(await screen.findByText('No config file yet.')).toBeTruthy();
    await waitFor(() => expect(commands(calls, 'ui_ready')).toHaveLength(1));
  });
});
