// A small CloudFormation resolver for deploy/tapprove.yaml and
// deploy/group.yaml: enough to turn their policy documents into the JSON
// CloudFormation would hand to IAM, for given parameters. It knows Ref,
// Fn::Sub, Fn::GetAtt, Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or,
// Fn::Join, Fn::ImportValue and Condition, and the resource types these
// templates reference; anything else throws, naming where it was found.

import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import YAML from 'yaml'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Marks a value that AWS::NoValue removed. */
const NO_VALUE = Symbol('AWS::NoValue')

/** Reads a file of the repository as text. */
export function readRepoFile(path) {
  return readFileSync(ROOT + path, 'utf8')
}

/**
 * The physical names and attributes of the resource types the templates
 * reference, as CloudFormation documents each type's return values.
 */
const RESOURCE_TYPES = {
  'AWS::DynamoDB::Table': (p, env) => ({
    ref: p.TableName,
    Arn: `arn:${env.partition}:dynamodb:${env.region}:${env.account}:table/${p.TableName}`
  }),
  'AWS::Lambda::Function': (p, env) => ({
    ref: p.FunctionName,
    Arn: `arn:${env.partition}:lambda:${env.region}:${env.account}:function:${p.FunctionName}`
  }),
  'AWS::Lambda::Url': (_p, env) => ({
    ref: undefined,
    FunctionUrl: `https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.${env.region}.on.aws/`
  }),
  'AWS::Logs::LogGroup': (p, env) => ({
    ref: p.LogGroupName,
    Arn: `arn:${env.partition}:logs:${env.region}:${env.account}:log-group:${p.LogGroupName}:*`
  }),
  'AWS::StepFunctions::Activity': (p, env) => ({
    ref: `arn:${env.partition}:states:${env.region}:${env.account}:activity:${p.Name}`
  }),
  'AWS::StepFunctions::StateMachine': (p, env) => ({
    ref: `arn:${env.partition}:states:${env.region}:${env.account}:stateMachine:${p.StateMachineName}`
  }),
  'AWS::SNS::Topic': (p, env) => ({
    ref: `arn:${env.partition}:sns:${env.region}:${env.account}:${p.TopicName}`
  }),
  'AWS::IAM::ManagedPolicy': (p, env) => ({
    ref: `arn:${env.partition}:iam::${env.account}:policy/${p.ManagedPolicyName}`
  }),
  // No RoleName in these templates: CloudFormation names the role
  // <stack>-<logical id>-<random>.
  'AWS::IAM::Role': (_p, env, logicalId) => {
    const name = `${env.stackName}-${logicalId}-ABCDEF123456`
    return { ref: name, Arn: `arn:${env.partition}:iam::${env.account}:role/${name}` }
  },
  'AWS::ApiGatewayV2::Api': () => ({ ref: 'a1b2c3d4e5' }),
  // No Name in these templates: CloudFormation names the rule
  // <stack>-<logical id>-<random>.
  'AWS::Events::Rule': (p, env, logicalId) => {
    const name = p.Name ?? `${env.stackName}-${logicalId}-ABCDEF123456`
    return { ref: name, Arn: `arn:${env.partition}:events:${env.region}:${env.account}:rule/${name}` }
  }
}

/**
 * One template with its parameters.
 *
 * @param {string} path the template, relative to the repository
 * @param {object} options parameters (strings; CommaDelimitedList as
 *   "a,b"), the environment (account, region, partition, stackName) and
 *   the exports of other stacks (for Fn::ImportValue).
 */
export class Template {
  constructor(path, { parameters = {}, account, region, partition = 'aws', stackName, imports = {} }) {
    this.path = path
    this.doc = YAML.parse(readRepoFile(path))
    this.env = { account, region, partition, stackName }
    this.imports = imports
    this.parameters = {}
    const declared = this.doc.Parameters ?? {}
    for (const name of Object.keys(parameters)) {
      if (!(name in declared)) throw new Error(`${path}: no parameter ${name}`)
    }
    for (const [name, spec] of Object.entries(declared)) {
      const value = name in parameters ? parameters[name] : spec.Default
      if (value === undefined) throw new Error(`${path}: parameter ${name} has no value and no default`)
      const text = String(value)
      if (spec.AllowedPattern) {
        const pattern = new RegExp(spec.AllowedPattern)
        const items = spec.Type === 'CommaDelimitedList' ? text.split(',') : [text]
        for (const item of items) {
          if (!pattern.test(item)) throw new Error(`${path}: ${name}=${item} does not match ${spec.AllowedPattern}`)
        }
      }
      if (spec.AllowedValues && !spec.AllowedValues.map(String).includes(text)) {
        throw new Error(`${path}: ${name}=${text} is not one of ${spec.AllowedValues.join(', ')}`)
      }
      this.parameters[name] = spec.Type === 'CommaDelimitedList' ? text.split(',') : text
    }
    this.conditions = {}
    this.resources = {}
  }

