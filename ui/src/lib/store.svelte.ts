// The app-wide state the Rust side pushes: the overview (inbox, session,
// pause, outbox, last polling problem). Held as raw state: an overview is
// replaced whole, never mutated, so no deep proxy is built over it.

import type { AppError, Overview, SessionView } from './api';

class AppState {
  overview = $state.raw<Overview | null>(null);
  loadError = $state.raw<AppError | null>(null);
}

export const app = new AppState();

export function setOverview(overview: Overview): void {
  app.overview = overview;
  app.loadError = null;
}

/** After sign-in or sign-out, before the next "overview" event arrives. */
export function setSession(session: SessionView): void {
  if (app.overview !== null) app.overview = { ...app.overview, session };
}
