/**
 * @module What `tessera import` tells the user at the end: counts, the rejected rows with their line and reason,
 * and the `<file>.rejected.csv` holding every rejected row so it can be fixed and imported again.
 */
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { formatCsvRow } from './csv.js'
import { REJECTED_LINE_COLUMN, REJECTED_REASON_COLUMN } from './row-mapping.js'

export interface RejectedRow {
  /** 1-based line of the input file. */
  readonly line: number
  readonly reason: string
  /** The row as read (CSV fields, or the JSONL line). */
  readonly original: readonly string[]
}

export interface ImportSummary {
  readonly file: string
  readonly source: string
  /** Server URL, or null for a dry run. */
  readonly url: string | null
  readonly rowsRead: number
  /** Events the server accepted (for a dry run: events that would be sent). */
  readonly accepted: number
  readonly rejected: readonly RejectedRow[]
  readonly retried: number
  /** Rows sent with an anonymousId derived from their e-mail or phone. */
  readonly derivedAnonymousIds: number
  readonly seconds: number
  /** Path of the rejected-rows file, when one was written. */
  readonly rejectedFile: string | null
}

/** How many rejected rows the console report lists; the file has them all. */
export const REPORT_LISTED = 20

/** Lines of the report (no trailing newline). */
export function formatImportReport(summary: ImportSummary): string {
  const n = (v: number): string => v.toLocaleString('en-US')
  const width = Math.max(...[summary.rowsRead, summary.accepted, summary.rejected.length].map((v) => n(v).length))
  const pad = (v: number): string => n(v).padStart(width)
  const rate = summary.seconds > 0 ? ` (${n(Math.round(summary.rowsRead / summary.seconds))} rows/s)` : ''
  const lines = [
    summary.url === null
      ? `Dry run of ${summary.file} as source "${summary.source}": nothing was sent.`
      : `Imported ${summary.file} as source "${summary.source}" into ${summary.url}`,
    `  rows read        ${pad(summary.rowsRead)}`,
    `  ${summary.url === null ? 'events ready   ' : 'events accepted'}  ${pad(summary.accepted)}`,
    `  rows rejected    ${pad(summary.rejected.length)}${summary.rejectedFile === null ? '' : `  (all written to ${summary.rejectedFile})`}`,
  ]
  if (summary.retried > 0) lines.push(`  requests retried ${pad(summary.retried)}  (server busy or unreachable for a moment)`)
  if (summary.derivedAnonymousIds > 0) {
    lines.push(`  note: ${n(summary.derivedAnonymousIds)} row(s) had no userId or anonymousId, which the tracking API requires; each got a`,
      '        stable anonymousId derived from its e-mail (or phone), the same on every import of that contact')
  }
  lines.push(`  took ${summary.seconds.toFixed(1)} s${rate}`)
  const sorted = [...summary.rejected].sort((a, b) => a.line - b.line)
  if (sorted.length > 0) {
    lines.push('', 'Rejected rows:')
    for (const r of sorted.slice(0, REPORT_LISTED)) lines.push(`  line ${String(r.line).padEnd(7)} ${r.reason}`)
    if (sorted.length > REPORT_LISTED) lines.push(`  ... and ${n(sorted.length - REPORT_LISTED)} more`)
  }
  return lines.join('\n')
}

/**
 * Writes the rejected rows, in line order, as CSV with the input's delimiter: `rejected_line`, `rejected_reason`,
 * then the row's own columns (the CSV header's, or one `record` column holding the JSONL line). The import
 * ignores the two added columns, so the fixed file can be imported as it is.
 */
export async function writeRejectedFile(
  path: string, columns: readonly string[] | null, rows: readonly RejectedRow[], delimiter: string = ',',
): Promise<void> {
  const out = createWriteStream(path, { encoding: 'utf8' })
  const closed = once(out, 'close')
  const write = async (text: string): Promise<void> => {
    if (!out.write(text)) await once(out, 'drain')
  }
  await write(formatCsvRow([REJECTED_LINE_COLUMN, REJECTED_REASON_COLUMN, ...(columns ?? ['record'])], delimiter))
  for (const r of [...rows].sort((a, b) => a.line - b.line)) await write(formatCsvRow([String(r.line), r.reason, ...r.original], delimiter))
  out.end()
  await closed
}
