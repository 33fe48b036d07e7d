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
    expect(commands(calls, 'enrol')).toEqual([{ label: 'YubiKey' }]);
    await waitFor(() => expect(screen.getAllByTestId('authenticator-item')).toHaveLength(2));
  });
});
