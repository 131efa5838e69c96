/** @module The process logger (pino). Secrets are redacted by path; request logging is off (see server/app.ts). */
import { pino, type Logger } from 'pino'

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({
    level,
    base: { service: 'tessera' },
    redact: { paths: ['*.authorization', '*.writeKey', '*.token', '*.adminToken', 'headers.authorization'], censor: '[redacted]' },
  }, destination ?? process.stdout)
}
