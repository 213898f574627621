/** The engine's log: one line per message on stderr, `[level] message`, filtered by CHIMERA_LOG_LEVEL. */
import type { Logger } from '../core/session';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function stderrLog(minLevel: string | undefined = process.env.CHIMERA_LOG_LEVEL): Logger {
  const min = Math.max(0, LOG_LEVELS.indexOf((minLevel ?? 'info') as LogLevel));
  return (level, message) => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    process.stderr.write(`[${level}] ${message.replace(/\n/g, '\n    ')}\n`);
  };
}

/** Parses a line written by stderrLog (the client uses it to route engine lines to the right level). */
export function parseLogLine(line: string): { level: LogLevel; message: string } {
  const match = /^\[(debug|info|warn|error)\] (.*)$/s.exec(line);
  return match ? { level: match[1] as LogLevel, message: match[2]! } : { level: 'info', message: line };
}
