import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { settings } from '../test/fixtures';
import { commands, fakeBackend } from '../test/ipc';
import Settings from './Settings.svelte';

const row = (key: string) => {
  const found = screen.getAllByTestId('setting-row').find((element) => element.dataset.key === key);
  if (found === undefined) throw new Error(`no setting row ${key}`);
  return found;
};
const autostart = () => row('autostart').querySelector<HTMLInputElement>('input[type="checkbox"]');

describe('Settings', () => {
  it('shows every setting, with the ones the organisation fixes read-only and locked', async () => {
    fakeBackend({
      settings: settings({
        fixed: ['rp_id', 'sources', 'notifications', 'updates', 'delivery', 'autostart'],
        quietHours: { start: '22:00', end: '07:00' },
        updates: { channel: 'stable', pin: '0.3.1' },
        decisionEndpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com',
        policyPath: '/etc/tapprove/policy.toml',
      }),
    });
    render(Settings);
    await screen.findAllByTestId('setting-row');

    expect(screen.getAllByTestId('setting-row').map((element) => [element.dataset.key, element.dataset.fixed])).toEqual([
      ['config_path', 'false'],
      ['rp_id', 'true'],
      ['sources', 'true'],
      ['sign_in', 'false'],
      ['require_user_verification', 'false'],
      ['allow_software_authenticators', 'false'],
      ['key_store', 'false'],
      ['notifications', 'true'],
      ['updates', 'true'],
      ['delivery', 'true'],
      ['autostart', 'true'],
    ]);
    expect(row('notifications').textContent).toContain('No notifications from 22:00 to 07:00');
    expect(row('updates').textContent).toContain('only version 0.3.1');
    expect(row('delivery').textContent).toContain(
      'Through the decision endpoint https://abc123.execute-api.eu-west-1.amazonaws.com',
    );
    expect(screen.getByTestId('policy-path').textContent).toContain('/etc/tapprove/policy.toml');
    expect(row('rp_id').textContent).toContain('set by your organisation');
    expect(row('rp_id').textContent).toContain('tapprove.example.com');
    expect(row('sign_in').textContent).not.toContain('set by your organisation');
    expect(autostart()?.disabled).toBe(true);
  });

  it('accepts camelCase keys in `fixed` too and lists fixed keys it does not show', async () => {
    fakeBackend({ settings: settings({ fixed: ['rpId', 'signIn', 'user_verification'] }) });
    render(Settings);
    await screen.findAllByTestId('setting-row');
    expect(row('rp_id').dataset.fixed).toBe('true');
    expect(row('sign_in').dataset.fixed).toBe('true');
    expect(row('autostart').dataset.fixed).toBe('false');
    expect(document.body.textContent).toContain('Also set by your organisation: user_verification.');
  });

  it('turns autostart on with set_autostart when the organisation leaves it free', async () => {
    const calls = fakeBackend({ settings: settings({ autostart: false }), set_autostart: null });
    render(Settings);
    await screen.findAllByTestId('setting-row');
    const toggle = autostart();
    expect(toggle?.disabled).toBe(false);
    expect(toggle?.checked).toBe(false);
    await fireEvent.click(toggle as HTMLInputElement);
    expect(commands(calls, 'set_autostart')).toEqual([{ enabled: true }]);
    expect(toggle?.checked).toBe(true);
  });

  it('puts the toggle back and says why when set_autostart fails', async () => {
    fakeBackend({
      settings: settings({ autostart: false }),
      set_autostart: () => {
        throw { code: 'internal', message: 'Could not write the autostart entry.' };
      },
    });
    render(Settings);
    await screen.findAllByTestId('setting-row');
    await fireEvent.click(autostart() as HTMLInputElement);
    await screen.findByText('Could not write the autostart entry.');
    expect(autostart()?.checked).toBe(false);
  });
});
