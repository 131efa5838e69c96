/**
 * @module Canary checks of the event log at rest, for erasure tests: the raw bytes of every file under a data
 * directory, and every record of every embedded log topic as a fresh process with the keyring reads it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { dataLayout } from '../../src/app/data-layout.js'
import type { TesseraConfig } from '../../src/config/config.js'
import { openExistingKeyring } from '../../src/governance/crypto/open-keyring.js'
import { TOPICS } from '../../src/log/event-log.js'
import { openEmbeddedEventLog } from '../../src/log/embedded/embedded-event-log.js'
import { SealedEventLog } from '../../src/log/sealed/sealed-event-log.js'

/** Paths (relative to `dir`) of files whose raw bytes contain `value` (every file: log files, WAL, journals, keys). */
export function filesHolding(dir: string, value: string, only: (relative: string) => boolean = () => true): string[] {
  const needle = Buffer.from(value, 'utf8')
  const hits: string[] = []
  const walk = (d: string, prefix: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name)
      const relative = prefix === '' ? name : `${prefix}/${name}`
      if (statSync(path).isDirectory()) walk(path, relative)
      else if (only(relative) && readFileSync(path).includes(needle)) hits.push(relative)
    }
  }
  walk(dir, '')
  return hits
}

export interface LogReadout {
  /** Values of every record that opened (clear text). */
  readonly readable: string[]
  /** How many records could not be read because their data key is gone. */
  readonly shredded: number
}

/** Every record of the embedded logs' topics, read through a fresh keyring (what a replay or an attacker with the keys sees). */
export async function readWholeLog(config: TesseraConfig, files: readonly ('raw' | 'output')[] = ['raw', 'output'], topics: readonly string[] = Object.values(TOPICS)): Promise<LogReadout> {
  const layout = dataLayout(config.dataDir)
  const keys = await openExistingKeyring(config, layout.dataDir)
  const readable: string[] = []
  let shredded = 0
  try {
    for (const path of files.map((f) => (f === 'raw' ? layout.rawLog : layout.outputLog))) {
      const log = new SealedEventLog(await openEmbeddedEventLog({ path, sync: 'normal', maxPendingBytes: 0, readOnly: true }), { keyring: keys?.keyring ?? null, seal: false })
      try {
        for (const topic of topics) {
          let partitions: number
          try {
            partitions = await log.partitions(topic)
          } catch {
            continue // not in this file
          }
          for (let p = 0; p < partitions; p++) {
            for (let offset = 0; ;) {
              const batch = await log.read(topic, p, offset, 500)
              if (batch.length === 0) break
              for (const r of batch) {
                if (r.shredded) shredded++
                else readable.push(r.value)
              }
              offset = batch[batch.length - 1]!.offset + 1
            }
          }
        }
      } finally {
        await log.close()
      }
    }
  } finally {
    await keys?.close()
  }
  return { readable, shredded }
}
