import { describe, expect, it } from 'vitest';
import { href, navigate, parseRoute, router } from './router.svelte';

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
    ['#/request/AbC123xyz0/approve', { name: 'request', id: 'AbC123xyz0', approve: true }],
    ['#/request/AbC123xyz0/approve/', { name: 'request', id: 'AbC123xyz0', approve: true }],
    ['#/request/a%2Fb/approve', { name: 'request', id: 'a/b', approve: true }],
    ['#/request//approve', { name: 'inbox' }],
    ['#/request/approve', { name: 'request', id: 'approve' }],
    ['#/request/%E0%A4%A/approve', { name: 'inbox' }],
    ['#/request/AbC123xyz0/deny', { name: 'inbox' }],
    ['#/request/AbC123xyz0/approve/extra', { name: 'inbox' }],
    ['#/inbox/approve', { name: 'inbox' }],
  ])('%s', (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
  });

  it('round-trips request ids through href', () => {
    for (const id of ['AbC123xyz0', 'a/b?c#d', 'ünï']) {
      expect(parseRoute(href({ name: 'request', id }))).toEqual({ name: 'request', id });
      expect(parseRoute(href({ name: 'request', id, approve: true }))).toEqual({ name: 'request', id, approve: true });
    }
  });

  it('tells the approve route from the plain one', () => {
    expect(parseRoute('#/request/AbC123xyz0')).not.toHaveProperty('approve');
    expect(href({ name: 'request', id: 'AbC123xyz0', approve: true })).toBe('#/request/AbC123xyz0/approve');
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

describe('router', () => {
  // hashchange is dispatched as a task after the hash is set.
  async function go(path: string): Promise<void> {
    navigate(path);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }

  it('follows hash changes', async () => {
    const stop = router.start();
    try {
      await go('/request/AbC123xyz0/approve');
      expect(router.route).toEqual({ name: 'request', id: 'AbC123xyz0', approve: true });
      await go('/request/AbC123xyz0');
      expect(router.route).toEqual({ name: 'request', id: 'AbC123xyz0' });
    } finally {
      stop();
    }
  });

  it('replaces the approve route by the plain one once it is handled, without a new history entry', async () => {
    const stop = router.start();
    try {
      await go('/inbox');
      const before = window.history.length;
      await go('/request/AbC123xyz0/approve');
      const entries = window.history.length;
      expect(entries).toBe(before + 1);

      router.approveHandled('AbC123xyz0');
      expect(window.location.hash).toBe('#/request/AbC123xyz0');
      expect(router.route).toEqual({ name: 'request', id: 'AbC123xyz0' });
      expect(window.history.length).toBe(entries);

      // Back leaves the request for where the window was before, not for the approve route.
      window.history.back();
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(window.location.hash).toBe('#/inbox');
      expect(router.route).toEqual({ name: 'inbox' });
    } finally {
      stop();
    }
  });

  it('leaves the hash alone when the window has moved on', async () => {
    const stop = router.start();
    try {
      await go('/request/AbC123xyz0/approve');
      await go('/history');
      router.approveHandled('AbC123xyz0');
      expect(window.location.hash).toBe('#/history');
      expect(router.route).toEqual({ name: 'history' });

      await go('/request/other/approve');
      router.approveHandled('AbC123xyz0');
      expect(window.location.hash).toBe('#/request/other/approve');
      expect(router.route).toEqual({ name: 'request', id: 'other', approve: true });
    } finally {
      stop();
    }
  });
});
