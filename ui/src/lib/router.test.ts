import { describe, expect, it } from 'vitest';
import { href, navigate, parseRoute } from './router.svelte';

describe('parseRoute', () => {
  it.each([
    ['', { name: 'inbox' }],
    ['#/inbox', { name: 'inbox' }],
    ['#/history', { name: 'history' }],
    ['#/settings', { name: 'settings' }],
    ['#/authenticators', { name: 'authenticators' }],
    ['#/sign-in', { name: 'sign-in' }],
    ['#/request/AbC123xyz0', { name: 'request', id: 'AbC123xyz0' }],
    ['#/request/a%2Fb', { name: 'request', id: 'a/b' }],
    ['#/request/', { name: 'inbox' }],
    ['#/request/a/b', { name: 'inbox' }],
    ['#/request/%E0%A4%A', { name: 'inbox' }],
    ['#/nowhere', { name: 'inbox' }],
    ['#/history/extra', { name: 'inbox' }],
  ])('%s', (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
  });

  it('round-trips request ids through href', () => {
    for (const id of ['AbC123xyz0', 'a/b?c#d', 'ünï']) {
      expect(parseRoute(href({ name: 'request', id }))).toEqual({ name: 'request', id });
    }
  });
});

describe('navigate', () => {
  it('sets the hash from a "navigate" event path, with or without the leading slash or hash', () => {
    navigate('/request/AbC123xyz0');
    expect(window.location.hash).toBe('#/request/AbC123xyz0');
    navigate('history');
    expect(window.location.hash).toBe('#/history');
    navigate('#/settings');
    expect(window.location.hash).toBe('#/settings');
  });
});
