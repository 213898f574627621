/**
 * Pure argument parsing for the `chimera` command line, kept apart from main.ts so unit tests can
 * cover it without spawning a process. Every mistake becomes a usage error with a clear message.
 */
import type { DecodingMode } from '../core/decoder';
import type { TreeKind } from '../core/policy';
import type { DraftPlacement } from '../core/model';
import type { DeviceRequest } from '../core/session';

export const MODES: readonly DecodingMode[] = ['autoregressive', 'chimera', 'ngram'];
const DEVICES: readonly DeviceRequest[] = ['auto', 'gpu', 'cpu'];
const TREE_KINDS: readonly TreeKind[] = ['cost', 'static'];
const DRAFT_PLACEMENTS: readonly DraftPlacement[] = ['cpu', 'target'];

export interface GenerateArgs {
  model?: string;
  prompt?: string;
  promptFile?: string;
  suffixFile?: string;
  chat: boolean;
  maxTokens: number;
  mode: DecodingMode;
  temperature: number;
  seed: number;
  device: DeviceRequest;
  json: boolean;
  /** Cap on the context (tokens); the package's own limit still applies. */
  maxContext?: number;
}

export interface BenchArgs {
  model?: string;
  /** Absent with --profile alone: print the cost profile and stop. */
  prompts: string;
  modes: DecodingMode[];
  maxTokens: number;
  device: DeviceRequest;
  json: boolean;
  repeat: number;
  /** Print the measured cost profile (c(T), draft cost) before any runs. */
  profile: boolean;
  /** The tree policy: `cost` (measured, dynamic) or `static` (the manifest's tree, draft on every step). */
  tree: TreeKind;
  /** A cost profile to weigh trees by instead of this machine's (another device's, replayed). */
  costProfile?: string;
  /** Cap on the context (tokens); the package's own limit still applies. */
  maxContext?: number;
  /** Where the draft runs beside a GPU target (core/model.ts DraftPlacement). */
  draftOn: DraftPlacement;
}

export interface ServeArgs {
  model?: string;
  port: number;
  device: DeviceRequest;
  /** Bearer token clients must send; also read from CHIMERA_API_TOKEN. */
  token?: string;
  /** A file whose first line is the token (kept out of the process list, where --token shows). */
  tokenFile?: string;
  /** Generations admitted at once; more get 503. */
  maxQueue: number;
  /** Cap on the context (tokens); the package's own limit still applies. */
  maxContext?: number;
}

export interface VerifyArgs {
  model?: string;
  cases?: string;
  tolerance?: number;
  device: DeviceRequest;
  json: boolean;
}

export interface DoctorArgs {
  model?: string;
  device: DeviceRequest;
  /** Let a software adapter count as usable (default: CHIMERA_ALLOW_SOFTWARE_GPU). */
  allowSoftwareGpu?: boolean;
  /** Measure c(1) on each usable provider (off with --no-measure). */
  measure: boolean;
  json: boolean;
}

export type CliAction =
  | { kind: 'version' }
  | { kind: 'doctor'; args: DoctorArgs }
  | { kind: 'help' }
  | { kind: 'generate'; args: GenerateArgs }
  | { kind: 'bench'; args: BenchArgs }
  | { kind: 'serve'; args: ServeArgs }
  | { kind: 'verify'; args: VerifyArgs }
  /** A usage error: print `message` and exit with code 2. */
  | { kind: 'usage-error'; message: string };

