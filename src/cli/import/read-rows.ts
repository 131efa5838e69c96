/**
 * @module Streams an import file (CSV or JSONL) as numbered rows, never holding more than a chunk of it: CSV
 * records become objects keyed by the header, JSONL lines become objects; rows that cannot be read carry the
 * reason instead. Reports bytes read for a progress display.
 */
import { createReadStream } from 'node:fs'
import { StringDecoder } from 'node:string_decoder'
import type { JsonObject } from '../../core/event.js'
import { CsvParser, detectDelimiter, type CsvRecord } from './csv.js'
import { LineSplitter, parseJsonLine } from './jsonl.js'

export const IMPORT_FORMATS = ['csv', 'jsonl'] as const
export type ImportFormat = (typeof IMPORT_FORMATS)[number]

/** `.csv`/`.tsv`/`.txt` are CSV, `.jsonl`/`.ndjson`/`.json` are JSONL; null for anything else. */
export function formatOfFile(path: string): ImportFormat | null {
  const lower = path.toLowerCase()
  if (/\.(csv|tsv|txt)$/.test(lower)) return 'csv'
  if (/\.(jsonl|ndjson|json)$/.test(lower)) return 'jsonl'
  return null
}

export interface ImportRow {
  /** 1-based line of the file the row starts on. */
  readonly line: number
  /** The row's values by column (CSV, empty values as `''`) or the JSONL object; absent when `problem` is set. */
  readonly record?: JsonObject
  /** Why the row cannot be used (ragged, bad quoting, not JSON, not UTF-8). */
  readonly problem?: string
  /** The row as read, for the rejected-rows file: CSV fields, or the JSONL line as one field. */
  readonly original: readonly string[]
}

/** The file itself cannot be imported (no header, duplicate columns, runaway quote). */
export class ImportFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ImportFileError'
  }
}

export interface ReadRowsOptions {
  readonly format: ImportFormat
  /** CSV delimiter; detected from the header line when absent. */
  readonly delimiter?: string
  /** Called with the CSV header and delimiter before the first row. */
  readonly onHeader?: (columns: readonly string[], delimiter: string) => void
  /** Called with the total bytes read so far, after each chunk. */
  readonly onBytes?: (bytesRead: number) => void
  /** Read size (default 256 KB). */
  readonly chunkBytes?: number
}

// StringDecoder puts U+FFFD where bytes are not UTF-8: the usual sign of a Latin-1 / Windows-1252 export.
const NOT_UTF8 = 'contains bytes that are not UTF-8; save the file as UTF-8 (in Excel: "CSV UTF-8")'

/** Yields the rows of a file in order. Throws {@link ImportFileError} when the file as a whole is unusable. */
export async function* readRows(path: string, options: ReadRowsOptions): AsyncGenerator<ImportRow> {
  const stream = createReadStream(path, { highWaterMark: options.chunkBytes ?? 256 * 1024 })
  const decoder = new StringDecoder('utf8')
  const csv = options.format === 'csv' ? new CsvRows(options) : null
  const jsonl = options.format === 'jsonl' ? new LineSplitter() : null
  let bytes = 0
  const rowsOf = (text: string, last: boolean): ImportRow[] => {
    if (csv) return csv.rows(text, last)
    const lines = [...jsonl!.push(text), ...(last ? jsonl!.end() : [])]
    const rows: ImportRow[] = []
    for (const { text: lineText, line, problem } of lines) {
      if (problem !== undefined) rows.push({ line, problem, original: [''] })
      else if (lineText.trim() === '') continue
      else if (lineText.includes('\uFFFD')) rows.push({ line, problem: NOT_UTF8, original: [lineText] })
      else {
        const parsed = parseJsonLine(lineText)
        rows.push(parsed.ok ? { line, record: parsed.value, original: [lineText] } : { line, problem: parsed.reason, original: [lineText] })
      }
    }
    return rows
  }
  for await (const chunk of stream) {
    const buffer = chunk as Buffer
    bytes += buffer.length
    const rows = rowsOf(decoder.write(buffer), false)
    options.onBytes?.(bytes)
    yield* rows
  }
  yield* rowsOf(decoder.end(), true)
  if (csv && !csv.sawHeader) throw new ImportFileError('the file is empty: a CSV import needs a header row naming the columns')
}

/** CSV records → rows keyed by the header. */
class CsvRows {
  readonly #options: ReadRowsOptions
  #parser: CsvParser | null = null
  #delimiter = ','
  /** Text held back until the header line is complete, to detect the delimiter from all of it. */
  #pending = ''
  #header: readonly string[] | null = null

  constructor(options: ReadRowsOptions) {
    this.#options = options
  }

  get sawHeader(): boolean {
    return this.#header !== null
  }

  rows(text: string, last: boolean): ImportRow[] {
    if (this.#parser === null) {
      this.#pending += text
      if (!last && !/[\r\n]/.test(this.#pending) && this.#pending.length < 64 * 1024) return []
      text = this.#pending
      this.#pending = ''
      this.#delimiter = this.#options.delimiter ?? detectDelimiter(text.replace(/^\uFEFF/, ''))
      this.#parser = new CsvParser({ delimiter: this.#delimiter })
    }
    let records: CsvRecord[]
    try {
      records = [...this.#parser.push(text), ...(last ? this.#parser.end() : [])]
    } catch (error) {
      throw new ImportFileError(`cannot read the CSV: ${(error as Error).message}`, { cause: error })
    }
    const rows: ImportRow[] = []
    for (const record of records) {
      if (this.#header === null) {
        this.#header = checkHeader(record)
        this.#options.onHeader?.(this.#header, this.#delimiter)
        continue
      }
      rows.push(this.#row(record, this.#header))
    }
    return rows
  }

  #row(record: CsvRecord, header: readonly string[]): ImportRow {
    const { fields, line } = record
    if (record.problem !== undefined) return { line, problem: record.problem, original: fields }
    if (fields.length !== header.length) {
      return { line, problem: `expected ${header.length} fields (as in the header), found ${fields.length}`, original: fields }
    }
    if (fields.some((f) => f.includes('\uFFFD'))) return { line, problem: NOT_UTF8, original: fields }
    const values: JsonObject = {}
    header.forEach((column, i) => {
      if (column !== '') values[column] = fields[i]!
    })
    return { line, record: values, original: fields }
  }
}

function checkHeader(record: CsvRecord): readonly string[] {
  if (record.problem !== undefined) throw new ImportFileError(`the header row (line ${record.line}) cannot be read: ${record.problem}`)
  const columns = record.fields.map((f) => f.trim())
  const seen = new Map<string, number>()
  columns.forEach((column, i) => {
    if (column === '') return
    const earlier = seen.get(column)
    if (earlier !== undefined) {
      throw new ImportFileError(`the header names column ${JSON.stringify(column)} twice (columns ${earlier + 1} and ${i + 1}); rename one`)
    }
    seen.set(column, i)
  })
  if (seen.size === 0) throw new ImportFileError(`the header row (line ${record.line}) names no columns`)
  return columns
}
