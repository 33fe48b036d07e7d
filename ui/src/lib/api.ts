// The boundary with the Rust side: the types, commands and events of
// /tmp/ui-contract.md (v1), mirrored one to one. Nothing else in the UI calls
// `invoke` or `listen` directly, so this file is the whole contract.
//
// Everything a command returns about a request (titles, requester, details,
// raw document) is untrusted data written by whoever started the workflow:
// render it as text only (see lib/text.ts and components/SafeText.svelte).

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

export type { UnlistenFn };

// ---------------------------------------------------------------- errors

export const ERROR_CODES = [
  'not_configured',
  'not_signed_in',
  'not_found',
  'invalid_input',
  'no_authenticator',
  'cancelled',
  'authenticator',
  'aws_unreachable',
  'aws_error',
  'task_gone',
  'keychain',
  'sign_in_failed',
  'refused',
  'busy',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** What every command rejects with. `message` is written for a person; never match on it. */
export interface AppError {
  code: ErrorCode;
  message: string;
}

export function isAppError(value: unknown): value is AppError {
  if (typeof value !== 'object' || value === null) return false;
  const { code, message } = value as Record<string, unknown>;
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code) && typeof message === 'string';
}

/**
 * Whatever a rejected `invoke` produced, as an AppError. Tauri itself rejects
 * with a plain string when a command is missing or its arguments do not
 * deserialise; those become `internal`.
 */
export function toAppError(value: unknown): AppError {
  if (isAppError(value)) return { code: value.code, message: value.message };
  if (typeof value === 'object' && value !== null) {
    // A code this UI does not know yet: keep the message, which is written for a person.
    const { message } = value as Record<string, unknown>;
    if (typeof message === 'string' && message !== '') return { code: 'internal', message };
  }
  if (typeof value === 'string' && value !== '') return { code: 'internal', message: value };
  if (value instanceof Error && value.message !== '') return { code: 'internal', message: value.message };
  return { code: 'internal', message: 'Something went wrong inside Tapprove.' };
}

// ---------------------------------------------------------------- types

export type Health = 'ok' | 'signed_out' | 'expiring' | 'offline' | 'not_configured' | 'error';

export interface SessionView {
  health: Health;
  approver: string | null;
  signInKind: 'sso' | 'oidc' | 'environment' | null;
  /** e.g. "role Approver in 123456789012", or the problem text */
  detail: string | null;
  /** RFC 3339 */
  expiresAt: string | null;
}

export interface RequestSummary {
  id: string;
  title: string;
  requestedBy: string;
  /** false: only the workflow claims the requester (shown as "not verified") */
  requesterVerified: boolean;
  approvers: string;
  quorum: number;
  /** RFC 3339 UTC */
  deadline: string;
  receivedAt: string;
  /** "activity:prod-approvers" | "queue:prod-approvers" */
  source: string;
  /** why the approver cannot decide it (they asked for it themselves); null otherwise */
  yours: string | null;
}

export interface Overview {
  session: SessionView;
  /** sorted by deadline, soonest first */
  inbox: RequestSummary[];
  pausedUntil: string | null;
  outboxPending: number;
  /** last polling problem, shown as a banner */
  problem: AppError | null;
}

export interface RequestDetail extends RequestSummary {
  execution: string;
  created: string;
  timeoutSeconds: number;
  /** base64url */
  requestSha256: string;
  /** arbitrary JSON, up to ~256 KiB */
  details: unknown;
  /** the request document, pretty JSON */
  raw: string;
  /** where it stands at its gate, "1 of sre ✓, 1 of security pending"; null when the gate says nothing */
  progress: string | null;
}

/** `unexpected`: "I did not expect this", a denial that needs no reason and alerts the admins. */
export type Verdict = 'approve' | 'deny' | 'unexpected';

export type Outcome =
  | { outcome: 'delivered' }
  | { outcome: 'closed'; reason: string }
  | { outcome: 'pending'; error: string };

export interface DecisionResult {
  id: string;
  verdict: Verdict;
  delivery: Outcome;
  message: string;
}

/** Emitted on event "signing" while `decide` or `enrol` runs. */
export type SigningPrompt =
  | { stage: 'touch_key'; authenticator: string }
  | { stage: 'select_key'; authenticator: string }
  | { stage: 'confirm_platform'; authenticator: string }
  | { stage: 'software_signing'; authenticator: string }
  | { stage: 'processing'; authenticator: string }
  | { stage: 'pin'; authenticator: string; attemptsLeft: number | null };

export interface HistoryEntry {
  requestId: string;
  title: string;
  verdict: Verdict;
  state: 'pending' | 'delivered' | 'closed';
  reason: string | null;
  attempts: number;
  lastError: string | null;
  created: string;
  updated: string;
}

