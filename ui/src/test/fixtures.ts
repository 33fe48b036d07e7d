import type { Overview, RequestDetail, RequestSummary, SessionView, SettingsView } from '../lib/api';

export const NOW = Date.parse('2030-05-01T12:00:00Z');

export const at = (offsetMs: number): string => new Date(NOW + offsetMs).toISOString();

export function session(overrides: Partial<SessionView> = {}): SessionView {
  return {
    health: 'ok',
    approver: 'alice@example.com',
    signInKind: 'sso',
    detail: 'role Approver in 123456789012',
    expiresAt: at(8 * 3600_000),
    ...overrides,
  };
}

export function summary(overrides: Partial<RequestSummary> = {}): RequestSummary {
  return {
    id: 'AbC123xyz0',
    title: 'Deploy payments v42 to prod',
    requestedBy: 'bob@example.com',
    requesterVerified: false,
    approvers: 'prod-approvers',
    quorum: 1,
    deadline: at(14 * 60_000 + 30_000),
    receivedAt: at(-60_000),
    source: 'activity:prod-approvers',
    yours: null,
    ...overrides,
  };
}

export function overview(overrides: Partial<Overview> = {}): Overview {
  return {
    session: session(),
    inbox: [summary()],
    pausedUntil: null,
    outboxPending: 0,
    problem: null,
    ...overrides,
  };
}

export function detail(overrides: Partial<RequestDetail> = {}): RequestDetail {
  const details = overrides.details ?? { service: 'payments', version: 42, changes: ['schema', 'flags'] };
  return {
    ...summary(),
    execution: 'arn:aws:states:eu-west-1:123456789012:execution:deploy:run-1',
    created: at(-120_000),
    timeoutSeconds: 3600,
    requestSha256: 'n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg',
    details,
    raw: JSON.stringify({ details }, null, 2),
    progress: null,
    ...overrides,
  };
}

export function settings(overrides: Partial<SettingsView> = {}): SettingsView {
  return {
    configPath: '/home/alice/.config/tapprove/config.toml',
    rpId: 'tapprove.example.com',
    sources: [{ name: 'prod-approvers', kind: 'activity', target: 'arn:aws:states:eu-west-1:123456789012:activity:prod' }],
    signIn: { kind: 'sso', where: 'https://example.awsapps.com/start' },
    keyStore: 'keychain',
    autostart: false,
    requireUserVerification: true,
    allowSoftwareAuthenticators: false,
    quietHours: null,
    updates: { channel: 'stable', pin: null },
    decisionEndpoint: null,
    policyPath: null,
    fixed: [],
    ...overrides,
  };
}
