import { describe, expect, it } from 'vitest';
import { fakeBackend } from '../test/ipc';
import * as api from './api';

describe('toAppError', () => {
  it('keeps an AppError, turns anything else into internal with a readable message', () => {
    expect(api.toAppError({ code: 'busy', message: 'Another decision is being signed.' })).toEqual({
      code: 'busy',
      message: 'Another decision is being signed.',
    });
    expect(api.toAppError({ code: 'from_the_future', message: 'New problem.' })).toEqual({
      code: 'internal',
      message: 'New problem.',
    });
    expect(api.toAppError('command decide not found')).toEqual({ code: 'internal', message: 'command decide not found' });
    expect(api.toAppError(undefined).code).toBe('internal');
    expect(api.toAppError(undefined).message).not.toBe('');
  });
});

describe('commands', () => {
  it('send the contract names and camelCase arguments', async () => {
    const calls = fakeBackend({
      decide: { id: 'r1', verdict: 'deny', delivery: { outcome: 'delivered' }, message: 'Denied.' },
      submit_pin: null,
      cancel_signing: null,
      sign_in: { health: 'ok', approver: 'a', signInKind: 'sso', detail: null, expiresAt: null },
      pause_notifications: null,
      set_autostart: null,
      enrol: null,
      change_authenticator: [],
      request: null,
      ui_ready: null,
    });
    await api.decide('r1', 'deny', 'not now');
    await api.submitPin('1234');
    await api.submitPin(null);
    await api.cancelSigning();
    await api.signIn(true);
    await api.pauseNotifications(0);
    await api.setAutostart(true);
    await api.enrol('YubiKey', 'security_key');
    await api.changeAuthenticator('cred-1', null);
    await api.request('r1');
    await api.uiReady();
    expect(calls).toEqual([
      { command: 'decide', args: { id: 'r1', verdict: 'deny', reason: 'not now' } },
      { command: 'submit_pin', args: { pin: '1234' } },
      { command: 'submit_pin', args: { pin: null } },
      { command: 'cancel_signing', args: {} },
      { command: 'sign_in', args: { deviceCode: true } },
      { command: 'pause_notifications', args: { minutes: 0 } },
      { command: 'set_autostart', args: { enabled: true } },
      { command: 'enrol', args: { label: 'YubiKey', kind: 'security_key' } },
      { command: 'change_authenticator', args: { credentialId: 'cred-1', rename: null } },
      { command: 'request', args: { id: 'r1' } },
      { command: 'ui_ready', args: {} },
    ]);
  });

  it('reject with the AppError the command rejected with', async () => {
    fakeBackend({
      request: () => {
        throw { code: 'not_found', message: 'No such request.' };
      },
    });
    await expect(api.request('nope')).rejects.toEqual({ code: 'not_found', message: 'No such request.' });
  });
});
