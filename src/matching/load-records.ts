/**
 * @module Reads a CSV file of records for matching with the project's streaming CSV reader (BOM, quotes,
 * `, ` separators, delimiter detection), checks the configured columns are there, and normalises every row.
 * A row that cannot be used (ragged, bad quoting, no id, an id seen before) is reported with its line and
 * skipped; the run goes on.
 */
import { ConfigError } from '../core/errors.js'
import { ImportFileError, readRows } from '../cli/import/read-rows.js'
import { checkColumnsPresent, type MatchConfig } from './match-config.js'
import type { MatchRecord } from './match-record.js'
import { normaliseValue } from './normalise.js'

export interface RowProblem {
  readonly file: string
  readonly line: number
  readonly message: string
}

export interface LoadedRecords {
  readonly records: MatchRecord[]
  /** Raw values of extra columns asked for (e.g. a ground-truth column), by record, in record order. */
  readonly extra: string[][]
  readonly problems: RowProblem[]
  readonly header: readonly string[]
}

export interface LoadOptions {
  readonly source?: 0 | 1
  /** Further columns to read as they are (not compared), e.g. the ground truth for evaluation. */
  readonly extraColumns?: readonly string[]
  /** Called with bytes read so far. */
  readonly onBytes?: (bytes: number) => void
}

/** A file that cannot be read at all. */
export class RecordFileError extends ConfigError {
  constructor(message: string) {
    super(message)
    this.name = 'RecordFileError'
  }
}

/** Loads and normalises the records of a CSV file under `config`. */
export async function loadRecords(file: string, config: MatchConfig, options: LoadOptions = {}): Promise<LoadedRecords> {
  const records: MatchRecord[] = []
  const extra: string[][] = []
  const problems: RowProblem[] = []
  const seen = new Map<string, number>()
  const extraColumns = options.extraColumns ?? []
  let header: readonly string[] = []
  const source = options.source ?? 0
  try {
    for await (const row of readRows(file, {
      format: 'csv',
      onHeader: (columns) => {
        header = columns
        checkColumnsPresent(config, columns, file)
        const missing = extraColumns.filter((c) => !columns.includes(c))
        if (missing.length > 0) throw new ConfigError(`${file} has no column ${missing.map((m) => JSON.stringify(m)).join(', ')}; its columns are ${columns.join(', ')}`)
      },
      ...(options.onBytes ? { onBytes: options.onBytes } : {}),
    })) {
      if (row.problem !== undefined || row.record === undefined) {
        problems.push({ file, line: row.line, message: row.problem ?? 'unreadable row' })
        continue
      }
      const values = row.record
      const text = (column: string): string => {
        const v = values[column]
        return typeof v === 'string' ? v : ''
      }
      const id = text(config.id).trim()
      if (id === '') {
        problems.push({ file, line: row.line, message: `no record id in column ${JSON.stringify(config.id)}` })
        continue
      }
      const earlier = seen.get(id)
      if (earlier !== undefined) {
        problems.push({ file, line: row.line, message: `record id ${JSON.stringify(id)} was already used on line ${earlier}; ids must be unique` })
        continue
      }
      seen.set(id, row.line)
      records.push({ id, source, fields: config.columns.map((c) => normaliseValue(text(c.name), c.kind, config.dateOrder)) })
      if (extraColumns.length > 0) extra.push(extraColumns.map(text))
    }
  } catch (error) {
    if (error instanceof ImportFileError) throw new RecordFileError(`${file}: ${error.message}`)
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new RecordFileError(`${file} does not exist (check the path)`)
    if (code === 'EISDIR') throw new RecordFileError(`${file} is a directory, not a CSV file`)
    throw error
  }
  return { records, extra, problems, header }
}
