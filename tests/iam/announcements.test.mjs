// Announcements (Announcements=Enabled): only the verifier publishes to the
// core stack's topic, and to no other; approvers, admins and the gates do
// not; admins subscribe. A group stack's rule hands its gate's stopped
// executions to the verifier, which alone EventBridge may invoke for it.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ACCOUNT, REGION, approver, coreStack, decide, groupStack, managedPolicy, roleSession } from './sim.mjs'

const enabled = coreStack({ Announcements: 'Enabled' })
const disabled = coreStack()
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:tapprove_announcements`
const VERIFIER = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:tapprove-verifier`
const GATE = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:tapprove-prod-gate`
const verifier = roleSession('tapprove-VerifierRole-ABCDEF123456', 'tapprove-verifier', { roleId: 'AROAVERIFIERROLE1234' })
const carol = roleSession('AWSReservedSSO_Tapprove-Admin_def456', 'carol', {
  path: `/aws-reserved/sso.amazonaws.com/${REGION}/`,
  roleId: 'AROAADMINSETROLE1234'
})
const everything = { name: 'AdministratorAccess', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }

/** The verifier role's inline policy, as an identity policy. */
function inline(stack) {
  const p = stack.properties('VerifierRole').Policies[0]
  return { name: p.PolicyName, policy: p.PolicyDocument }
}

/** A role's inline policy of a group stack, as an identity policy. */
function gateRole(group) {
  const p = group.properties('GateRole').Policies[0]
  return { name: p.PolicyName, policy: p.PolicyDocument }
}

const topicPolicy = () => enabled.properties('AnnouncementTopicPolicy').PolicyDocument

/** `who` publishing to `resource`, by default the topic with its policy. */
function publish(who, identityPolicies, { resource = TOPIC, topicPolicyToo = true } = {}) {
  return decide({ who, action: 'sns:Publish', resource, identityPolicies, resourcePolicy: topicPolicyToo ? topicPolicy() : undefined })
}

describe('the announcement topic', () => {
  it('is the one the verifier is told to publish to', () => {
    assert.equal(enabled.properties('AnnouncementTopic').TopicName, 'tapprove_announcements')
    assert.deepEqual(enabled.properties('AnnouncementTopicPolicy').Topics, [TOPIC])
    const settings = enabled.properties('VerifierFunction').Environment.Variables.TAPPROVE_CONFIG_TOML
    assert.match(settings, new RegExp(`\\n\\[announcements\\]\\ntopic_arn = "${TOPIC}"\\n`))
    assert.equal(enabled.exports()['tapprove:announcements'], TOPIC)
  })

  it('the verifier publishes to it', async () => {
    assert.equal(await publish(verifier, [inline(enabled)]), 'Allowed')
  })

  it('the verifier publishes to no other topic', async () => {
    for (const other of [
      `arn:aws:sns:${REGION}:${ACCOUNT}:tapprove-prod`,
      `arn:aws:sns:${REGION}:${ACCOUNT}:tapprove-announcements`,
      `arn:aws:sns:${REGION}:${ACCOUNT}:payments_announcements`,
      `arn:aws:sns:us-east-1:${ACCOUNT}:tapprove_announcements`
    ]) {
      assert.equal(await publish(verifier, [inline(enabled)], { resource: other, topicPolicyToo: false }), 'ImplicitlyDenied', other)
    }
  })

  it('approvers do not publish to it', async () => {
    const group = groupStack(enabled, 'prod', { Announcements: 'Enabled' })
    const policies = [managedPolicy(enabled, 'ApproverBasePolicy'), managedPolicy(group, 'ApproverPolicy')]
    const bob = approver('bob')
    assert.equal(await publish(bob, policies, { topicPolicyToo: false }), 'ImplicitlyDenied', 'by their own policies')
    assert.equal(await publish(bob, policies), 'ExplicitlyDenied', 'with the topic policy')
  })

  it('nobody else publishes to it, an administrator or a role session named like the verifier included', async () => {
    const admin = managedPolicy(enabled, 'AdminPolicy')
    assert.equal(await publish(carol, [admin], { topicPolicyToo: false }), 'ImplicitlyDenied')
    assert.equal(await publish(carol, [admin, everything]), 'ExplicitlyDenied')
    const lookalike = roleSession('ci-deploy', 'tapprove-verifier', { roleId: 'AROACIDEPLOYROLE1234' })
    assert.equal(await publish(lookalike, [everything]), 'ExplicitlyDenied')
    // The gates publish to their group's topic only.
    const gate = roleSession('tapprove-prod-GateRole-ABCDEF123456', 'gate', { roleId: 'AROAGATEROLEEXAMPLE1' })
    assert.equal(await publish(gate, [gateRole(groupStack(enabled, 'prod', { Announcements: 'Enabled' }))]), 'ExplicitlyDenied')
  })

  it('admins subscribe to it; approvers do not', async () => {
    const admin = managedPolicy(enabled, 'AdminPolicy')
    for (const action of ['sns:Subscribe', 'sns:Unsubscribe', 'sns:ListSubscriptionsByTopic']) {
      assert.equal(await decide({ who: carol, action, resource: TOPIC, identityPolicies: [admin], resourcePolicy: topicPolicy() }), 'Allowed', action)
    }
    const group = groupStack(enabled, 'prod', { Announcements: 'Enabled' })
    const policies = [managedPolicy(enabled, 'ApproverBasePolicy'), managedPolicy(group, 'ApproverPolicy')]
    assert.equal(
      await decide({ who: approver('bob'), action: 'sns:Subscribe', resource: TOPIC, identityPolicies: policies, resourcePolicy: topicPolicy() }),
      'ImplicitlyDenied'
    )
  })

  it('the verifier reads back this stack\'s gate executions, to confirm a withdrawal, and nothing more', async () => {
    const describe = (stack, resource, action = 'states:DescribeExecution') =>
      decide({ who: verifier, action, resource, identityPolicies: [inline(stack)] })
    const execution = `arn:aws:states:${REGION}:${ACCOUNT}:execution:tapprove-prod-gate:req-1`
    assert.equal(await describe(enabled, execution), 'Allowed')
    assert.equal(await describe(enabled, `arn:aws:states:${REGION}:${ACCOUNT}:execution:payments-release:run-1`), 'ImplicitlyDenied')
    assert.equal(await describe(enabled, execution, 'states:GetExecutionHistory'), 'ImplicitlyDenied')
    assert.equal(await describe(disabled, execution), 'ImplicitlyDenied', 'without announcements (or the decision endpoint)')
  })
})

describe('without announcements', () => {
  it('there is no topic, and the verifier is told of none', () => {
    for (const id of ['AnnouncementTopic', 'AnnouncementTopicPolicy']) assert.equal(disabled.exists(id), false, id)
    assert.doesNotMatch(disabled.properties('VerifierFunction').Environment.Variables.TAPPROVE_CONFIG_TOML, /announcements/)
    assert.equal('tapprove:announcements' in disabled.exports(), false)
  })

  it('the verifier has no sns:Publish at all', async () => {
    const actions = inline(disabled).policy.Statement.flatMap((s) => [s.Action].flat())
    assert.equal(actions.some((a) => a.toLowerCase().startsWith('sns:')), false, actions.join(', '))
    assert.equal(await publish(verifier, [inline(disabled)], { topicPolicyToo: false }), 'ImplicitlyDenied')
  })

  it('admins get no subscription rights beyond the group topics', () => {
    const sids = managedPolicy(disabled, 'AdminPolicy').policy.Statement.map((s) => s.Sid)
    assert.equal(sids.includes('AnnouncementSubscriptions'), false)
    assert.equal(managedPolicy(enabled, 'AdminPolicy').policy.Statement.some((s) => s.Sid === 'AnnouncementSubscriptions'), true)
  })
})

describe("a group's withdrawals", () => {
  const group = groupStack(enabled, 'prod', { Announcements: 'Enabled' })
  const RULE = `arn:aws:events:${REGION}:${ACCOUNT}:rule/tapprove-prod-WithdrawalRule-ABCDEF123456`

  it("sends Step Functions' event of its gate's stopped executions to the verifier", () => {
    const rule = group.properties('WithdrawalRule')
    assert.deepEqual(rule.EventPattern, {
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: ['ABORTED'], stateMachineArn: [GATE] }
    })
    assert.deepEqual(rule.Targets, [{ Id: 'verifier', Arn: VERIFIER }])
    assert.equal(rule.EventBusName, undefined, 'the default bus, where Step Functions sends its events')
  })

  it('lets EventBridge invoke the verifier for that rule only', async () => {
    const permission = group.properties('WithdrawalInvokePermission')
    assert.deepEqual(permission, { Action: 'lambda:InvokeFunction', FunctionName: VERIFIER, Principal: 'events.amazonaws.com', SourceArn: RULE })
    // The statement Lambda's AddPermission writes for these properties.
    const resourcePolicy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: permission.Principal },
          Action: permission.Action,
          Resource: permission.FunctionName,
          Condition: { ArnLike: { 'AWS:SourceArn': permission.SourceArn } }
        }
      ]
    }
    const events = (sourceArn) => ({
      principal: 'events.amazonaws.com',
      context: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': ACCOUNT }
    })
    const invoke = (who) => decide({ who, action: 'lambda:InvokeFunction', resource: VERIFIER, resourcePolicy })
    assert.equal(await invoke(events(RULE)), 'Allowed')
    assert.equal(await invoke(events(`arn:aws:events:${REGION}:${ACCOUNT}:rule/someone-elses-rule`)), 'ImplicitlyDenied')
    assert.equal(await invoke({ principal: 'sns.amazonaws.com', context: { 'aws:SourceArn': RULE, 'aws:SourceAccount': ACCOUNT } }), 'ImplicitlyDenied')
  })

  it('fails at once next to a core stack without announcements', () => {
    assert.throws(() => groupStack(disabled, 'prod', { Announcements: 'Enabled' }).properties('WithdrawalRule'), /no export named tapprove:announcements/)
  })

  it('has no rule and grants EventBridge nothing by default', () => {
    const plain = groupStack(enabled, 'prod')
    for (const id of ['WithdrawalRule', 'WithdrawalInvokePermission']) assert.equal(plain.exists(id), false, id)
  })
})
