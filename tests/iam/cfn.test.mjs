// The suite's template resolver refuses what it does not know, so a new
// intrinsic in a template fails the suite instead of being read wrongly.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { coreStack, groupStack } from './sim.mjs'

describe('the template resolver', () => {
  const core = coreStack()

  it('resolves Fn::Sub, Ref, Fn::GetAtt and Fn::ImportValue as CloudFormation would', () => {
    const group = groupStack(core, 'prod')
    const statements = group.properties('GateRole').Policies[0].PolicyDocument.Statement
    assert.deepEqual(statements.map((s) => s.Resource), [
      'arn:aws:lambda:eu-west-1:111122223333:function:tapprove-verifier',
      'arn:aws:sns:eu-west-1:111122223333:tapprove-prod'
    ])
  })

  it('drops statements whose Fn::If gives AWS::NoValue', () => {
    const sids = (parameters) =>
      groupStack(core, 'prod', parameters).properties('ApproverPolicy').PolicyDocument.Statement.map((s) => s.Sid)
    assert.deepEqual(sids({ Delivery: 'direct' }), ['Activity', 'Answer', 'GateExecutions', 'Queues'])
    assert.deepEqual(sids({ Delivery: 'endpoint', Source: 'queue' }), ['Activity', 'GateExecutions', 'Queues'])
    assert.deepEqual(sids({ Delivery: 'endpoint', Source: 'activity' }), ['Activity', 'Heartbeat', 'GateExecutions', 'Queues'])
  })

  it('refuses an intrinsic, a resource type or a parameter it does not know', () => {
    assert.throws(() => core.resolve({ 'Fn::Select': [0, ['a']] }, 'test'), /does not know Fn::Select/)
    const withEndpoint = coreStack({ DecisionEndpoint: 'true' })
    assert.throws(() => withEndpoint.resolve({ 'Fn::GetAtt': ['DecisionApi', 'ApiEndpoint'] }, 'test'), /no DecisionApi\.ApiEndpoint/)
    assert.throws(() => groupStack(core, 'prod', { Nope: 'x' }), /no parameter Nope/)
    assert.throws(() => groupStack(core, 'prod_x'), /does not match/)
  })

  it("refuses a resource whose Condition these parameters do not meet, as CloudFormation creates none", () => {
    assert.equal(core.exists('DecisionApi'), false)
    assert.throws(() => core.resolve({ Ref: 'DecisionApi' }, 'test'), /DecisionApi, which is not created/)
    assert.throws(() => core.properties('AnnouncementTopic'), /AnnouncementTopic is not created/)
    assert.equal(coreStack({ Announcements: 'Enabled' }).exists('AnnouncementTopic'), true)
  })
})
