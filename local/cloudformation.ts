/** A synthesized template's values as they would be once deployed, offline (fake account and region). */
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export const ACCOUNT = '000000000000';
export const REGION = 'us-east-1';
export const fakeLambdaArn = (logicalId: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${logicalId}`;

/** What a CloudFormation reference stands for, asked of the caller. */
export interface TokenValues {
  ref(logicalId: string): string;
  getAtt(logicalId: string, attribute: string): string;
}

/** Walks a CloudFormation value (string, number, boolean, Ref, Fn::GetAtt, Fn::Join) into text. */
export function resolveTokens(token: Json, values: TokenValues): string {
  const resolve = (t: Json): string => {
    if (typeof t === 'string') return t;
    if (typeof t === 'number' || typeof t === 'boolean') return String(t);
    if (t?.Ref !== undefined) return values.ref(t.Ref as string);
    if (t?.['Fn::GetAtt']) {
      const [id, attr] = t['Fn::GetAtt'] as [string, string];
      return values.getAtt(id, attr);
    }
    if (t?.['Fn::Join']) {
      const [sep, parts] = t['Fn::Join'] as [string, Json[]];
      return parts.map(resolve).join(sep);
    }
    throw new Error(`unsupported token: ${JSON.stringify(t).slice(0, 200)}`);
  };
  return resolve(token);
}

/**
 * Resolves a CloudFormation value to what it would be once deployed: Lambda ARNs become fake
 * ARNs keyed by logical id, other resources come from `refs`.
 */
export function resolveValue(template: Json, token: Json, refs: Record<string, string>): string {
  const resources = template.Resources as Record<string, Json>;
  return resolveTokens(token, {
    ref: (id) => {
      if (id === 'AWS::Partition') return 'aws';
      if (id === 'AWS::Region') return REGION;
      if (id === 'AWS::AccountId') return ACCOUNT;
      if (id === 'AWS::URLSuffix') return 'amazonaws.com';
      if (refs[id] !== undefined) return refs[id];
      throw new Error(`no local value for Ref ${id} (${resources[id]?.Type ?? 'unknown resource'})`);
    },
    getAtt: (id, attr) => {
      if (resources[id]?.Type === 'AWS::Lambda::Function' && attr === 'Arn') return fakeLambdaArn(id);
      if (refs[`${id}.${attr}`] !== undefined) return refs[`${id}.${attr}`];
      throw new Error(`no local value for Fn::GetAtt ${id}.${attr}`);
    },
  });
}

/** The state machine's definition (ASL), as it would be deployed. */
export function resolveDefinition(template: Json, stateMachineLogicalId: string, refs: Record<string, string>): Json {
  const sm = template.Resources?.[stateMachineLogicalId];
  if (!sm) throw new Error(`state machine ${stateMachineLogicalId} is not in the template`);
  return JSON.parse(resolveValue(template, sm.Properties.DefinitionString, refs));
}

/** A Lambda function's environment variables, as it would be deployed. */
export function resolveEnvironment(template: Json, functionLogicalId: string, refs: Record<string, string>): Record<string, string> {
  const vars = template.Resources?.[functionLogicalId]?.Properties?.Environment?.Variables ?? {};
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, resolveValue(template, v, refs)]));
}

export const executionArn = (stateMachine: string, name: string) => `arn:aws:states:${REGION}:${ACCOUNT}:execution:${stateMachine}:${name}`;
