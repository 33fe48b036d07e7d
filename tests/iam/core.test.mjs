// The core stack's policies: admins write audit records only under
// admin#*, and only Lambda may assume the verifier's role.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ACCOUNT, REGION, coreStack, decide, managedPolicy, roleSession } from './sim.mjs'

const core = coreStack()
const admin = managedPolicy(core, 'AdminPolicy')
const carol = roleSession('AWSReservedSSO_Tapprove-Admin_def456', 'carol', {
  path: `/aws-reserved/sso.amazonaws.com/${REGION}/`,
  roleId: 'AROAADMINSETROLE1234'
})
const AUDIT = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/tapprove-audit`
const REGISTRY = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/tapprove-registry`

function putItem(resource, leadingKeys) {
  return decide({
    who: carol,
    action: 'dynamodb:PutItem',
    resource,
    identityPolicies: [admin],
    context: leadingKeys === undefined ? {} : { 'dynamodb:LeadingKeys': leadingKeys }
  })
}

describe('the admin policy', () => {
  it('writes audit records under admin#<user>', async () => {
    assert.equal(await putItem(AUDIT, ['admin#bob']), 'Allowed')
    assert.equal(await putItem(AUDIT, ['admin#gate:tapprove-prod-gate']), 'Allowed')
  })

  it('writes no verification, enrolment or refusal record', async () => {
    for (const key of ['user#bob', 'verified#arn:aws:states:eu-west-1:111122223333:execution:x:y', 'refused#enrolment', 'xadmin#bob']) {
      assert.equal(await putItem(AUDIT, [key]), 'ImplicitlyDenied', key)
    }
  })

  it('writes nothing to the audit table without a leading key in the request', async () => {
    // ForAllValues holds vacuously on a missing key; the statement's Null
    // condition is what refuses this.
    assert.equal(await putItem(AUDIT, undefined), 'ImplicitlyDenied')
  })

  it('reads the audit trail and writes the registry', async () => {
    assert.equal(await decide({ who: carol, action: 'dynamodb:Query', resource: AUDIT, identityPolicies: [admin] }), 'Allowed')
    assert.equal(await putItem(REGISTRY, ['user#bob']), 'Allowed')
  })

  it("imports FIDO's metadata into the registry (conditional Put, Update, Delete of model#*), and only there", async () => {
    for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']) {
      const on = (resource) => decide({ who: carol, action, resource, identityPolicies: [admin], context: { 'dynamodb:LeadingKeys': ['model#cb69481e-8ff7-4039-93ec-0a2729a154a8'] } })
      assert.equal(await on(REGISTRY), 'Allowed', action)
      assert.equal(await on(AUDIT), 'ImplicitlyDenied', action)
    }
  })
})

describe("the verifier's role", () => {
  const trust = core.properties('VerifierRole').AssumeRolePolicyDocument
  const role = `arn:aws:iam::${ACCOUNT}:role/tapprove-VerifierRole-ABCDEF123456`
  const everything = { name: 'AdministratorAccess', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }

  it('is assumed by Lambda', async () => {
    const lambda = { principal: 'lambda.amazonaws.com', context: {} }
    assert.equal(await decide({ who: lambda, action: 'sts:AssumeRole', resource: role, resourcePolicy: trust }), 'Allowed')
  })

  it('is assumed by no other service nor by anyone of the account, an administrator included', async () => {
    for (const service of ['states.amazonaws.com', 'ec2.amazonaws.com', 'apigateway.amazonaws.com']) {
      const who = { principal: service, context: {} }
      assert.equal(await decide({ who, action: 'sts:AssumeRole', resource: role, resourcePolicy: trust }), 'ImplicitlyDenied', service)
    }
    assert.equal(
      await decide({ who: carol, action: 'sts:AssumeRole', resource: role, identityPolicies: [everything], resourcePolicy: trust }),
      'ImplicitlyDenied'
    )
    const root = {
      principal: `arn:aws:iam::${ACCOUNT}:root`,
      context: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:root`, 'aws:PrincipalAccount': ACCOUNT }
    }
    assert.equal(await decide({ who: root, action: 'sts:AssumeRole', resource: role, resourcePolicy: trust }), 'ImplicitlyDenied')
  })

  it('is not assumed with a web identity or SAML either', async () => {
    for (const action of ['sts:AssumeRoleWithWebIdentity', 'sts:AssumeRoleWithSAML']) {
      assert.equal(
        await decide({ who: carol, action, resource: role, identityPolicies: [everything], resourcePolicy: trust }),
        'ImplicitlyDenied',
        action
      )
    }
  })
})

describe("the verifier's permissions for requests", () => {
  const withRequesters = coreStack({ RequesterPrincipals: `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deploy/*` })
  const inline = (stack) => {
    const p = stack.properties('VerifierRole').Policies[0]
    return { name: p.PolicyName, policy: p.PolicyDocument }
  }
  const verifier = roleSession('tapprove-VerifierRole-ABCDEF123456', 'tapprove-verifier', { roleId: 'AROAVERIFIERROLE1234' })
  const GATE = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:tapprove-prod-approvers-gate`
  const OTHER = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:payments-release`
  const getItem = (stack, keys) =>
    decide({ who: verifier, action: 'dynamodb:GetItem', resource: AUDIT, identityPolicies: [inline(stack)], context: keys === undefined ? {} : { 'dynamodb:LeadingKeys': keys } })

  it("reads an execution's requester record and nothing else of the trail", async () => {
    assert.equal(await getItem(core, ['exec#arn:aws:states:eu-west-1:111122223333:execution:tapprove-prod-approvers-gate:req-1']), 'Allowed')
    for (const key of ['user#bob', 'admin#bob', 'refused#enrolment']) {
      assert.equal(await getItem(core, [key]), 'ImplicitlyDenied', key)
    }
    assert.equal(await getItem(core, undefined), 'ImplicitlyDenied')
    assert.equal(
      await decide({ who: verifier, action: 'dynamodb:Query', resource: AUDIT, identityPolicies: [inline(core)], context: { 'dynamodb:LeadingKeys': ['exec#x'] } }),
      'ImplicitlyDenied'
    )
  })

  it("starts this stack's gates only where requesters are listed, and no other state machine", async () => {
    const start = (stack, resource) => decide({ who: verifier, action: 'states:StartExecution', resource, identityPolicies: [inline(stack)] })
    assert.equal(await start(core, GATE), 'ImplicitlyDenied', 'the endpoint is off by default')
    assert.equal(await start(withRequesters, GATE), 'Allowed')
    assert.equal(await start(withRequesters, OTHER), 'ImplicitlyDenied')
  })

  it('a requester calls the function URL and starts no gate itself', async () => {
    const ci = roleSession('ci-deploy', 'run-42', { roleId: 'AROACIDEPLOYROLE1234' })
    const requester = managedPolicy(withRequesters, 'RequesterPolicy')
    const fn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:tapprove-verifier`
    assert.equal(
      await decide({ who: ci, action: 'lambda:InvokeFunctionUrl', resource: fn, identityPolicies: [requester], context: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } }),
      'Allowed'
    )
    assert.equal(
      await decide({ who: ci, action: 'lambda:InvokeFunction', resource: fn, identityPolicies: [requester], context: { 'lambda:InvokedViaFunctionUrl': 'false' } }),
      'ImplicitlyDenied',
      'a direct invocation would reach the gate operations'
    )
    assert.equal(await decide({ who: ci, action: 'states:StartExecution', resource: GATE, identityPolicies: [requester] }), 'ImplicitlyDenied')
  })
})
