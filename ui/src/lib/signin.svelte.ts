// A sign-in (`sign_in`) in progress and its prompts from the "sign_in" event.
// Kept outside the sign-in screen so leaving the screen and coming back
// still shows the device code.

import * as api from './api';
import type { AppError, SignInPrompt, UnlistenFn } from './api';
import { setSession } from './store.svelte';

class SignInFlow {
  running = $state(false);
  signingOut = $state(false);
  prompt: SignInPrompt | null = $state(null);
  error: AppError | null = $state(null);

  async start(deviceCode: boolean): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.prompt = null;
    this.error = null;
    try {
      setSession(await api.signIn(deviceCode));
    } catch (error) {
      this.error = api.toAppError(error);
    } finally {
      this.running = false;
      this.prompt = null;
    }
  }

  async signOut(): Promise<void> {
    if (this.running || this.signingOut) return;
    this.signingOut = true;
    this.error = null;
    try {
      setSession(await api.signOut());
    } catch (error) {
      this.error = api.toAppError(error);
    } finally {
      this.signingOut = false;
    }
  }

  /** From the "sign_in" event; ignored when no sign-in runs. */
  prompted(prompt: SignInPrompt): void {
    if (this.running) this.prompt = prompt;
  }
}

export const signInFlow = new SignInFlow();

/** Feeds the "sign_in" event into `signInFlow`; the app calls it once at start. */
export function listenForSignIn(): Promise<UnlistenFn> {
  return api.onSignIn((prompt) => signInFlow.prompted(prompt));
}
