import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import App from './App.svelte';
import { signing } from './lib/signing.svelte';
import { detail, overview, summary } from './test/fixtures';
import { commands, deferred, emitEvent, fakeBackend } from './test/ipc';

describe('App', () => {
  afterEach(() => {
    signing.close();
  });

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

  it('calls ui_ready again after each "navigate" (each open), once the screen it names is rendered', async () => {
    const calls = fakeBackend({ overview: overview(), ui_ready: null, history: [], seen: [] });
    render(App);
    await waitFor(() => expect(commands(calls, 'ui_ready')).toHaveLength(1));

    await emitEvent('navigate', '/history');
    await waitFor(() => expect(commands(calls, 'ui_ready')).toHaveLength(2));
    expect(screen.getByTestId('nav-history').getAttribute('aria-current')).toBe('page');

    // An open at the screen already shown is an open too.
    await emitEvent('navigate', '/history');
    await waitFor(() => expect(commands(calls, 'ui_ready')).toHaveLength(3));
    // Pushed data is no open.
    await emitEvent('overview', overview());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(commands(calls, 'ui_ready')).toHaveLength(3);
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

  it('opened at #/request/:id/approve, shows the request and starts its approval once, then shows #/request/:id', async () => {
    window.location.hash = '#/request/AbC123xyz0/approve';
    const decision = deferred<unknown>();
    const calls = fakeBackend({
      overview: overview(),
      ui_ready: null,
      request: detail({ id: 'AbC123xyz0' }),
      decide: () => decision.promise,
      cancel_signing: () => {
        decision.reject({ code: 'cancelled', message: 'Cancelled.' });
        return null;
      },
    });
    render(App);

    expect((await screen.findByTestId('detail-title')).textContent).toBe('Deploy payments v42 to prod');
    await waitFor(() => expect(commands(calls, 'decide')).toEqual([{ id: 'AbC123xyz0', verdict: 'approve', reason: null }]));
    // The authenticator still asks.
    expect(await screen.findByTestId('signing-panel')).toBeTruthy();
    await waitFor(() => expect(window.location.hash).toBe('#/request/AbC123xyz0'));

    // Neither an overview push nor the replaced route starts another one.
    await emitEvent('overview', overview({ inbox: [summary(), summary({ id: 'two' })] }));
    await waitFor(() => expect(screen.getByTestId('nav-inbox').textContent).toContain('2'));
    expect(commands(calls, 'decide')).toHaveLength(1);
    expect(commands(calls, 'request')).toHaveLength(1);

    // Escape cancels the signing, nothing more: the request stays on screen.
    await fireEvent.keyDown(window, { key: 'Escape' });
    expect(commands(calls, 'cancel_signing')).toEqual([{}]);
    await waitFor(() => expect(screen.queryByTestId('signing-panel')).toBeNull());
    expect(window.location.hash).toBe('#/request/AbC123xyz0');
    expect(screen.getByTestId('detail-title')).toBeTruthy();
    await fireEvent.keyDown(window, { key: 'Escape' });
    expect(window.location.hash).toBe('#/request/AbC123xyz0');
    expect(commands(calls, 'decide')).toHaveLength(1);
  });

  it('approves on a "navigate" to the approve route of the request on screen', async () => {
    window.location.hash = '#/request/AbC123xyz0';
    const calls = fakeBackend({
      overview: overview(),
      ui_ready: null,
      request: detail({ id: 'AbC123xyz0' }),
      decide: { id: 'AbC123xyz0', verdict: 'approve', delivery: { outcome: 'delivered' }, message: '' },
    });
    render(App);
    await screen.findByTestId('detail-title');
    expect(commands(calls, 'decide')).toEqual([]);

    await emitEvent('navigate', '/request/AbC123xyz0/approve');
    await waitFor(() => expect(commands(calls, 'decide')).toEqual([{ id: 'AbC123xyz0', verdict: 'approve', reason: null }]));
    await waitFor(() => expect(window.location.hash).toBe('#/request/AbC123xyz0'));
    expect(await screen.findByTestId('outcome')).toBeTruthy();
    expect(commands(calls, 'request')).toHaveLength(1);
  });
});
