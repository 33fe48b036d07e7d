import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SessionView, UnlistenFn } from '../lib/api';
import { listenForSignIn } from '../lib/signin.svelte';
import { session, settings } from '../test/fixtures';
import { commands, deferred, emitEvent, fakeBackend } from '../test/ipc';
import SignIn from './SignIn.svelte';

let unlisten: UnlistenFn | undefined;

describe('SignIn', () => {
  beforeEach(() => {
    unlisten = undefined;
  });

  afterEach(() => {
    unlisten?.();
  });

  it('signs in with a device code and shows the code and address from the "sign_in" event', async () => {
    const answer = deferred<SessionView>();
    const calls = fakeBackend({ settings: settings(), sign_in: () => answer.promise });
    unlisten = await listenForSignIn();
    render(SignIn, { session: session({ health: 'signed_out', approver: null }) });

    expect(screen.queryByTestId('session-identity')).toBeNull();
    await fireEvent.click(screen.getByTestId('sign-in-device'));
    expect(commands(calls, 'sign_in')).toEqual([{ deviceCode: true }]);

    await emitEvent('sign_in', {
      stage: 'device_code',
      uri: 'https://device.sso.eu-west-1.amazonaws.com/',
      completeUri: null,
      code: 'WDJB-MJHT',
    });
    await waitFor(() => expect(screen.getByTestId('device-code').textContent).toBe('WDJB-MJHT'));
    expect(document.body.textContent).toContain('https://device.sso.eu-west-1.amazonaws.com/');
    expect(screen.getByTestId<HTMLButtonElement>('sign-in-browser').disabled).toBe(true);

    answer.resolve(session());
    await waitFor(() => expect(screen.queryByTestId('device-code')).toBeNull());
  });

  it('shows who is signed in and signs out', async () => {
    const calls = fakeBackend({ settings: settings(), sign_out: session({ health: 'signed_out', approver: null }) });
    render(SignIn, { session: session() });
    expect(screen.getByTestId('session-identity').textContent).toContain('alice@example.com');
    expect(screen.queryByTestId('sign-in-browser')).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(commands(calls, 'sign_out')).toEqual([{}]);
  });

  it('shows why sign-in failed', async () => {
    fakeBackend({
      settings: settings(),
      sign_in: () => {
        throw { code: 'sign_in_failed', message: 'The device code expired: start again.' };
      },
    });
    render(SignIn, { session: session({ health: 'signed_out', approver: null }) });
    await fireEvent.click(screen.getByTestId('sign-in-browser'));
    expect(await screen.findByText('The device code expired: start again.')).toBeTruthy();
  });
});
