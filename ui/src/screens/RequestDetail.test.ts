import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { signing } from '../lib/signing.svelte';
import { detail } from '../test/fixtures';
import { commands, deferred, fakeBackend } from '../test/ipc';
import RequestDetail from './RequestDetail.svelte';

const delivered = { id: 'AbC123xyz0', verdict: 'approve', delivery: { outcome: 'delivered' }, message: 'Delivered.' };

async function open(request = detail(), extra: Record<string, unknown> = {}) {
  const calls = fakeBackend({ request, decide: delivered, ...extra });
  render(RequestDetail, { id: request.id });
  await screen.findByTestId('detail-title');
  return calls;
}

describe('RequestDetail', () => {
  afterEach(() => {
    signing.close();
  });

  it('shows what is being approved', async () => {
    const calls = await open();
    expect(commands(calls, 'request')).toEqual([{ id: 'AbC123xyz0' }]);
    expect(screen.getByTestId('detail-title').textContent).toBe('Deploy payments v42 to prod');
    expect(screen.getByTestId('detail-requester').textContent).toBe('bob@example.com');
    expect(screen.getByTestId('detail-hash').textContent?.trim()).toBe('n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg');
    expect(screen.getByTestId('details-tree').textContent).toContain('"payments"');
    expect(screen.queryByTestId('bidi-warning')).toBeNull();
  });

  it('keeps Deny disabled until a reason is written, then sends it', async () => {
    const calls = await open();
    const deny = screen.getByTestId<HTMLButtonElement>('deny');
    expect(deny.disabled).toBe(true);

    await fireEvent.input(screen.getByTestId('reason'), { target: { value: '   ' } });
    expect(deny.disabled).toBe(true);
    await fireEvent.click(deny);
    expect(commands(calls, 'decide')).toEqual([]);

    await fireEvent.input(screen.getByTestId('reason'), { target: { value: '  Not during the freeze ' } });
    expect(deny.disabled).toBe(false);
    await fireEvent.click(deny);
    expect(commands(calls, 'decide')).toEqual([{ id: 'AbC123xyz0', verdict: 'deny', reason: 'Not during the freeze' }]);
  });

  it('approves with reason null when none is written', async () => {
    const calls = await open();
    await fireEvent.click(screen.getByTestId('approve'));
    expect(commands(calls, 'decide')).toEqual([{ id: 'AbC123xyz0', verdict: 'approve', reason: null }]);
  });

  it('approves with the reason when one is written', async () => {
    const calls = await open();
    await fireEvent.input(screen.getByTestId('reason'), { target: { value: 'Checked the diff' } });
    await fireEvent.click(screen.getByTestId('approve'));
    expect(commands(calls, 'decide')).toEqual([{ id: 'AbC123xyz0', verdict: 'approve', reason: 'Checked the diff' }]);
  });

  it('disables both buttons while a decision is being signed', async () => {
    const pending = deferred<unknown>();
    await open(detail(), { decide: () => pending.promise });
    await fireEvent.click(screen.getByTestId('approve'));
    expect(screen.getByTestId<HTMLButtonElement>('approve').disabled).toBe(true);
    pending.resolve(delivered);
    await waitFor(() => expect(screen.getByTestId<HTMLButtonElement>('approve').disabled).toBe(false));
  });

  it('warns about and marks invisible or direction-changing characters anywhere in the request', async () => {
    await open(detail({ details: { note: 'refund \u202E001$' } }));
    expect(screen.getByTestId('bidi-warning').textContent).toContain(
      'This request contains invisible or direction-changing characters',
    );
    expect(screen.getByTestId('details-tree').textContent).toContain('refund ⟨U+202E⟩001$');
  });

  it('warns about a hidden character in the requester too', async () => {
    await open(detail({ requestedBy: 'admin\u200B@example.com' }));
    expect(screen.getByTestId('bidi-warning')).toBeTruthy();
    expect(screen.getByTestId('detail-requester').textContent).toBe('admin⟨U+200B⟩@example.com');
  });

  it('toggles between the tree and the raw document, as text', async () => {
    const raw = '{\n  "html": "<img src=x onerror=alert(1)>"\n}';
    await open(detail({ raw, details: { html: '<img src=x onerror=alert(1)>' } }));
    await fireEvent.click(screen.getByTestId('raw-toggle'));
    const view = screen.getByTestId('raw-view');
    expect(view.tagName).toBe('PRE');
    expect(view.textContent).toBe(raw);
    expect(document.body.querySelector('img')).toBeNull();
    expect(screen.queryByTestId('details-tree')).toBeNull();
    await fireEvent.click(screen.getByTestId('raw-toggle'));
    expect(screen.queryByTestId('raw-view')).toBeNull();
    expect(screen.getByTestId('details-tree')).toBeTruthy();
  });

  it('offers sign-in when the request cannot be read signed out', async () => {
    fakeBackend({
      request: () => {
        throw { code: 'not_signed_in', message: 'Sign in to read requests.' };
      },
    });
    render(RequestDetail, { id: 'x' });
    const link = await screen.findByRole('link', { name: 'Sign in' });
    expect(link.getAttribute('href')).toBe('#/sign-in');
    expect(document.body.textContent).toContain('Sign in to read requests.');
  });
});
