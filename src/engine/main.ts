/**
 * Engine process entry point (dist/engine.js).
 *
 * The extension host will fork this file and talk to it over JSON-RPC; the engine issue replaces
 * this stub with the real server. Until then it fails loudly instead of pretending to serve, so a
 * caller that spawns it sees a clear error rather than a silent hang.
 */
import { VERSION } from '../core/version';

process.stderr.write(`engine: not implemented in this build (chimera-code ${VERSION})\n`);
process.exitCode = 1;