/** A request the approver saw, and how it ended. */
export interface SeenView {
  id: string;
  title: string;
  /** who asked, as shown: "alice (not verified)" when only claimed */
  requester: string;
  execution: string;
  firstSeen: string;
  deadline: string;
  /** the approver asked for it themselves */
  own: boolean;
  myVerdict: 'approve' | 'deny' | null;
  myState: 'pending' | 'delivered' | 'closed' | null;
  /** null while open or not known yet */
  outcome: 'approved' | 'denied' | 'expired' | 'withdrawn' | 'failed' | null;
  /** "approved by bob at 2026-11-21T10:03:00Z" */
  outcomeText: string | null;
  closedAt: string | null;
}

export interface SourceView {
  name: string;
  kind: 'activity' | 'queue';
  target: string;
}

export interface SettingsView {
  configPath: string;
  rpId: string;
  sources: SourceView[];
  signIn: { kind: 'sso' | 'oidc'; where: string } | null;
  keyStore: 'keychain' | 'files';
  autostart: boolean;
  requireUserVerification: boolean;
  allowSoftwareAuthenticators: boolean;
  /** local times, `HH:MM` */
  quietHours: { start: string; end: string } | null;
  updates: { channel: 'stable' | 'beta' | 'off'; pin: string | null };
  /** where decisions are posted instead of Step Functions, when set */
  decisionEndpoint: string | null;
  /** the organisation's policy file, when one is installed */
  policyPath: string | null;
  /** setting keys the org policy fixes: show read-only */
  fixed: string[];
}

export type AuthenticatorKind = 'software' | 'security_key' | 'platform';

export interface AuthenticatorView {
  credentialId: string;
  label: string;
  kind: AuthenticatorKind;
  user: string;
  rpId: string;
  /** `local`: a software key on this machine, listed without the enrolment service. */
  status: 'active' | 'pending' | 'revoked' | 'local';
}

/** Emitted on event "sign_in" while `sign_in` runs. */
export type SignInPrompt =
  | { stage: 'browser'; url: string; opened: boolean }
  | { stage: 'device_code'; uri: string; completeUri: string | null; code: string }
  | { stage: 'waiting_for_other_process' };

// ---------------------------------------------------------------- commands

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toAppError(error);
  }
}

export const overview = (): Promise<Overview> => call('overview');

export const request = (id: string): Promise<RequestDetail> => call('request', { id });

/** A request that left the inbox and how it ended; null when it was never seen here. */
export const requestEnd = (id: string): Promise<SeenView | null> => call('request_end', { id });

/** The requests the approver saw, newest first. */
export const seen = (): Promise<SeenView[]> => call('seen');

export const decide = (id: string, verdict: Verdict, reason: string | null): Promise<DecisionResult> =>
  call('decide', { id, verdict, reason });

/** `null` cancels the PIN prompt. */
export const submitPin = (pin: string | null): Promise<void> => call('submit_pin', { pin });

export const cancelSigning = (): Promise<void> => call('cancel_signing');

/** Newest first. */
export const history = (): Promise<HistoryEntry[]> => call('history');

export const settings = (): Promise<SettingsView> => call('settings');

export const setAutostart = (enabled: boolean): Promise<void> => call('set_autostart', { enabled });

/** `minutes` 0 resumes. */
export const pauseNotifications = (minutes: number): Promise<Overview> => call('pause_notifications', { minutes });

export const signIn = (deviceCode: boolean): Promise<SessionView> => call('sign_in', { deviceCode });

export const signOut = (): Promise<SessionView> => call('sign_out');

export const authenticators = (): Promise<AuthenticatorView[]> => call('authenticators');

/** `kind` null: what this machine offers first. */
export const enrol = (label: string, kind: AuthenticatorKind | null): Promise<AuthenticatorView> =>
  call('enrol', { label, kind });

/** Renames (with `rename`) or revokes (`rename` null) one of your authenticators; answers the new list. */
export const changeAuthenticator = (credentialId: string, rename: string | null): Promise<AuthenticatorView[]> =>
  call('change_authenticator', { credentialId, rename });

/** Once, when the first screen has rendered its data (open-to-interactive benchmark). */
export const uiReady = (): Promise<void> => call('ui_ready');

// ---------------------------------------------------------------- events

export const onOverview = (handler: (overview: Overview) => void): Promise<UnlistenFn> =>
  listen<Overview>('overview', (event) => handler(event.payload));

/** A hash route to show, e.g. "/request/AbC123xyz0". */
export const onNavigate = (handler: (route: string) => void): Promise<UnlistenFn> =>
  listen<string>('navigate', (event) => handler(event.payload));

export const onSigning = (handler: (prompt: SigningPrompt) => void): Promise<UnlistenFn> =>
  listen<SigningPrompt>('signing', (event) => handler(event.payload));

export const onSignIn = (handler: (prompt: SignInPrompt) => void): Promise<UnlistenFn> =>
  listen<SignInPrompt>('sign_in', (event) => handler(event.payload));
