/**
 * The command line -> a verb, its positionals and flag values. Every problem is a UsageError that
 * names the flag as typed (exit 2, no stack trace).
 */
import { parseArgs } from 'node:util';
import { FLAGS, flagOf, UsageError } from './flags';
import { generalHelp, PROGRAM, verbHelp, verbList, verbNamed, type Verb } from './verbs';

export type FlagValues = Readonly<Record<string, string | boolean | undefined>>;

export interface Command {
  readonly verb: Verb;
  readonly positionals: readonly string[];
  readonly flags: FlagValues;
  /** Said on stderr before the command runs (an old form that still works). */
  readonly notice?: string;
}

export type Parsed = { readonly help: string } | Command;

const isHelpFlag = (a: string) => a === '--help' || a === '-h';
const has = (argv: readonly string[], flag: string) => argv.some((a) => a === flag || a.startsWith(`${flag}=`));

const joinAnd = (xs: readonly string[]) => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);

/** Node's parseArgs errors, in flag terms. */
function flagProblem(e: Error & { code?: string }, verb: Verb): string {
  const named = /'(-{1,2}[^' =]+)/.exec(e.message)?.[1] ?? '';
  const name = named.replace(/^-+/, '');
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    if (FLAGS[name]) return `flag ${flagOf(name)} is not a flag of ${verb.name}`;
    return `unknown flag ${named}`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (FLAGS[name]?.boolean) return `flag ${flagOf(name)} takes no value`;
    return `flag ${flagOf(name)} needs a value (${flagOf(name)} ${FLAGS[name]?.value ?? 'VALUE'}; a value starting with - as ${flagOf(name)}=VALUE)`;
  }
  return e.message;
}

export function parseCommandLine(argv: readonly string[]): Parsed {
  const [first, ...rest] = argv;
  if (first === undefined || isHelpFlag(first)) return { help: generalHelp() };
  if (first === 'help') {
    if (rest[0] === undefined) return { help: generalHelp() };
    const v = verbNamed(rest[0]);
    if (!v) throw new UsageError(`no command "${rest[0]}"; the commands are ${verbList()}`);
    return { help: verbHelp(v) };
  }
  if (first.startsWith('-')) throw new UsageError(`the command comes first: ${PROGRAM} <command> [flags]; the commands are ${verbList()}`);
  let verb = verbNamed(first);
  if (!verb) throw new UsageError(`no command "${first}"; the commands are ${verbList()}`);
  if (rest.some(isHelpFlag)) return { help: verbHelp(verb) };

  // `status` used to list partition states; given a landing bucket, that is still what it does.
  let notice: string | undefined;
  if (verb.name === 'status' && has(rest, '--landing-bucket')) {
    verb = verbNamed('partitions')!;
    notice = `note: "status" lists the deployed workflow's executions now; the partition states are "${PROGRAM} partitions" with the same flags`;
  }

  const options = Object.fromEntries(verb.flags.map((n) => [n, { type: FLAGS[n].boolean ? ('boolean' as const) : ('string' as const) }]));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(flagProblem(e as Error, verb), verb.name);
  }
  const [min, max] = verb.positionals ?? [0, 0];
  const positionals = parsed.positionals;
  if (positionals.length > max) {
    const extra = positionals.slice(max);
    throw new UsageError(`${verb.name} takes ${max ? `only ${verb.args}` : 'no arguments'}, got ${extra.map((p) => `"${p}"`).join(' ')}${extra[0].includes('=') ? ` (a flag is --name value)` : ''}`, verb.name);
  }
  if (positionals.length < min) throw new UsageError(`${verb.name} needs ${verb.args}`, verb.name);
  const values = parsed.values as FlagValues;
  for (const [name, value] of Object.entries(values)) {
    if (value === '') throw new UsageError(`flag ${flagOf(name)} needs a value, got an empty one`, verb.name);
  }
  const missing = (verb.required ?? []).filter((n) => values[n] === undefined).map(flagOf);
  if (missing.length) throw new UsageError(`${verb.name} needs ${joinAnd(missing)}`, verb.name);
  return { verb, positionals, flags: values, ...(notice ? { notice } : {}) };
}

/** What a user who got a usage error is told to type for help. */
export const helpHint = (verb?: string) => `see: ${PROGRAM} help${verb ? ` ${verb}` : ''}`;
