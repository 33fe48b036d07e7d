// A fake Rust side for component tests: the real lib/api.ts talks through
// Tauri's own IPC mock, so the command names and argument shapes are checked too.

import { mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import type { AppError } from '../lib/api';

type Invoke = (command: string, args?: unknown, options?: unknown) => Promise<unknown>;

export type Handler = (args: Record<string, unknown>) => unknown;

export interface Call {
  command: string;
  args: Record<string, unknown>;
}

/**
 * Answers each command with its handler (a value, or a function of the
 * arguments); an unknown command rejects. Events are mocked too, so
 * `emitEvent` reaches the app's `listen` handlers.
 */
export function fakeBackend(handlers: Record<string, unknown>): Call[] {
  const calls: Call[] = [];
  mockIPC(
    (command, payload) => {
      const args = (payload ?? {}) as Record<string, unknown>;
      if (!(command in handlers)) {
        const error: AppError = { code: 'internal', message: `no fake for ${command}` };
        throw error;
      }
      const handler = handlers[command];
      return typeof handler === 'function' ? (handler as Handler)(args) : handler;
    },
    { shouldMockEvents: true },
  );
  // Record every call, the mocked event plugin's ("plugin:event|listen") included.
  const internals = (window as unknown as { __TAURI_INTERNALS__: { invoke: Invoke } }).__TAURI_INTERNALS__;
  const mocked = internals.invoke;
  internals.invoke = (command, args, options) => {
    calls.push({ command, args: (args ?? {}) as Record<string, unknown> });
    return mocked(command, args, options);
  };
  return calls;
}

export const emitEvent = (event: string, payload: unknown): Promise<void> => emit(event, payload);

/** A promise and the functions that settle it, for commands that are still running. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (reason: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const commands = (calls: Call[], command: string): Record<string, unknown>[] =>
  calls.filter((call) => call.command === command).map((call) => call.args);