export const HELP_TEXT = `Usage: chimera <command> [options]

Local code model engine of Chimera Code (runs offline, sends nothing anywhere).

Commands:
  generate   Generate text with a model package and stream it to stdout.
               --model DIR          package folder (default: the bundled model)
               --prompt TEXT | --prompt-file F
               --suffix-file F      fill in the middle between the prompt and this suffix
               --chat               wrap the prompt as a chat message
               --max-tokens N       (default 128)
               --mode autoregressive|chimera|ngram   (default chimera, or ngram without a draft)
               --temperature T      (default 0: greedy)   --seed S (default 0)
               --device auto|gpu|cpu (default auto)     --json   print text and statistics as JSON
               --max-context N      context cap in tokens (default 8192, within the model's own limit)
  bench      Compare decoding modes on the same prompts in one process; prints JSON.
               --model DIR  --prompts FILE.jsonl: one JSON object per line, {"prompt": ..., "suffix"?: ...}
                            (a suffix makes it fill-in-the-middle), or {"task": "edit", "code", "instruction", "language"}
               --modes autoregressive,chimera,ngram  --max-tokens N (default 128)
               --device auto|gpu|cpu  --repeat N (runs per prompt, default 1)  --json
               --profile   print the measured cost profile: c(T) per verification size, draft ms per call
               --tree cost|static   tree policy: measured-cost dynamic trees (default) or the manifest's fixed tree
               --draft-on cpu|target   where the draft runs beside a GPU target (default cpu: on a GPU its
                                    small sequential operations cost more in launches than they compute)
               --cost-profile F     weigh trees by this profile (a --profile report, say of a larger model or a
                                    GPU) instead of this machine's: shows which trees the policy picks there
  serve      OpenAI-compatible HTTP API on 127.0.0.1. It answers only to loopback host names and refuses
             requests from web pages (Origin), and POST bodies must be application/json.
               --port P (default 8012)  --model DIR  --device auto|gpu|cpu
               --token-file F       require "Authorization: Bearer T", T the first line of file F
                                    (default: $CHIMERA_API_TOKEN, if set)
               --token T            the same, T given here (other users of the machine can read it
                                    in the process list; prefer the file or the variable)
               --max-queue N        generations admitted at once; more are answered 503 (default 8)
  verify     Check a model package's logits and hidden states against reference cases
             (a prefill, a decode step on the KV cache, a tree-masked block); exit code 1 on a mismatch.
               --model DIR  --cases FILE.json (default: the package's verify.json, written by the converter)
               --tolerance X (default: the file's, else 1e-4)  --device auto|gpu|cpu  --json
  doctor     GPU diagnostics: the platform, the execution providers present, each adapter found (name,
             vendor, backend, software or not), the device chosen and why each other candidate was refused,
             and c(1) (ms to verify one token) on each usable provider.
               --model DIR  --device auto|gpu|cpu  --allow-software-gpu  --no-measure  --json

Options:
  -h, --help       Show this help.
  -v, --version    Print the version.
`;

type Flags = Map<string, string | true>;
const BOOLEAN_FLAGS = new Set(['json', 'chat', 'profile', 'allow-software-gpu', 'no-measure']);

function readFlags(argv: readonly string[]): Flags | string {
  const flags: Flags = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) return `unexpected argument '${arg}'`;
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (BOOLEAN_FLAGS.has(name)) {
      flags.set(name, true);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) return `--${name} needs a value`;
    flags.set(name, value);
  }
  return flags;
}

class UsageError extends Error {}

function take(flags: Flags, name: string): string | undefined {
  const v = flags.get(name);
  flags.delete(name);
  return typeof v === 'string' ? v : undefined;
}

function number(flags: Flags, name: string, fallback: number, check: (n: number) => boolean, rule: string): number {
  const raw = take(flags, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || !check(n)) throw new UsageError(`--${name} must be ${rule} (got '${raw}')`);
  return n;
}

/** `--max-context N`, present in the parsed arguments only when given. */
function maxContextFlag(flags: Flags): { maxContext?: number } {
  if (!flags.has('max-context')) return {};
  return { maxContext: number(flags, 'max-context', 0, (n) => Number.isInteger(n) && n >= 64, 'an integer of at least 64') };
}

