/** @module Where the embedded mode keeps its files under the data dir. */
import { join, resolve } from 'node:path'

export interface DataLayout {
  readonly dataDir: string
  /** `events.raw`: appended by the ingest API (main thread), consumed by the pipeline. */
  readonly rawLog: string
  /** `events.resolved` and `events.dead-letter`: appended by the pipeline. */
  readonly outputLog: string
  /** Identity graph, profiles, timeline, dedupe keys, sessions, consumer offsets. */
  readonly state: string
  /** Held by the running `tessera up`; `replay` refuses to run while it is held. */
  readonly lock: string
}

export function dataLayout(dataDir: string): DataLayout {
  const dir = resolve(dataDir)
  return {
    dataDir: dir,
    rawLog: join(dir, 'log', 'raw.db'),
    outputLog: join(dir, 'log', 'output.db'),
    state: join(dir, 'state.db'),
    lock: join(dir, 'tessera.lock'),
  }
}
