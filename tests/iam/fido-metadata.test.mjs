// FIDO's Metadata Service BLOB from S3 (FidoMetadataBucket and
// FidoMetadataKey): the verifier is told of the object, may read that one
// object and no other, write nothing to S3, and EventBridge may invoke it
// once a day for the stack's schedule only.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ACCOUNT, REGION, approver, coreStack, decide, managedPolicy, roleSession } from './sim.mjs'

const BUCKET = 'acme-fido-metadata'
const KEY = 'mds/blob.jwt'
const OBJECT = `arn:aws:s3:::${BUCKET}/${KEY}`
const withMetadata = coreStack({ FidoMetadataBucket: BUCKET, FidoMetadataKey: KEY })
const without = coreStack()
const VERIFIER = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:tapprove-verifier`
const RULE = `arn:aws:events:${REGION}:${ACCOUNT}:rule/tapprove-FidoMetadataSchedule-ABCDEF123456`
const REGISTRY = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/tapprove-registry`
const AUDIT = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/tapprove-audit`
const verifier = roleSession('tapprove-VerifierRole-ABCDEF123456', 'tapprove-verifier', { roleId: 'AROAVERIFIERROLE1234' })

/** The verifier role's inline policy, as an identity policy. */
function inline(stack) {
  const p = stack.properties('VerifierRole').Policies[0]
  return { name: p.PolicyName, policy: p.PolicyDocument }
}

const settings = (stack) => stack.properties('VerifierFunction').Environment.Variables.TAPPROVE_CONFIG_TOML

/** The statement Lambda's AddPermission writes for a permission's properties. */
function resourcePolicyOf(permission) {
  return {
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
}

describe("FIDO's metadata from S3", () => {
  it('the verifier is told of the object', () => {
    assert.match(settings(withMetadata), new RegExp(`\\n\\[fido_metadata\\]\\nobject = "s3://${BUCKET}/mds/blob\\.jwt"\\n`))
  })

  it('a schedule invokes the verifier daily with the import event, and nothing else', () => {
    const rule = withMetadata.properties('FidoMetadataSchedule')
    assert.equal(rule.ScheduleExpression, 'rate(1 day)')
    assert.equal(rule.State, 'ENABLED')
    assert.equal(rule.EventPattern, undefined)
    assert.equal(rule.Targets.length, 1)
    const [target] = rule.Targets
    assert.deepEqual({ Id: target.Id, Arn: target.Arn }, { Id: 'verifier', Arn: VERIFIER })
    assert.equal(target.Input, '{"tapprove": "import_fido_metadata"}')
    assert.deepEqual(JSON.parse(target.Input), { tapprove: 'import_fido_metadata' })
  })

  it('the verifier reads that object', async () => {
    const get = (resource) => decide({ who: verifier, action: 's3:GetObject', resource, identityPolicies: [inline(withMetadata)] })
    assert.equal(await get(OBJECT), 'Allowed')
  })

  it('and no other object: not another key of the bucket, nor the same key in another bucket', async () => {
    const get = (resource) => decide({ who: verifier, action: 's3:GetObject', resource, identityPolicies: [inline(withMetadata)] })
    for (const other of [
      `arn:aws:s3:::${BUCKET}/mds/other.jwt`,
      `arn:aws:s3:::${BUCKET}/mds/blob.jwt.bak`,
      `arn:aws:s3:::${BUCKET}/${KEY}/x`,
      `arn:aws:s3:::${BUCKET}/blob.jwt`,
      `arn:aws:s3:::acme-other-bucket/${KEY}`,
      `arn:aws:s3:::${BUCKET}-copy/${KEY}`
    ]) {
      assert.equal(await get(other), 'ImplicitlyDenied', other)
    }
  })

  it('writes, deletes and lists nothing in S3, and reads no versions or ACLs', async () => {
    for (const action of ['s3:PutObject', 's3:DeleteObject', 's3:GetObjectVersion', 's3:GetObjectAcl', 's3:PutObjectAcl']) {
      assert.equal(await decide({ who: verifier, action, resource: OBJECT, identityPolicies: [inline(withMetadata)] }), 'ImplicitlyDenied', action)
    }
    assert.equal(
      await decide({ who: verifier, action: 's3:ListBucket', resource: `arn:aws:s3:::${BUCKET}`, identityPolicies: [inline(withMetadata)] }),
      'ImplicitlyDenied'
    )
    const actions = inline(withMetadata).policy.Statement.flatMap((s) => [s.Action].flat())
    assert.deepEqual(actions.filter((a) => a.toLowerCase().startsWith('s3:')), ['s3:GetObject'])
  })

  it('writes the model records and its audit record with the permissions the verifier has anyway', async () => {
    const model = { 'dynamodb:LeadingKeys': ['model#cb69481e-8ff7-4039-93ec-0a2729a154a8'] }
    for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem']) {
      assert.equal(await decide({ who: verifier, action, resource: REGISTRY, identityPolicies: [inline(withMetadata)], context: model }), 'Allowed', action)
    }
    assert.equal(
      await decide({
        who: verifier,
        action: 'dynamodb:PutItem',
        resource: AUDIT,
        identityPolicies: [inline(withMetadata)],
        context: { 'dynamodb:LeadingKeys': ['admin#metadata:fido'] }
      }),
      'Allowed'
    )
    // Same statements with or without the import: it adds only the object.
    const sids = (stack) => inline(stack).policy.Statement.map((s) => s.Sid)
    assert.deepEqual(sids(withMetadata), [...sids(without), 'FidoMetadataObject'])
  })

  it('EventBridge invokes the verifier for that schedule only', async () => {
    const permission = withMetadata.properties('FidoMetadataInvokePermission')
    assert.deepEqual(permission, { Action: 'lambda:InvokeFunction', FunctionName: 'tapprove-verifier', Principal: 'events.amazonaws.com', SourceArn: RULE })
    // FunctionName is the name (Ref); AddPermission writes the function's ARN.
    const resourcePolicy = resourcePolicyOf({ ...permission, FunctionName: VERIFIER })
    const events = (sourceArn) => ({ principal: 'events.amazonaws.com', context: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': ACCOUNT } })
    const invoke = (who) => decide({ who, action: 'lambda:InvokeFunction', resource: VERIFIER, resourcePolicy })
    assert.equal(await invoke(events(RULE)), 'Allowed')
    for (const other of [
      `arn:aws:events:${REGION}:${ACCOUNT}:rule/someone-elses-rule`,
      `arn:aws:events:${REGION}:${ACCOUNT}:rule/tapprove-prod-WithdrawalRule-ABCDEF123456`,
      `arn:aws:events:us-east-1:${ACCOUNT}:rule/tapprove-FidoMetadataSchedule-ABCDEF123456`
    ]) {
      assert.equal(await invoke(events(other)), 'ImplicitlyDenied', other)
    }
    assert.equal(await invoke({ principal: 'events.amazonaws.com', context: { 'aws:SourceAccount': ACCOUNT } }), 'ImplicitlyDenied', 'without a source')
    assert.equal(
      await invoke({ principal: 'scheduler.amazonaws.com', context: { 'aws:SourceArn': RULE, 'aws:SourceAccount': ACCOUNT } }),
      'ImplicitlyDenied'
    )
  })

  it('approvers cannot start an import: they reach the verifier through its function URL only', async () => {
    assert.equal(
      await decide({
        who: approver('bob'),
        action: 'lambda:InvokeFunction',
        resource: VERIFIER,
        identityPolicies: [managedPolicy(withMetadata, 'ApproverBasePolicy')],
        context: { 'lambda:InvokedViaFunctionUrl': 'false' }
      }),
      'ImplicitlyDenied'
    )
  })
})

describe("without FIDO's metadata from S3", () => {
  it('there is no schedule and no permission, and the verifier is told of no object', () => {
    for (const stack of [without, coreStack({ FidoMetadataBucket: BUCKET }), coreStack({ FidoMetadataKey: KEY })]) {
      for (const id of ['FidoMetadataSchedule', 'FidoMetadataInvokePermission']) assert.equal(stack.exists(id), false, id)
      assert.doesNotMatch(settings(stack), /fido_metadata|s3:\/\//)
    }
  })

  it('the verifier reads nothing in S3', async () => {
    for (const stack of [without, coreStack({ FidoMetadataBucket: BUCKET }), coreStack({ FidoMetadataKey: KEY })]) {
      const actions = inline(stack).policy.Statement.flatMap((s) => [s.Action].flat())
      assert.equal(actions.some((a) => a.toLowerCase().startsWith('s3:')), false, actions.join(', '))
      assert.equal(await decide({ who: verifier, action: 's3:GetObject', resource: OBJECT, identityPolicies: [inline(stack)] }), 'ImplicitlyDenied')
    }
  })
})

describe('the object parameters', () => {
  it('take S3 bucket names and keys', () => {
    for (const [bucket, key] of [
      ['abc', 'k'],
      ['acme-fido-2026', 'fido/mds3 blob.jwt'.replace(' ', '_')],
      ['a'.repeat(63), "folder/(2026)!@+=,;:~&%#[]{}^`|<>.jwt"]
    ]) {
      assert.doesNotThrow(() => coreStack({ FidoMetadataBucket: bucket, FidoMetadataKey: key }), `${bucket}/${key}`)
    }
  })

  it('refuse names that would break the settings, widen the policy or miss the certificate', () => {
    // Quotes and backslashes would end or escape the TOML string; * ? are
    // IAM wildcards and ${...} a policy variable, so the policy would name
    // more than one object; whitespace and control characters are refused.
    for (const key of ['a"b', "a'b", 'a\\b', 'mds/*', 'mds/blob?.jwt', 'mds/${aws:username}', 'a b', 'a\tb', 'a\nb', 'é.jwt']) {
      assert.throws(() => coreStack({ FidoMetadataBucket: BUCKET, FidoMetadataKey: key }), /FidoMetadataKey=.* does not match/s, JSON.stringify(key))
    }
    // Dotted bucket names fail TLS at https://<bucket>.s3.<region>.amazonaws.com.
    for (const bucket of ['acme.fido', 'Acme-fido', 'ab', 'a'.repeat(64), '-acme', 'acme-', 'acme_fido', 'acme/fido']) {
      assert.throws(() => coreStack({ FidoMetadataBucket: bucket, FidoMetadataKey: KEY }), /FidoMetadataBucket=.* does not match/s, bucket)
    }
  })
})
