/** @module Reads a whole delimited text (CSV, TSV) into a header and rows that keep their line numbers. */
import { CsvParser, detectDelimiter } from '../../cli/import/csv.js'

export interface CsvTable {
  readonly header: readonly string[]
  readonly rows: readonly { readonly line: number; readonly cells: Readonly<Record<string, string>>; readonly problem?: string }[]
}

/** Parses `text`; the delimiter is detected from the first line unless given. Blank lines are skipped. */
export function parseCsvTable(text: string, delimiter?: string): CsvTable {
  const parser = new CsvParser({ delimiter: delimiter ?? detectDelimiter(text.slice(0, 4096)) })
  const records = [...parser.push(text), ...parser.end()]
  const [first, ...rest] = records
  if (!first) return { header: [], rows: [] }
  const header = first.fields.map((h) => h.trim().replace(/^\uFEFF/, ''))
  return {
    header,
    rows: rest.map((r) => {
      const cells: Record<string, string> = {}
      header.forEach((h, i) => { cells[h] = r.fields[i] ?? '' })
      return { line: r.line, cells, ...(r.problem ? { problem: r.problem } : r.fields.length !== header.length ? { problem: `has ${r.fields.length} fields, the header has ${header.length}` } : {}) }
    }),
  }
}
