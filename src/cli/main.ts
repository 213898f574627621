/** Entry point of the `chimera` command line (dist/cli.js). */
import { VERSION } from '../core/version';
import { runWithEngineSettings } from '../engine/launch';
import { HELP_TEXT, parseArgs } from './args';
import { runBench } from './bench';
import { runDoctor } from './doctor';
import { runGenerate } from './generate';
import { runServe } from './serve';
import { runVerify } from './verify';

/** Exit code for usage errors, following the common shell convention. */
const EXIT_USAGE = 2;

/** Runs `command` under the engine's process settings (this command again in a child, when it lacks them). */
function asEngine(command: () => Promise<void>): Promise<void> {
  return runWithEngineSettings(process.argv[1]!, process.argv.slice(2), command);
}

async function main(): Promise<void> {
  const action = parseArgs(process.argv.slice(2));
  switch (action.kind) {
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return;
    case 'help':
      process.stdout.write(HELP_TEXT);
      return;
    case 'usage-error':
      process.stderr.write(`chimera: error: ${action.message}\nRun 'chimera --help' for usage.\n`);
      process.exitCode = EXIT_USAGE;
      return;
    // These decode as the engine does, so they run under its process settings (launch.ts): a server runs
    // for long, and generate and bench should measure and behave like the engine the extension starts.
    case 'generate':
      return asEngine(() => runGenerate(action.args));
    case 'bench':
      return asEngine(() => runBench(action.args));
    case 'serve':
      return asEngine(() => runServe(action.args));
    case 'verify':
      return runVerify(action.args);
    case 'doctor':
      return runDoctor(action.args);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`chimera: error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
