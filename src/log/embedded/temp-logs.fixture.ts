/** Test fixture: a fresh temp folder per test and every embedded log opened in it closed afterwards. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach } from 'vitest'
import { type EmbeddedEventLog, type EmbeddedEventLogOptions, openEmbeddedEventLog } from './embedded-event-log.js'

export interface TempLogs {
  /** The log file of the current test (`<temp>/log.db`). */
  path(): string
  dir(): string
  /** Opens the current test's log with the defaults given to `useTempLogs`, overridden by `options`. */
  open(options?: Partial<EmbeddedEventLogOptions>): Promise<EmbeddedEventLog>
}

/** Call inside a `describe`: registers the hooks that create and remove the temp folder. */
export function useTempLogs(defaults: Pick<EmbeddedEventLogOptions, 'sync' | 'maxPendingBytes'>): TempLogs {
  let dir = ''
  const opened: EmbeddedEventLog[] = []
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-log-'))
  })
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((log) => log.close()))
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    path: () => join(dir, 'log.db'),
    dir: () => dir,
    async open(options = {}) {
      const log = await openEmbeddedEventLog({ path: join(dir, 'log.db'), ...defaults, ...options })
      opened.push(log)
      return log
    },
  }
}
