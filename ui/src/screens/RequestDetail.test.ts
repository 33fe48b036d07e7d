import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { signing } from '../lib/signing.svelte';
import { detail, overview } from '../test/fixtures';
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
    // Only the workflow names the requester: the screen says so.
    expect(screen.getByTestId('detail-requester-unverified').textContent).toBe('not verified');
    expect(screen.getByTestId('detail-hash').textContent?.trim()).toBe('n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg');
    expect(screen.getByTestId('details-tree').textContent).toContain('"payments"');
    expect(screen.queryByTestId('bidi-warning')).toBeNull();
  });

  it('marks only a requester that no AWS identity proved', async () => {
    await open(detail({ requesterVerified: true }));
    expect(screen.getByTestId('detail-requester').textContent).toBe('bob@example.com');
    expect(screen.queryByTestId('detail-requester-unverified')).toBeNull();
  });

  it('shows where the request stands at its gate, when the gate says', async () => {
    await open(detail({ progress: '1 of sre ✓, 1 of security pending' }));
    expect(screen.getByTestId('detail-progress').textContent).toBe('1 of sre ✓, 1 of security pending');
  });

  it('shows no progress row when the gate says nothing', async () => {
    await open();
    expect(screen.queryByTestId('detail-progress')).toBeNull();
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

  describe('at #/request/:id/approve', () => {
    it('starts the approval once, with reason null, once the request has loaded', async () => {
      window.location.hash = '#/request/AbC123xyz0/approve';
      const request = deferred<unknown>();
      const decision = deferred<unknown>();
      const calls = fakeBackend({ request: () => request.promise, decide: () => decision.promise });
      const view = render(RequestDetail, { id: 'AbC123xyz0', approve: true, overview: overview() });

      // Not before the request is on screen.
      await waitFor(() => expect(commands(calls, 'request')).toHaveLength(1));
      expect(commands(calls, 'decide')).toEqual([]);
      request.resolve(detail());
      await screen.findByTestId('detail-title');

      await waitFor(() => expect(commands(calls, 'decide')).toHaveLength(1));
      expect(commands(calls, 'decide')).toEqual([{ id: 'AbC123xyz0', verdict: 'approve', reason: null }]);
      expect(signing.action).toEqual({ kind: 'decide', id: 'AbC123xyz0', verdict: 'approve' });
      expect(screen.getByTestId<HTMLButtonElement>('approve').disabled).toBe(true);
      // The hash no longer asks for the approval.
      expect(window.location.hash).toBe('#/request/AbC123xyz0');

      // Not again: re-renders, a new overview, the end of the ceremony.
      await view.rerender({ id: 'AbC123xyz0', approve: true, overview: overview({ inbox: [] }) });
      await fireEvent.input(screen.getByTestId('reason'), { target: { value: 'typed later' } });
      decision.resolve(delivered);
      await waitFor(() => expect(signing.running).toBe(false));
      await view.rerender({ id: 'AbC123xyz0', approve: true, overview: overview() });
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(commands(calls, 'decide')).toHaveLength(1);
      expect(commands(calls, 'request')).toHaveLength(1);
    });

    it('starts it on an arrival at the approve route while the request is already shown, and once per arrival', async () => {
      window.location.hash = '#/request/AbC123xyz0';
      const calls = fakeBackend({ request: detail(), decide: delivered });
      const view = render(RequestDetail, { id: 'AbC123xyz0' });
      await screen.findByTestId('detail-title');
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(commands(calls, 'decide')).toEqual([]);

      // A notification's "Approve" for the request on screen.
      window.location.hash = '#/request/AbC123xyz0/approve';
      await view.rerender({ id: 'AbC123xyz0', approve: true });
      await waitFor(() => expect(commands(calls, 'decide')).toHaveLength(1));
      expect(window.location.hash).toBe('#/request/AbC123xyz0');
      await waitFor(() => expect(signing.running).toBe(false));
      signing.close();

      // The route's flag drops with the replaced hash; a second arrival approves again.
      await view.rerender({ id: 'AbC123xyz0', approve: false });
      window.location.hash = '#/request/AbC123xyz0/approve';
      await view.rerender({ id: 'AbC123xyz0', approve: true });
      await waitFor(() => expect(commands(calls, 'decide')).toHaveLength(2));
      expect(commands(calls, 'decide')[1]).toEqual({ id: 'AbC123xyz0', verdict: 'approve', reason: null });
      expect(commands(calls, 'request')).toHaveLength(1);
    });

    it('does not approve a request that failed to load', async () => {
      window.location.hash = '#/request/AbC123xyz0/approve';
      const calls = fakeBackend({
        request: () => {
          throw { code: 'not_found', message: 'No such request.' };
        },
        decide: delivered,
      });
      render(RequestDetail, { id: 'AbC123xyz0', approve: true });
      await screen.findByText(/no longer waiting for a decision/);
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(commands(calls, 'decide')).toEqual([]);
      expect(signing.action).toBeNull();
      expect(window.location.hash).toBe('#/request/AbC123xyz0');
    });

    it('does not approve when the screen was left before the request loaded', async () => {
      window.location.hash = '#/request/AbC123xyz0/approve';
      const request = deferred<unknown>();
      const calls = fakeBackend({ request: () => request.promise, decide: delivered });
      const view = render(RequestDetail, { id: 'AbC123xyz0', approve: true });
      await waitFor(() => expect(commands(calls, 'request')).toHaveLength(1));
      view.unmount();
      window.location.hash = '#/inbox';
      request.resolve(detail());
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(commands(calls, 'decide')).toEqual([]);
      expect(window.location.hash).toBe('#/inbox');
    });
  });

  it('does nothing on Escape: the reason stays, nothing is sent, the screen stays', async () => {
    window.location.hash = '#/request/AbC123xyz0';
    const calls = await open();
    const reason = screen.getByTestId<HTMLTextAreaElement>('reason');
    await fireEvent.input(reason, { target: { value: 'Checked the diff' } });
    reason.focus();
    await fireEvent.keyDown(reason, { key: 'Escape' });
    await fireEvent.keyDown(window, { key: 'Escape' });
    expect(reason.value).toBe('Checked the diff');
    expect(calls.map((call) => call.command)).toEqual(['request']);
    expect(window.location.hash).toBe('#/request/AbC123xyz0');
    expect(screen.getByTestId('detail-title')).toBeTruthy();
  });

  it('sends "I did not expect this" as its own verdict, with no reason needed', async () => {
    const calls = await open();
    await fireEvent.click(screen.getByTestId('unexpected'));
    await waitFor(() => expect(commands(calls, 'decide')).toHaveLength(1));
    expect(commands(calls, 'decide')[0]).toEqual({ id: 'AbC123xyz0', verdict: 'unexpected', reason: null });
  });

  it("offers no approval of the approver's own request, says why, and still lets them deny it", async () => {
    await open(detail({ yours: 'the workflow names you as this request\'s requester, so you cannot approve it' }));
    expect(screen.getByTestId('detail-yours').textContent).toContain('you cannot approve it');
    expect(screen.queryByTestId('approve')).toBeNull();
    expect(screen.getByTestId('deny')).toBeTruthy();
    expect(screen.getByTestId('unexpected')).toBeTruthy();
  });

  it('tells how a request that left the inbox ended', async () => {
    const calls = fakeBackend({
      request: () => {
        throw { code: 'not_found', message: 'No such request.' };
      },
      request_end: {
        id: 'AbC123xyz0',
        title: 'Deploy payments v42 to prod',
        requester: 'alice (not verified)',
        execution: 'arn:aws:states:eu-west-1:123456789012:execution:gate:run-1',
        firstSeen: '2026-11-21T10:00:00Z',
        deadline: '2026-11-21T11:00:00Z',
        own: false,
        myVerdict: null,
        myState: null,
        outcome: 'approved',
        outcomeText: 'approved by carol at 2026-11-21T10:03:00Z',
        closedAt: '2026-11-21T10:03:05Z',
      },
    });
    render(RequestDetail, { id: 'AbC123xyz0' });
    const outcome = await screen.findByTestId('detail-outcome');
    expect(outcome.textContent).toContain('approved by carol at 2026-11-21T10:03:00Z');
    expect(outcome.getAttribute('data-outcome')).toBe('approved');
    expect(commands(calls, 'request_end')).toEqual([{ id: 'AbC123xyz0' }]);
    expect(screen.queryByTestId('approve')).toBeNull();
  });
});