  /** A resource's properties, resolved; only of a resource these parameters create. */
  properties(logicalId) {
    const resource = this.doc.Resources?.[logicalId]
    if (!resource) throw new Error(`${this.path}: no resource ${logicalId}`)
    if (!this.exists(logicalId)) throw new Error(`${this.path}: ${logicalId} is not created (condition ${resource.Condition})`)
    return this.resolve(resource.Properties ?? {}, `Resources.${logicalId}.Properties`)
  }

  /** Whether the resource is created: it exists and its Condition, if any, holds. */
  exists(logicalId) {
    const resource = this.doc.Resources?.[logicalId]
    if (!resource) throw new Error(`${this.path}: no resource ${logicalId}`)
    return resource.Condition === undefined || this.condition(resource.Condition)
  }

  /** The named condition's value. */
  condition(name) {
    if (!(name in this.conditions)) {
      const spec = this.doc.Conditions?.[name]
      if (spec === undefined) throw new Error(`${this.path}: no condition ${name}`)
      const value = this.resolve(spec, `Conditions.${name}`)
      if (typeof value !== 'boolean') throw new Error(`${this.path}: condition ${name} is not a boolean`)
      this.conditions[name] = value
    }
    return this.conditions[name]
  }

  /** The exports of this stack's outputs (for another stack's Fn::ImportValue). */
  exports() {
    const out = {}
    for (const [name, output] of Object.entries(this.doc.Outputs ?? {})) {
      if (!output.Export) continue
      if (output.Condition && !this.condition(output.Condition)) continue
      out[this.resolve(output.Export.Name, `Outputs.${name}.Export.Name`)] = this.resolve(
        output.Value,
        `Outputs.${name}.Value`
      )
    }
    return out
  }

  resource(logicalId, where) {
    if (!(logicalId in this.resources)) {
      const resource = this.doc.Resources?.[logicalId]
      if (!resource) throw new Error(`${this.path}: ${where} refers to unknown ${logicalId}`)
      if (!this.exists(logicalId)) throw new Error(`${this.path}: ${where} refers to ${logicalId}, which is not created (condition ${resource.Condition})`)
      const model = RESOURCE_TYPES[resource.Type]
      if (!model) throw new Error(`${this.path}: ${where}: the resolver does not know ${resource.Type} (${logicalId})`)
      const props = this.resolve(resource.Properties ?? {}, `Resources.${logicalId}.Properties`)
      this.resources[logicalId] = model(props, this.env, logicalId)
    }
    return this.resources[logicalId]
  }

  ref(name, where) {
    switch (name) {
      case 'AWS::AccountId':
        return this.env.account
      case 'AWS::Region':
        return this.env.region
      case 'AWS::Partition':
        return this.env.partition
      case 'AWS::StackName':
        return this.env.stackName
      case 'AWS::URLSuffix':
        return 'amazonaws.com'
      case 'AWS::NoValue':
        return NO_VALUE
    }
    if (name in this.parameters) return this.parameters[name]
    const value = this.resource(name, where).ref
    if (value === undefined) throw new Error(`${this.path}: ${where}: Ref of ${name} has no value in this resolver`)
    return value
  }

  getAtt(logicalId, attribute, where) {
    const value = this.resource(logicalId, where)[attribute]
    if (value === undefined) throw new Error(`${this.path}: ${where}: the resolver has no ${logicalId}.${attribute}`)
    return value
  }

