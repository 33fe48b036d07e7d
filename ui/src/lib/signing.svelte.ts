// A signing ceremony (`decide` or `enrol`) and what the signing panel shows
// about it: the authenticator's prompts from the "signing" event while it
// runs, then the outcome. One at a time: the Rust side answers `busy` to a
// second one, and the buttons that start one are disabled while one runs.

import * as api from './api';
import type {
  AppError,
  AuthenticatorKind,
  AuthenticatorView,
  DecisionResult,
  SigningPrompt,
  UnlistenFn,
  Verdict,
} from './api';
import { navigate } from './router.svelte';

export type SigningAction = { kind: 'decide'; id: string; verdict: Verdict } | { kind: 'enrol'; label: string };

export type SigningEnd = { kind: 'decided'; result: DecisionResult } | { kind: 'failed'; error: AppError };

class Signing {
  /** What runs or ran; null while the panel is closed. */
  action: SigningAction | null = $state(null);
  /** Whether `decide`/`enrol` has not settled yet. */
  running = $state(false);
  /** The latest prompt of the running ceremony. */
  prompt: SigningPrompt | null = $state(null);
  /** A PIN was sent and no new prompt came since. */
  pinSent = $state(false);
  /** The last PIN could not be handed over. */
  pinError: string | null = $state(null);
  /** The user asked to cancel. */
  cancelling = $state(false);
  /** How it ended, once it has. */
  end: SigningEnd | null = $state(null);

  #begin(action: SigningAction): void {
    this.#set(action);
  }

  #reset(): void {
    this.#set(null);
  }

  /** A fresh state: running `action`, or idle when it is null. */
  #set(action: SigningAction | null): void {
    this.action = action;
    this.running = action !== null;
    this.prompt = null;
    this.pinSent = false;
    this.pinError = null;
    this.cancelling = false;
    this.end = null;
  }

  /** A failure the user asked for (Cancel) closes the panel; any other is shown. */
  #failed(error: unknown): void {
    const appError = api.toAppError(error);
    if (appError.code === 'cancelled' && this.cancelling) this.#reset();
    else this.end = { kind: 'failed', error: appError };
  }

  /** Signs and sends a decision; the outcome stays on the panel until closed. */
  async decide(id: string, verdict: Verdict, reason: string | null): Promise<DecisionResult | null> {
    return this.#run({ kind: 'decide', id, verdict }, () => api.decide(id, verdict, reason), (result) => {
      this.end = { kind: 'decided', result };
    });
  }

  /** Registers an authenticator; on success the panel closes by itself. */
  async enrol(label: string, kind: AuthenticatorKind | null = null): Promise<AuthenticatorView | null> {
    return this.#run({ kind: 'enrol', label }, () => api.enrol(label, kind), () => this.#reset());
  }

  /** Runs one signing at a time: `call`, then `done` with its result, or the failure shown. */
  async #run<T>(action: SigningAction, call: () => Promise<T>, done: (result: T) => void): Promise<T | null> {
    if (this.running) return null;
    this.#begin(action);
    try {
      const result = await call();
      done(result);
      return result;
    } catch (error) {
      this.#failed(error);
      return null;
    } finally {
      this.running = false;
      this.prompt = null;
    }
  }

  /** From the "signing" event; ignored when nothing runs (a late event). */
  prompted(prompt: SigningPrompt): void {
    if (!this.running) return;
    this.prompt = prompt;
    this.pinSent = false;
  }

  async submitPin(pin: string): Promise<void> {
    if (!this.running) return;
    this.pinSent = true;
    this.pinError = null;
    try {
      await api.submitPin(pin);
    } catch (error) {
      this.pinSent = false;
      this.pinError = api.toAppError(error).message;
    }
  }

  /** Cancel while running (the ceremony then ends with `cancelled`); close otherwise. */
  async cancel(): Promise<void> {
    if (!this.running) {
      this.close();
      return;
    }
    this.cancelling = true;
    try {
      await api.cancelSigning();
    } catch (error) {
      this.cancelling = false;
      this.pinError = api.toAppError(error).message;
    }
  }

  /**
   * Closes the finished panel. A decision that was delivered, not taken or
   * saved for later has left the inbox, so the inbox is shown next; after a
   * failure the request stays on screen to try again.
   */
  close(): void {
    if (this.running) return;
    const end = this.end;
    this.#reset();
    if (end?.kind === 'decided') navigate('/inbox');
  }
}

export const signing = new Signing();

/** Feeds the "signing" event into `signing`; the app calls it once at start. */
export function listenForSigning(): Promise<UnlistenFn> {
  return api.onSigning((prompt) => signing.prompted(prompt));
}
