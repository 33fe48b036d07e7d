import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DecisionResult, UnlistenFn } from '../lib/api';
import { listenForSigning, signing } from '../lib/signing.svelte';
import { commands, deferred, emitEvent, fakeBackend, type Call } from '../test/ipc';
import SigningPanel from './SigningPanel.svelte';

let decision: ReturnType<typeof deferred<DecisionResult>>;
let calls: Call[];
let unlisten: UnlistenFn;

const stage = () => screen.getByTestId('signing-stage').textContent;

/** Renders the panel and starts a decision; `running` settles when `decide` does. */
async function startDecision(verdict: 'approve' | 'deny' = 'approve'): Promise<{ running: Promise<DecisionResult | null> }> {
  render(SigningPanel);
  const running = signing.decide('r1', verdict, null);
  await screen.findByTestId('signing-panel');
  expect(signing.running).toBe(true);
  return { running };
}

describe('SigningPanel', () => {
  beforeEach(async () => {
    decision = deferred<DecisionResult>();
    calls = fakeBackend({
      decide: () => decision.promise,
      submit_pin: null,
      cancel_signing: () => {
        decision.reject({ code: 'cancelled', message: 'Cancelled.' });
        return null;
      },
    });
    unlisten = await listenForSigning();
  });

  afterEach(async () => {
    unlisten();
    // Settle whatever a test left running, so the next test starts idle.
    decision.resolve({ id: 'r1', verdict: 'approve', delivery: { outcome: 'delivered' }, message: '' });
    await vi.waitFor(() => expect(signing.running).toBe(false));
    signing.close();
  });

  it('is not shown while nothing is being signed', () => {
    render(SigningPanel);
    expect(screen.queryByTestId('signing-panel')).toBeNull();
  });

  it('follows the authenticator prompts from the "signing" event', async () => {
    await startDecision();
    await emitEvent('signing', { stage: 'touch_key', authenticator: 'YubiKey 5C' });
    await waitFor(() => expect(stage()).toBe('Touch your security key'));
    await emitEvent('signing', { stage: 'select_key', authenticator: 'any' });
    await waitFor(() => expect(stage()).toBe('Touch the key you want to use'));
    await emitEvent('signing', { stage: 'confirm_platform', authenticator: 'Touch ID' });
    await waitFor(() => expect(stage()).toBe('Confirm with Touch ID / Windows Hello'));
    await emitEvent('signing', { stage: 'software_signing', authenticator: 'laptop key' });
    await waitFor(() => expect(stage()).toBe('Signing with the software key laptop key'));
    expect(screen.queryByTestId('pin-input')).toBeNull();
  });

  it('asks for the PIN on stage=pin, sends it with submit_pin and clears the field', async () => {
    await startDecision();
    await emitEvent('signing', { stage: 'pin', authenticator: 'YubiKey 5C', attemptsLeft: 3 });
    const input = await screen.findByTestId<HTMLInputElement>('pin-input');
    expect(input.type).toBe('password');
    expect(input.getAttribute('autocomplete')).toBe('off');
    expect(screen.getByTestId('signing-panel').textContent).toContain('3 attempts left');
    expect(screen.getByTestId<HTMLButtonElement>('pin-submit').disabled).toBe(true);

    await fireEvent.input(input, { target: { value: '123456' } });
    await fireEvent.click(screen.getByTestId('pin-submit'));

    expect(commands(calls, 'submit_pin')).toEqual([{ pin: '123456' }]);
    expect(input.value).toBe('');

    // A wrong PIN: the key asks again, with fewer attempts left.
    await emitEvent('signing', { stage: 'pin', authenticator: 'YubiKey 5C', attemptsLeft: 2 });
    await waitFor(() => expect(screen.getByTestId('signing-panel').textContent).toContain('2 attempts left'));
    expect(screen.getByTestId<HTMLInputElement>('pin-input').disabled).toBe(false);
  });

  it('cancels with cancel_signing, then closes without an outcome', async () => {
    const { running } = await startDecision();
    await fireEvent.click(screen.getByTestId('cancel-signing'));
    expect(commands(calls, 'cancel_signing')).toEqual([{}]);
    expect(await running).toBeNull();
    await waitFor(() => expect(screen.queryByTestId('signing-panel')).toBeNull());
  });

  it('cancels on Escape while signing', async () => {
    await startDecision();
    await fireEvent.keyDown(window, { key: 'Escape' });
    expect(commands(calls, 'cancel_signing')).toEqual([{}]);
  });

  it('leaves an Escape that ends an input method composition alone', async () => {
    await startDecision();
    await fireEvent.keyDown(window, { key: 'Escape', isComposing: true });
    expect(commands(calls, 'cancel_signing')).toEqual([]);
    expect(screen.getByTestId('signing-panel')).toBeTruthy();
  });

  it.each([
    [{ outcome: 'delivered' }, 'approve', 'delivered', 'Approved — the workflow continues'],
    [{ outcome: 'delivered' }, 'deny', 'delivered', 'Denied'],
    [{ outcome: 'closed', reason: 'already decided or expired' }, 'approve', 'closed', 'Not taken: the request is already decided or expired'],
    [{ outcome: 'pending', error: 'AWS cannot be reached' }, 'approve', 'pending', 'Saved, will be sent when AWS is reachable: AWS cannot be reached'],
  ] as const)('shows the outcome %o of %s', async (delivery, verdict, outcome, headline) => {
    const { running } = await startDecision(verdict);
    decision.resolve({ id: 'r1', verdict, delivery, message: '' });
    await running;
    const shown = await screen.findByTestId('outcome');
    expect(shown.dataset.outcome).toBe(outcome);
    expect(shown.textContent).toContain(headline);
    expect(screen.queryByTestId('cancel-signing')).toBeNull();

    // Escape now closes, and the inbox is shown next.
    await fireEvent.keyDown(window, { key: 'Escape' });
    expect(commands(calls, 'cancel_signing')).toEqual([]);
    await waitFor(() => expect(screen.queryByTestId('signing-panel')).toBeNull());
    expect(window.location.hash).toBe('#/inbox');
  });

  it('shows an error with its way out, and stays on the request when closed', async () => {
    window.location.hash = '#/request/r1';
    const { running } = await startDecision();
    decision.reject({ code: 'no_authenticator', message: 'No authenticator is registered for alice.' });
    await running;
    const shown = await screen.findByTestId('outcome');
    expect(shown.dataset.outcome).toBe('error');
    expect(shown.textContent).toContain('No authenticator is registered for alice.');
    expect(screen.getByRole('link', { name: 'Add an authenticator' }).getAttribute('href')).toBe('#/authenticators');
    await fireEvent.click(screen.getByTestId('outcome-close'));
    expect(screen.queryByTestId('signing-panel')).toBeNull();
    expect(window.location.hash).toBe('#/request/r1');
  });

  it('shows a cancellation the user did not ask for (e.g. a timeout) as an error', async () => {
    const { running } = await startDecision();
    decision.reject({ code: 'cancelled', message: 'The security key was not touched in time.' });
    await running;
    expect((await screen.findByTestId('outcome')).dataset.outcome).toBe('error');
  });
});
