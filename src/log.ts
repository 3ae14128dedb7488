import { pino, type Logger } from 'pino';

/** The process logger: JSON lines on stdout (pino). */
export function createLogger(level: string): Logger {
  return pino({ level, base: { name: 'switchyard' } });
}
