/**
 * A state machine's DefinitionString as a template holds it (an Fn::Join of ASL text and
 * CloudFormation tokens), turned into ASL with each token replaced by a readable placeholder:
 *   { Ref: 'X' }                   -> '${Ref:X}'      (pseudo parameters too: '${Ref:AWS::Partition}')
 *   { 'Fn::GetAtt': ['X', 'Arn'] } -> '${GetAtt:X.Arn}'
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { resolveTokens } from '../../local/cloudformation';

// A template value as CDK's Template.toJSON() types it.
type Json = ReturnType<Template['toJSON']>[string];

export const refPlaceholder = (logicalId: string) => `\${Ref:${logicalId}}`;
export const getAttPlaceholder = (logicalId: string, attribute: string) => `\${GetAtt:${logicalId}.${attribute}}`;

const placeholder = (token: Json): string => resolveTokens(token, { ref: refPlaceholder, getAtt: getAttPlaceholder });

/** Parsed ASL of a DefinitionString (a plain string or an Fn::Join). */
export function parseDefinitionString(definitionString: Json): Json {
  return JSON.parse(placeholder(definitionString));
}

/** Parsed ASL of the template's only state machine (or of `logicalId`). */
export function definitionOf(template: Template, logicalId?: string): Json {
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  const ids = Object.keys(machines);
  const id = logicalId ?? (ids.length === 1 ? ids[0] : undefined);
  if (!id || !machines[id]) throw new Error(`expected one state machine or a known logical id, found ${ids.join(', ') || 'none'}`);
  return parseDefinitionString(machines[id].Properties.DefinitionString);
}
