import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import JsonTree from './JsonTree.svelte';

/** The rows directly under the root: its children, open or not. */
const rootRows = (container: HTMLElement) => container.querySelectorAll(':scope > ul > li > ul > li');

describe('JsonTree', () => {
  it('renders markup in keys and values as text, creating no element from it', () => {
    const payload = '<script>window.pwned = true</script><img src=x onerror="window.pwned = true">';
    const { container } = render(JsonTree, { value: { [payload]: payload, nested: [payload] } });
    expect(container.querySelector('script')).toBeNull();
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('[onerror]')).toBeNull();
    expect(container.textContent).toContain(payload);
    expect((window as unknown as { pwned?: boolean }).pwned).toBeUndefined();
  });

  it('renders a 200 KiB object a page at a time, and the next page on "Show 100 more"', async () => {
    const value: Record<string, string> = {};
    for (let i = 0; i < 2500; i++) value[`key-${String(i).padStart(4, '0')}`] = 'x'.repeat(80);
    expect(JSON.stringify(value).length).toBeGreaterThan(200 * 1024);

    const started = performance.now();
    const { container } = render(JsonTree, { value });
    const elapsed = performance.now() - started;

    expect(rootRows(container)).toHaveLength(100);
    expect(container.textContent).toContain('key-0099');
    expect(container.textContent).not.toContain('key-0100');
    expect(container.textContent).toContain('{2,500 keys}');
    expect(container.textContent).toContain('2,400 not shown');
    // Generous for a slow CI machine; a full render of 2,500 rows would not show a page only.
    expect(elapsed).toBeLessThan(3000);

    await fireEvent.click(screen.getByRole('button', { name: 'Show 100 more' }));
    expect(rootRows(container)).toHaveLength(200);
    expect(container.textContent).toContain('key-0199');
    expect(container.textContent).toContain('2,300 not shown');
  });

  it('keeps deeper levels collapsed and renders children only when opened', async () => {
    const value = { config: { limits: { cpu: 'two-cores-exactly' } } };
    const { container } = render(JsonTree, { value });
    // Root and the small object right under it are open; the level below is not.
    const limits = screen.getByRole('button', { name: /limits/ });
    expect(limits.getAttribute('aria-expanded')).toBe('false');
    expect(container.textContent).not.toContain('two-cores-exactly');

    await fireEvent.click(limits);
    expect(limits.getAttribute('aria-expanded')).toBe('true');
    expect(container.textContent).toContain('"two-cores-exactly"');

    await fireEvent.click(limits);
    expect(container.textContent).not.toContain('two-cores-exactly');
  });

  it('opens containers under the root only while they fit the row budget', () => {
    const big = Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `item-${i}`, tag: 'a' }));
    const { container } = render(JsonTree, { value: big });
    const toggles = [...container.querySelectorAll<HTMLButtonElement>(':scope > ul > li > ul > li > button')];
    expect(toggles).toHaveLength(100);
    const open = toggles.filter((button) => button.getAttribute('aria-expanded') === 'true').length;
    // Each item holds 3 rows: 200 / 3 of them open, the rest collapsed.
    expect(open).toBe(66);
    expect(container.textContent).toContain('item-65');
    expect(container.textContent).not.toContain('item-66');
  });

  it('shows invisible and direction-changing characters as markers', () => {
    const { container } = render(JsonTree, { value: { ['amount\u200B']: 'pay \u202E0001\u202C EUR' } });
    const markers = [...container.querySelectorAll('.control')].map((marker) => marker.textContent);
    expect(markers).toEqual(['⟨U+200B⟩', '⟨U+202E⟩', '⟨U+202C⟩']);
    expect(container.textContent).not.toContain('\u202E');
    expect(container.textContent).not.toContain('\u200B');
  });

  it('shows the start of a very long string and the rest on request', async () => {
    const long = 'a'.repeat(1999) + 'b' + 'c'.repeat(10_000);
    const { container } = render(JsonTree, { value: { long } });
    expect(container.textContent).toContain('a'.repeat(1999) + 'b"');
    expect(container.textContent).not.toContain('bc');
    await fireEvent.click(screen.getByRole('button', { name: 'Show all 12,000 characters' }));
    expect(container.textContent).toContain(long);
  });

  it('renders keys that name Object.prototype members as ordinary keys', () => {
    const value = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": "c", "toString": 1}') as unknown;
    const { container } = render(JsonTree, { value });
    const text = container.textContent ?? '';
    expect(text).toContain('{3 keys}');
    expect(text).toContain('__proto__: {1 key}');
    expect(text).toContain('constructor: "c"');
    expect(text).toContain('toString: 1');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('renders scalars and empty containers', () => {
    const { container } = render(JsonTree, { value: { n: 1.5, t: true, z: null, e: [], o: {} } });
    const text = container.textContent ?? '';
    for (const part of ['n: 1.5', 't: true', 'z: null', 'e: []', 'o: {}']) expect(text).toContain(part);
  });
});
