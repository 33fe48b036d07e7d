// How a session's health reads to a person.

import type { SessionView } from './api';

export function healthLabel(session: SessionView): string {
  const who = session.approver ?? 'unknown approver';
  switch (session.health) {
    case 'ok':
      return `Signed in as ${who}`;
    case 'expiring':
      return `Signed in as ${who}; the session ends soon: sign in again to keep receiving requests`;
    case 'signed_out':
      return 'Signed out: sign in to receive requests';
    case 'offline':
      return 'Offline: AWS cannot be reached, requests will arrive when it can';
    case 'not_configured':
      return 'Not set up: no sign-in or source is configured';
    case 'error':
      return 'Session problem';
  }
}

/** Whether signing in again would help. */
export function needsSignIn(session: SessionView): boolean {
  return session.health === 'signed_out' || session.health === 'expiring';
}
