import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import type { AuthenticatorView } from '../lib/api';
import { commands, fakeBackend } from '../test/ipc';
import Authenticators from './Authenticators.svelte';

const software: AuthenticatorView = {
  credentialId: 'cred-1',
  label: 'laptop',
  kind: 'software',
  user: 'alice@example.com',
  rpId: 'tapprove.example.com',
  status: 'active',
};
const yubikey: AuthenticatorView = { ...software, credentialId: 'cred-2', label: 'YubiKey', kind: 'security_key' };

describe('Authenticators', () => {
  it('lists authenticators and names the software kind plainly', async () => {
    fakeBackend({ authenticators: [software] });
    render(Authenticators);
    const item = await screen.findByTestId('authenticator-item');
    expect(item.textContent).toContain('laptop');
    expect(item.textContent).toContain('Software key (stored in your OS keychain)');
  });

  it('enrols with the label typed, then shows the new list', async () => {
    let list = [software];
    const calls = fakeBackend({
      authenticators: () => list,
      enrol: () => {
        list = [software, yubikey];
        return yubikey;
      },
    });
    render(Authenticators);
    await screen.findByTestId('authenticator-item');
    const submit = screen.getByTestId<HTMLButtonElement>('enrol-submit');
    expect(submit.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId('enrol-label'), { target: { value: ' YubiKey ' } });
    await fireEvent.click(submit);
    expect(commands(calls, 'enrol')).toEqual([{ label: 'YubiKey', kind: null }]);
    await waitFor(() => expect(screen.getAllByTestId('authenticator-item')).toHaveLength(2));
  });

  it('enrols the kind chosen', async () => {
    const calls = fakeBackend({ authenticators: [], enrol: () => yubikey });
    render(Authenticators);
    await fireEvent.change(screen.getByTestId('enrol-kind'), { target: { value: 'security_key' } });
    await fireEvent.input(screen.getByTestId('enrol-label'), { target: { value: 'YubiKey' } });
    await fireEvent.click(screen.getByTestId('enrol-submit'));
    expect(commands(calls, 'enrol')).toEqual([{ label: 'YubiKey', kind: 'security_key' }]);
  });

  it('revokes only after a second click, and shows the list the service answers', async () => {
    const calls = fakeBackend({
      authenticators: [software],
      change_authenticator: () => [{ ...software, status: 'revoked' }],
    });
    render(Authenticators);
    await screen.findByTestId('authenticator-item');
    await fireEvent.click(screen.getByTestId('revoke'));
    expect(commands(calls, 'change_authenticator')).toEqual([]);
    expect(screen.getByTestId('revoke').textContent).toContain('never signs again');
    await fireEvent.click(screen.getByTestId('revoke'));
    expect(commands(calls, 'change_authenticator')).toEqual([{ credentialId: 'cred-1', rename: null }]);
    await waitFor(() => expect(screen.getByTestId('authenticator-status').textContent).toBe('Revoked'));
    expect(screen.queryByTestId('revoke')).toBeNull();
  });

  it('renames with the label typed', async () => {
    const calls = fakeBackend({
      authenticators: [software],
      change_authenticator: () => [{ ...software, label: 'old laptop' }],
    });
    render(Authenticators);
    await screen.findByTestId('authenticator-item');
    await fireEvent.click(screen.getByTestId('rename'));
    await fireEvent.input(screen.getByTestId('rename-label'), { target: { value: ' old laptop ' } });
    await fireEvent.click(screen.getByTestId('rename-save'));
    expect(commands(calls, 'change_authenticator')).toEqual([{ credentialId: 'cred-1', rename: 'old laptop' }]);
    await waitFor(() => expect(screen.getByTestId('authenticator-item').textContent).toContain('old laptop'));
  });
});
