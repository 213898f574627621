/**
 * Pure argument parsing for the `chimera` command line, kept apart from main.ts so unit tests can
 * cover it without spawning a process.
 */

/** Subcommands that are planned and documented but not built yet; each names the issue that adds it. */
export const PLANNED_COMMANDS: Readonly<Record<string, string>> = {
  generate: 'the decoding core',
  bench: 'the benchmark tooling',
  serve: 'the engine server',
};

export type CliAction =
  | { kind: 'version' }
  | { kind: 'help' }
  /** A usage error: print `message` and the exit code 2. */
  | { kind: 'usage-error'; message: string };

export const HELP_TEXT = `Usage: chimera <command> [options]

Local code model engine of Chimera Code (runs offline, sends nothing anywhere).

Options:
  -h, --help       Show this help.
  -v, --version    Print the version.

Commands (coming in later builds):
  generate         Generate text from a prompt with a local model package.
  bench            Compare autoregressive, n-gram and Chimera decoding speed (JSON output).
  serve            Run the engine server on stdio.
`;

export function parseArgs(argv: readonly string[]): CliAction {
  const [first] = argv;
  if (first === undefined) return { kind: 'usage-error', message: 'no command given.' };
  if (first === '--help' || first === '-h' || first === 'help') return { kind: 'help' };
  if (first === '--version' || first === '-v') return { kind: 'version' };
  const comingWith = PLANNED_COMMANDS[first];
  if (comingWith !== undefined) {
    return {
      kind: 'usage-error',
      message: `'${first}' is not available yet in this build (it arrives with ${comingWith}).`,
    };
  }
  if (first.startsWith('-')) return { kind: 'usage-error', message: `unknown option '${first}'.` };
  return { kind: 'usage-error', message: `unknown command '${first}'.` };
}