  sub(text, variables, where) {
    return text.replace(/\$\{(!?)([^}]*)\}/g, (whole, literal, name) => {
      if (literal) return '${' + name + '}'
      if (name in variables) return variables[name]
      const dot = name.indexOf('.')
      const value = dot > 0 && !name.startsWith('AWS::') ? this.getAtt(name.slice(0, dot), name.slice(dot + 1), where) : this.ref(name, where)
      if (typeof value !== 'string') throw new Error(`${this.path}: ${where}: \${${name}} is not a string in Fn::Sub`)
      return value
    })
  }

  /** Resolves every intrinsic function in `node`. */
  resolve(node, where) {
    if (Array.isArray(node)) {
      return node.map((item, i) => this.resolve(item, `${where}[${i}]`)).filter((item) => item !== NO_VALUE)
    }
    if (node === null || typeof node !== 'object') return node
    const keys = Object.keys(node)
    const intrinsic = keys.find((k) => k === 'Ref' || k === 'Condition' || k.startsWith('Fn::'))
    if (intrinsic && keys.length === 1) return this.intrinsic(intrinsic, node[intrinsic], `${where}.${intrinsic}`)
    const out = {}
    for (const key of keys) {
      if (key.startsWith('Fn::')) throw new Error(`${this.path}: ${where}: ${key} next to other keys`)
      const value = this.resolve(node[key], `${where}.${key}`)
      if (value !== NO_VALUE) out[key] = value
    }
    return out
  }

  intrinsic(name, arg, where) {
    switch (name) {
      case 'Ref':
        return this.ref(arg, where)
      case 'Condition':
        return this.condition(arg)
      case 'Fn::Sub':
        if (typeof arg === 'string') return this.sub(arg, {}, where)
        {
          const [text, variables] = arg
          return this.sub(text, this.resolve(variables, where), where)
        }
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = typeof arg === 'string' ? arg.split(/\.(.*)/s) : arg
        return this.getAtt(logicalId, attribute, where)
      }
      case 'Fn::If': {
        const [condition, whenTrue, whenFalse] = arg
        return this.condition(condition) ? this.resolve(whenTrue, where) : this.resolve(whenFalse, where)
      }
      case 'Fn::Equals': {
        const [a, b] = this.resolve(arg, where)
        return JSON.stringify(a) === JSON.stringify(b)
      }
      case 'Fn::Not':
        return !this.resolve(arg, where)[0]
      case 'Fn::And':
        return this.resolve(arg, where).every(Boolean)
      case 'Fn::Or':
        return this.resolve(arg, where).some(Boolean)
      case 'Fn::Join': {
        const [delimiter, items] = this.resolve(arg, where)
        if (!Array.isArray(items)) throw new Error(`${this.path}: ${where}: Fn::Join of a non-list`)
        return items.join(delimiter)
      }
      case 'Fn::ImportValue': {
        const exportName = this.resolve(arg, where)
        if (!(exportName in this.imports)) throw new Error(`${this.path}: ${where}: no export named ${exportName}`)
        return this.imports[exportName]
      }
      default:
        throw new Error(`${this.path}: ${where}: the resolver does not know ${name}`)
    }
  }
}

/**
 * Fills a policy file's `${Name}` placeholders: a string element of an
 * array that is exactly `${Name}` of a list value becomes the list's items
 * (as Tapprove's `approver_queue_policy` does); every placeholder must be
 * given, and every value used.
 */
export function fillPolicy(path, values) {
  const unused = new Set(Object.keys(values))
  const fill = (node) => {
    if (Array.isArray(node)) {
      return node.flatMap((item) => {
        const whole = typeof item === 'string' && /^\$\{(\w+)\}$/.exec(item)
        if (whole && Array.isArray(values[whole[1]])) {
          unused.delete(whole[1])
          return values[whole[1]]
        }
        return [fill(item)]
      })
    }
    if (typeof node === 'string') {
      return node.replace(/\$\{(\w+)\}/g, (_, name) => {
        if (typeof values[name] !== 'string') throw new Error(`${path}: no string value for \${${name}}`)
        unused.delete(name)
        return values[name]
      })
    }
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, fill(v)]))
    }
    return node
  }
  const filled = fill(JSON.parse(readRepoFile(path)))
  if (unused.size) throw new Error(`${path}: has no placeholder for ${[...unused].join(', ')}`)
  return filled
}
