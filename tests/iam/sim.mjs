// Principals, the stacks as deployed for the IAM suite, and one call to the
// simulator (@cloud-copilot/iam-simulate) that fails loudly on a request it
// refuses to evaluate.
//
// The simulator does not derive request context keys from the principal,
// so each principal carries the keys AWS documents for its kind
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html):
// a role session has aws:userid = <role id>:<session name>, aws:PrincipalArn
// = its role's ARN (with the role's path) and no aws:username; an IAM user
// has aws:userid = its unique id, aws:username = its name and
// aws:PrincipalArn = its ARN.

import { runSimulation } from '@cloud-copilot/iam-simulate'
import { Template, fillPolicy, readRepoFile } from './cfn.mjs'

export const ACCOUNT = '111122223333'
export const REGION = 'eu-west-1'
export const CORE_STACK = 'tapprove'

/** A session of `roleName` (under `path`) named `session`. */
export function roleSession(roleName, session, { path = '/', roleId = 'AROAEXAMPLEROLEID1234' } = {}) {
  return {
    principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleName}/${session}`,
    context: {
      'aws:userid': `${roleId}:${session}`,
      'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role${path}${roleName}`,
      'aws:PrincipalAccount': ACCOUNT,
      'aws:PrincipalType': 'AssumedRole'
    }
  }
}

/** An IAM Identity Center user's session of the approver permission set. */
export function approver(user) {
  return roleSession('AWSReservedSSO_Tapprove-Approver_abc123', user, {
    path: `/aws-reserved/sso.amazonaws.com/${REGION}/`,
    roleId: 'AROAAPPROVERSETROLE1'
  })
}

/** An IAM user. */
export function iamUser(name) {
  return {
    principal: `arn:aws:iam::${ACCOUNT}:user/${name}`,
    context: {
      'aws:userid': 'AIDAEXAMPLEUSERID123',
      'aws:username': name,
      'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:user/${name}`,
      'aws:PrincipalAccount': ACCOUNT,
      'aws:PrincipalType': 'User'
    }
  }
}

/** A federated user (sts:GetFederationToken) named `name`. */
export function federatedUser(name) {
  return {
    principal: `arn:aws:sts::${ACCOUNT}:federated-user/${name}`,
    context: {
      'aws:userid': `${ACCOUNT}:${name}`,
      'aws:PrincipalArn': `arn:aws:sts::${ACCOUNT}:federated-user/${name}`,
      'aws:PrincipalAccount': ACCOUNT,
      'aws:PrincipalType': 'FederatedUser'
    }
  }
}

/** The core stack as deployed with `parameters`. */
export function coreStack(parameters = {}) {
  return new Template('deploy/tapprove.yaml', {
    parameters: { RpId: 'approvals.example.com', VerifierCodeBucket: 'code', VerifierCodeKey: 'verifier.zip', ...parameters },
    account: ACCOUNT,
    region: REGION,
    stackName: CORE_STACK
  })
}

/** Group `group`'s stack next to `core`. */
export function groupStack(core, group, parameters = {}) {
  return new Template('deploy/group.yaml', {
    parameters: { CoreStack: CORE_STACK, Group: group, Source: 'queue', ...parameters },
    account: ACCOUNT,
    region: REGION,
    stackName: `${CORE_STACK}-${group}`,
    imports: core.exports()
  })
}

/** A managed policy resource's document, as an identity policy. */
export function managedPolicy(stack, logicalId) {
  const props = stack.properties(logicalId)
  return { name: props.ManagedPolicyName, policy: props.PolicyDocument }
}

/** The queue names `tapprove admin grant` gives (checked by the engine's unit tests). */
export const QUEUE_NAMES = JSON.parse(readRepoFile('tests/iam/fixtures/queue-names.json'))

export function queueArn(group, user) {
  const name = QUEUE_NAMES[`${group}/${user}`]
  if (!name) throw new Error(`no queue name for ${group}/${user} in tests/iam/fixtures/queue-names.json`)
  return `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`
}

/**
 * The access policy `grant` gives `user`'s queue of `group`:
 * deploy/approver-queue-policy.json, filled as tapprove_aws's
 * `approver_queue_policy` fills it.
 */
export function queuePolicy(group, user, { roles = ['AWSReservedSSO_*'], iamUsers = false } = {}) {
  const principals = roles.flatMap((role) => [
    `arn:aws:iam::${ACCOUNT}:role/${role}`,
    `arn:aws:iam::${ACCOUNT}:role/*/${role}`
  ])
  if (iamUsers) principals.push(`arn:aws:iam::${ACCOUNT}:user/${user}`)
  return fillPolicy('deploy/approver-queue-policy.json', {
    QueueArn: queueArn(group, user),
    TopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:${CORE_STACK}-${group}`,
    User: user,
    ApproverPrincipalArns: principals
  })
}

/**
 * The simulator's decision: "Allowed", "ExplicitlyDenied" or
 * "ImplicitlyDenied". Throws if the simulator refuses the request (an
 * unknown action, a resource the action does not take, a malformed policy),
 * so a typo never reads as a denial.
 */
export async function decide({ who, action, resource, identityPolicies = [], resourcePolicy, context = {} }) {
  const result = await runSimulation(
    {
      request: {
        principal: who.principal,
        action,
        resource: { resource, accountId: ACCOUNT },
        contextVariables: { ...who.context, ...context }
      },
      identityPolicies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy
    },
    {}
  )
  if (result.resultType === 'error') {
    throw new Error(`the simulator refused ${action} on ${resource}: ${JSON.stringify(result.errors)}`)
  }
  if (result.resultType !== 'single') throw new Error(`unexpected ${result.resultType} result for ${resource}`)
  return result.overallResult
}
