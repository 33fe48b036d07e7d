// The approver policy documented for `tapprove gate install` setups
// (deploy/iam/gate-install-approver.json): there the verifier worker polls
// the activity <prefix>-verify, which approvers must never take a task
// from.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fillPolicy } from './cfn.mjs'
import { ACCOUNT, REGION, approver, decide, queueArn, queuePolicy } from './sim.mjs'

const policy = {
  name: 'tapprove-prod-approver',
  policy: fillPolicy('deploy/iam/gate-install-approver.json', {
    Partition: 'aws',
    Region: REGION,
    Account: ACCOUNT,
    Prefix: 'tapprove',
    Group: 'prod',
    QueueGroup: 'prod',
    Gate: 'tapprove-prod-gate'
  })
}
// What a broad permission set might add (e.g. AWS's PowerUserAccess).
const powerUser = { name: 'PowerUserAccess', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', NotAction: ['iam:*', 'organizations:*', 'account:*'], Resource: '*' }] } }
const activity = (name) => `arn:aws:states:${REGION}:${ACCOUNT}:activity:${name}`
const bob = approver('bob')

describe('the approver policy of gate-install setups', () => {
  it("takes tasks from the group's activity", async () => {
    assert.equal(await decide({ who: bob, action: 'states:GetActivityTask', resource: activity('tapprove-prod'), identityPolicies: [policy] }), 'Allowed')
  })

  it("takes no task from the verifier's activity, even with a broad policy next to it", async () => {
    for (const identityPolicies of [[policy], [policy, powerUser]]) {
      assert.equal(
        await decide({ who: bob, action: 'states:GetActivityTask', resource: activity('tapprove-verify'), identityPolicies }),
        'ExplicitlyDenied',
        identityPolicies.map((p) => p.name).join(' + ')
      )
    }
    // Without this policy the broad one would allow it: the deny is what stops it.
    assert.equal(
      await decide({ who: bob, action: 'states:GetActivityTask', resource: activity('tapprove-verify'), identityPolicies: [powerUser] }),
      'Allowed'
    )
  })

  it('answers tasks by token only: SendTaskSuccess names no resource, so no statement can deny it for one activity', async () => {
    // IAM authorises SendTask* on "*" (the token names the task): the
    // simulator refuses to evaluate it against the activity's ARN...
    await assert.rejects(
      decide({ who: bob, action: 'states:SendTaskSuccess', resource: activity('tapprove-verify'), identityPolicies: [policy] }),
      /must\.use\.wildcard/
    )
    // ...and allows it on "*", the verifier's deny notwithstanding. What
    // keeps an approver from answering a verification task is that its
    // token is only handed out by GetActivityTask on the verifier's
    // activity (denied above), and the gate checks what the verifier
    // answers.
    assert.equal(await decide({ who: bob, action: 'states:SendTaskSuccess', resource: '*', identityPolicies: [policy] }), 'Allowed')
  })

  it("reads the owner's queue of the group only", async () => {
    assert.equal(
      await decide({ who: bob, action: 'sqs:ReceiveMessage', resource: queueArn('prod', 'bob'), identityPolicies: [policy], resourcePolicy: queuePolicy('prod', 'bob') }),
      'Allowed'
    )
    assert.equal(
      await decide({ who: bob, action: 'sqs:ReceiveMessage', resource: queueArn('prod', 'alice'), identityPolicies: [policy], resourcePolicy: queuePolicy('prod', 'alice') }),
      'ExplicitlyDenied'
    )
    assert.equal(
      await decide({ who: bob, action: 'sqs:ReceiveMessage', resource: queueArn('prod-approvers', 'bob'), identityPolicies: [policy] }),
      'ImplicitlyDenied'
    )
  })
})
