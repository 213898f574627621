/**
 * Engine process entry point (dist/engine.js), started by the extension host with child_process.fork.
 * It speaks JSON-RPC over the IPC channel, logs to stderr, and exits on `shutdown` or as soon as its
 * parent goes away (the IPC channel closes), so it never outlives the editor.
 */
import { createMessageConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';
import { Engine } from './engine';
import { stderrLog } from './log';
import { serve } from './server';

const log = stderrLog();

if (typeof process.send !== 'function') {
  log('error', 'dist/engine.js must be started with child_process.fork (it talks JSON-RPC over the IPC channel)');
  process.exit(2);
}

const engine = new Engine(log);
const connection = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));

function exit(code: number, why: string): void {
  log(code === 0 ? 'info' : 'warn', `engine exiting: ${why}`);
  engine.cancelAll(why);
  void engine.unload().finally(() => process.exit(code));
}

serve(connection, engine, () => exit(0, 'shutdown requested'));
process.on('disconnect', () => exit(0, 'the parent process went away'));
connection.onClose(() => exit(0, 'the connection closed'));
process.on('uncaughtException', (err) => {
  log('error', `uncaught: ${err.stack ?? err.message}`);
  process.exit(70);
});
connection.listen();
log('info', `engine ${process.pid} started (node ${process.version}${process.versions.electron ? `, electron ${process.versions.electron}` : ''})`);
