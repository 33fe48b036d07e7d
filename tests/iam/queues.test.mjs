// Approver queues: a group's approver policy reaches only its own group's
// queues, and each queue's own policy (deploy/approver-queue-policy.json)
// lets only its owner's approver-role session take, delete or hide its
// messages.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { readRepoFile } from './cfn.mjs'
import {
  approver,
  coreStack,
  decide,
  federatedUser,
  groupStack,
  iamUser,
  managedPolicy,
  queueArn,
  queuePolicy,
  roleSession
} from './sim.mjs'

const core = coreStack()
const base = managedPolicy(core, 'ApproverBasePolicy')
const prod = managedPolicy(groupStack(core, 'prod'), 'ApproverPolicy')
const prodApprovers = managedPolicy(groupStack(core, 'prod-approvers'), 'ApproverPolicy')
const READS = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']

/** `who` doing `action` on `owner`'s queue of `group`, with the queue's policy. */
function onQueue(who, action, group, owner, identityPolicies, policyOptions) {
  return decide({
    who,
    action,
    resource: queueArn(group, owner),
    identityPolicies,
    resourcePolicy: queuePolicy(group, owner, policyOptions)
  })
}

describe('approver queues', () => {
  it('the policy the suite evaluates is the one grant writes', () => {
    // The engine's unit test checks that approver_queue_policy gives this
    // fixture; here the suite's own filling must give it too.
    assert.deepEqual(queuePolicy('prod', 'alice'), JSON.parse(readRepoFile('tests/iam/fixtures/alice-queue-policy.json')))
  })

  for (const action of READS) {
    it(`bob may ${action} on his own queue, not on alice's`, async () => {
      const bob = approver('bob')
      assert.equal(await onQueue(bob, action, 'prod', 'bob', [base, prod]), 'Allowed')
      assert.equal(await onQueue(bob, action, 'prod', 'alice', [base, prod]), 'ExplicitlyDenied')
      // The group's policy alone would let him: the queue's policy stops him.
      assert.equal(
        await decide({ who: bob, action, resource: queueArn('prod', 'alice'), identityPolicies: [base, prod] }),
        'Allowed'
      )
    })
  }

  it("group prod's approver policy reaches no queue of prod-approvers, nor the other way round", async () => {
    const bob = approver('bob')
    for (const owner of ['alice', 'bob']) {
      assert.equal(
        await decide({ who: bob, action: 'sqs:ReceiveMessage', resource: queueArn('prod-approvers', owner), identityPolicies: [base, prod] }),
        'ImplicitlyDenied',
        `prod's policy on prod-approvers/${owner}`
      )
      assert.equal(
        await onQueue(bob, 'sqs:ReceiveMessage', 'prod-approvers', owner, [base, prod]),
        owner === 'bob' ? 'ImplicitlyDenied' : 'ExplicitlyDenied',
        `prod-approvers/${owner} with its queue policy`
      )
      assert.equal(
        await decide({ who: bob, action: 'sqs:ReceiveMessage', resource: queueArn('prod', owner), identityPolicies: [base, prodApprovers] }),
        'ImplicitlyDenied',
        `prod-approvers' policy on prod/${owner}`
      )
    }
    // With prod-approvers' own policy, bob reads his queue there.
    assert.equal(await onQueue(bob, 'sqs:ReceiveMessage', 'prod-approvers', 'bob', [base, prodApprovers]), 'Allowed')
  })

  it('a session named alice of a role that is no approver role cannot read her queue', async () => {
    // Even a CI role given the group's policy: its session name is chosen
    // by whoever assumes it.
    const ci = roleSession('ci-deploy', 'alice', { roleId: 'AROACIROLEEXAMPLE123' })
    const lookalike = roleSession('EvilAWSReservedSSO_x', 'alice', { roleId: 'AROALOOKALIKEROLE123' })
    for (const action of READS) {
      assert.equal(await onQueue(ci, action, 'prod', 'alice', [prod]), 'ExplicitlyDenied', action)
      assert.equal(await onQueue(lookalike, action, 'prod', 'alice', [prod]), 'ExplicitlyDenied', action)
      assert.equal(await onQueue(approver('alice'), action, 'prod', 'alice', [base, prod]), 'Allowed', action)
    }
  })

  it('an approver role without a path is an approver role too', async () => {
    const alice = roleSession('AWSReservedSSO_Tapprove-Approver_abc123', 'alice')
    assert.equal(await onQueue(alice, 'sqs:ReceiveMessage', 'prod', 'alice', [prod]), 'Allowed')
  })

  it('a federated user named alice cannot read her queue', async () => {
    // Its aws:userid is <account>:alice, which the name statement alone
    // would take for hers.
    assert.equal(await onQueue(federatedUser('alice'), 'sqs:ReceiveMessage', 'prod', 'alice', [prod]), 'ExplicitlyDenied')
  })

  it('IAM users read only their own queue, and only where the settings allow IAM users', async () => {
    const alice = iamUser('alice')
    assert.equal(await onQueue(alice, 'sqs:ReceiveMessage', 'prod', 'alice', [prod]), 'ExplicitlyDenied')
    assert.equal(await onQueue(alice, 'sqs:ReceiveMessage', 'prod', 'alice', [prod], { iamUsers: true }), 'Allowed')
    assert.equal(await onQueue(iamUser('bob'), 'sqs:ReceiveMessage', 'prod', 'alice', [prod], { iamUsers: true }), 'ExplicitlyDenied')
    assert.equal(await onQueue(approver('bob'), 'sqs:ReceiveMessage', 'prod', 'alice', [prod], { iamUsers: true }), 'ExplicitlyDenied')
  })

  it("only the group's topic may send to a queue", async () => {
    const sns = { principal: 'sns.amazonaws.com', context: {} }
    const send = (topic) =>
      decide({
        who: sns,
        action: 'sqs:SendMessage',
        resource: queueArn('prod', 'alice'),
        resourcePolicy: queuePolicy('prod', 'alice'),
        context: { 'aws:SourceArn': topic, 'aws:SourceAccount': '111122223333' }
      })
    assert.equal(await send('arn:aws:sns:eu-west-1:111122223333:tapprove-prod'), 'Allowed')
    assert.equal(await send('arn:aws:sns:eu-west-1:111122223333:tapprove-prod-approvers'), 'ExplicitlyDenied')
  })

  it('nobody else sends to a queue, even with a policy that allows sending anywhere', async () => {
    // A forged copy of a request would carry a status of the sender's making.
    const anywhere = { name: 'SendAnywhere', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: '*' }] } }
    for (const who of [approver('bob'), approver('alice')]) {
      assert.equal(
        await decide({ who, action: 'sqs:SendMessage', resource: queueArn('prod', 'alice'), identityPolicies: [anywhere], resourcePolicy: queuePolicy('prod', 'alice') }),
        'ExplicitlyDenied'
      )
    }
  })

  it('the owner still gets what the group policy gives besides reading (queue URL, attributes)', async () => {
    for (const action of ['sqs:GetQueueUrl', 'sqs:GetQueueAttributes']) {
      assert.equal(await onQueue(approver('alice'), action, 'prod', 'alice', [base, prod]), 'Allowed', action)
    }
  })
})
