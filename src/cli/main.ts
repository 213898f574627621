/** Entry point of the `chimera` command line (dist/cli.js). */
import { VERSION } from '../core/version';
import { HELP_TEXT, parseArgs } from './args';

/** Exit code for usage errors, following the common shell convention. */
const EXIT_USAGE = 2;

const action = parseArgs(process.argv.slice(2));
switch (action.kind) {
  case 'version':
    process.stdout.write(`${VERSION}\n`);
    break;
  case 'help':
    process.stdout.write(HELP_TEXT);
    break;
  case 'usage-error':
    process.stderr.write(`chimera: error: ${action.message}\nRun 'chimera --help' for usage.\n`);
    process.exitCode = EXIT_USAGE;
    break;
}
