/** @module A record prepared for matching: its id, where it came from, and its normalised values by compared column. */
import type { FieldValue } from './normalise.js'

export interface MatchRecord {
  readonly id: string
  /** 0 for the main (or only) file, 1 for the `--link` file. */
  readonly source: 0 | 1
  /** Normalised values, in the order of the config's columns; null where missing. */
  readonly fields: readonly (FieldValue | null)[]
}