function oneOf<T extends string>(flags: Flags, name: string, allowed: readonly T[], fallback: T): T {
  const raw = take(flags, name);
  if (raw === undefined) return fallback;
  if (!allowed.includes(raw as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')} (got '${raw}')`);
  return raw as T;
}

function bool(flags: Flags, name: string): boolean {
  const v = flags.get(name) === true;
  flags.delete(name);
  return v;
}

function rejectLeftovers(flags: Flags, command: string): void {
  const [first] = flags.keys();
  if (first !== undefined) throw new UsageError(`unknown option --${first} for '${command}'`);
}

const isPositiveInt = (n: number) => Number.isInteger(n) && n > 0;

function parseGenerate(flags: Flags): GenerateArgs {
  const args: GenerateArgs = {
    model: take(flags, 'model'),
    prompt: take(flags, 'prompt'),
    promptFile: take(flags, 'prompt-file'),
    suffixFile: take(flags, 'suffix-file'),
    chat: bool(flags, 'chat'),
    maxTokens: number(flags, 'max-tokens', 128, isPositiveInt, 'a positive integer'),
    mode: oneOf(flags, 'mode', MODES, 'chimera'),
    temperature: number(flags, 'temperature', 0, (n) => n >= 0 && n <= 2, 'between 0 and 2'),
    seed: number(flags, 'seed', 0, Number.isInteger, 'an integer'),
    device: oneOf(flags, 'device', DEVICES, 'auto'),
    json: bool(flags, 'json'),
    ...maxContextFlag(flags),
  };
  rejectLeftovers(flags, 'generate');
  if ((args.prompt === undefined) === (args.promptFile === undefined)) throw new UsageError('generate needs exactly one of --prompt TEXT or --prompt-file F');
  if (args.chat && args.suffixFile) throw new UsageError('--chat and --suffix-file cannot be combined');
  return args;
}

function parseBench(flags: Flags): BenchArgs {
  const prompts = take(flags, 'prompts');
  const modesRaw = take(flags, 'modes') ?? MODES.join(',');
  const modes = modesRaw.split(',').map((m) => m.trim());
  const bad = modes.find((m) => !MODES.includes(m as DecodingMode));
  if (bad !== undefined) throw new UsageError(`--modes takes a comma-separated list of ${MODES.join(', ')} (got '${bad}')`);
  const args: BenchArgs = {
    model: take(flags, 'model'),
    prompts: prompts ?? '',
    modes: [...new Set(modes as DecodingMode[])],
    maxTokens: number(flags, 'max-tokens', 128, isPositiveInt, 'a positive integer'),
    device: oneOf(flags, 'device', DEVICES, 'auto'),
    json: bool(flags, 'json'),
    repeat: number(flags, 'repeat', 1, isPositiveInt, 'a positive integer'),
    profile: bool(flags, 'profile'),
    tree: oneOf(flags, 'tree', TREE_KINDS, 'cost'),
    costProfile: take(flags, 'cost-profile'),
    draftOn: oneOf(flags, 'draft-on', DRAFT_PLACEMENTS, 'cpu'),
    ...maxContextFlag(flags),
  };
  rejectLeftovers(flags, 'bench');
  if (prompts === undefined && !args.profile) throw new UsageError('bench needs --prompts FILE.jsonl (or --profile)');
  return args;
}

function parseServe(flags: Flags): ServeArgs {
  const args: ServeArgs = {
    model: take(flags, 'model'),
    port: number(flags, 'port', 8012, (n) => Number.isInteger(n) && n >= 0 && n < 65536, 'a port number'),
    device: oneOf(flags, 'device', DEVICES, 'auto'),
    token: take(flags, 'token'),
    tokenFile: take(flags, 'token-file'),
    maxQueue: number(flags, 'max-queue', 8, isPositiveInt, 'a positive integer'),
    ...maxContextFlag(flags),
  };
  rejectLeftovers(flags, 'serve');
  if (args.token !== undefined && args.token.trim() === '') throw new UsageError('--token must not be empty');
  if (args.token !== undefined && args.tokenFile !== undefined) throw new UsageError('give --token or --token-file, not both');
  if (args.tokenFile === undefined) delete args.tokenFile;
  return args;
}

function parseVerify(flags: Flags): VerifyArgs {
  const tolerance = take(flags, 'tolerance');
  const args: VerifyArgs = {
    model: take(flags, 'model'),
    cases: take(flags, 'cases'),
    tolerance: tolerance === undefined ? undefined : Number(tolerance),
    device: oneOf(flags, 'device', DEVICES, 'auto'),
    json: bool(flags, 'json'),
  };
  rejectLeftovers(flags, 'verify');
  if (args.tolerance !== undefined && !(args.tolerance >= 0)) throw new UsageError(`--tolerance must be a non-negative number (got '${tolerance}')`);
  return args;
}

function parseDoctor(flags: Flags): DoctorArgs {
  const allow = bool(flags, 'allow-software-gpu');
  const args: DoctorArgs = {
    model: take(flags, 'model'),
    device: oneOf(flags, 'device', DEVICES, 'auto'),
    ...(allow ? { allowSoftwareGpu: true } : {}),
    measure: !bool(flags, 'no-measure'),
    json: bool(flags, 'json'),
  };
  rejectLeftovers(flags, 'doctor');
  return args;
}

export function parseArgs(argv: readonly string[]): CliAction {
  const [first, ...rest] = argv;
  if (first === undefined) return { kind: 'usage-error', message: 'no command given.' };
  if (first === '--help' || first === '-h' || first === 'help') return { kind: 'help' };
  if (first === '--version' || first === '-v') return { kind: 'version' };
  const parsers = { generate: parseGenerate, bench: parseBench, serve: parseServe, verify: parseVerify, doctor: parseDoctor } as const;
  if (!(first in parsers)) {
    return { kind: 'usage-error', message: first.startsWith('-') ? `unknown option '${first}'.` : `unknown command '${first}'.` };
  }
  const flags = readFlags(rest);
  if (typeof flags === 'string') return { kind: 'usage-error', message: flags };
  try {
    const command = first as keyof typeof parsers;
    return { kind: command, args: parsers[command](flags) } as CliAction;
  } catch (err) {
    if (err instanceof UsageError) return { kind: 'usage-error', message: err.message };
    throw err;
  }
}
