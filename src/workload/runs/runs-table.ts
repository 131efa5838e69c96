/**
 * @module The generic runs table: one row per run of a Spark (or any batch) job on one cluster configuration,
 * whatever the history came from (event logs, Scout, C3O, a team's own spreadsheet). Required columns:
 * `job, input_bytes, instance_type, nodes, vcpus_per_node, memory_gb_per_node, price_per_node_hour, runtime_s,
 * completed`; any further column is a feature (numeric when every value is a number, else categorical), except
 * the outcome and bookkeeping columns below, which the models predict or carry but never learn from.
 */
import { ValidationError } from '../../core/errors.js'
import { formatCsvRow } from '../../cli/import/csv.js'
import { parseCsvTable } from './csv-table.js'

export const REQUIRED_COLUMNS = [
  'job', 'input_bytes', 'instance_type', 'nodes', 'vcpus_per_node', 'memory_gb_per_node', 'price_per_node_hour', 'runtime_s', 'completed',
] as const

/** Measured outcomes (targets of the memory and CPU models), never features. */
export const OUTCOME_COLUMNS = ['peak_memory_gb_per_executor', 'cpu_seconds', 'spill_bytes'] as const
/** Bookkeeping columns, never features. */
export const META_COLUMNS = ['run_id', 'source', 'observed_at', 'recommendation_id'] as const

export interface RunRow {
  readonly job: string
  /** Input size in bytes; null when unknown. */
  readonly inputBytes: number | null
  readonly instanceType: string
  readonly nodes: number
  readonly vcpusPerNode: number
  readonly memoryGbPerNode: number
  /** On-demand price of one node for an hour (USD); null when unknown (the row still trains runtime models). */
  readonly pricePerNodeHour: number | null
  /** Wall-clock runtime; for a run that did not complete, how long it ran before failing or timing out. */
  readonly runtimeS: number
  readonly completed: boolean
  /** Further features and outcome/bookkeeping columns, as text (empty = missing). */
  readonly extra: Readonly<Record<string, string>>
}

export interface RunsTable {
  readonly rows: readonly RunRow[]
  /** Names of the further columns, in file order. */
  readonly extraColumns: readonly string[]
}

/** A row that was refused, with its line and why. */
export interface RowProblem {
  readonly line: number
  readonly message: string
}

const TRUE = new Set(['true', '1', 'yes', 't'])
const FALSE = new Set(['false', '0', 'no', 'f'])

/** Parses a runs table. Bad rows are returned as problems (line and reason) and left out; a bad header throws. */
export function parseRunsTable(text: string, source = 'runs table'): { table: RunsTable; problems: RowProblem[] } {
  const csv = parseCsvTable(text)
  const missing = REQUIRED_COLUMNS.filter((c) => !csv.header.includes(c))
  if (csv.header.length === 0) throw new ValidationError(source, 'is empty; a runs table starts with a header line: ' + REQUIRED_COLUMNS.join(','))
  if (missing.length > 0) {
    throw new ValidationError(`${source}: header`, `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (required: ${REQUIRED_COLUMNS.join(', ')})`)
  }
  const extraColumns = csv.header.filter((h) => !(REQUIRED_COLUMNS as readonly string[]).includes(h))
  const rows: RunRow[] = []
  const problems: RowProblem[] = []
  for (const r of csv.rows) {
    if (r.problem) {
      problems.push({ line: r.line, message: r.problem })
      continue
    }
    const c = r.cells
    const fail = (column: string, why: string): void => { problems.push({ line: r.line, message: `${column} ${JSON.stringify((c[column] ?? '').slice(0, 40))}: ${why}` }) }
    const number = (column: string, opts: { optional?: boolean; min?: number; integer?: boolean }): number | null | undefined => {
      const v = (c[column] ?? '').trim()
      if (v === '') {
        if (opts.optional) return null
        fail(column, 'is required')
        return undefined
      }
      const n = Number(v)
      if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || n < (opts.min ?? -Infinity)) {
        fail(column, `must be ${opts.integer ? 'an integer' : 'a number'}${opts.min !== undefined ? ` >= ${opts.min}` : ''}`)
        return undefined
      }
      return n
    }
    const job = (c.job ?? '').trim()
    if (job === '') {
      fail('job', 'is required (the name of the recurring job)')
      continue
    }
    const instanceType = (c.instance_type ?? '').trim()
    if (instanceType === '') {
      fail('instance_type', 'is required (e.g. m5.xlarge, n2-standard-8, or "unknown")')
      continue
    }
    const inputBytes = number('input_bytes', { optional: true, min: -1 })
    const nodes = number('nodes', { min: 1, integer: true })
    const vcpus = number('vcpus_per_node', { min: 1 })
    const memory = number('memory_gb_per_node', { min: 0 })
    const price = number('price_per_node_hour', { optional: true, min: 0 })
    const runtime = number('runtime_s', { min: 0 })
    const completedText = (c.completed ?? '').trim().toLowerCase()
    if (!TRUE.has(completedText) && !FALSE.has(completedText)) fail('completed', 'must be true or false')
    if ([inputBytes, nodes, vcpus, memory, price, runtime].includes(undefined) || (!TRUE.has(completedText) && !FALSE.has(completedText))) continue
    const extra: Record<string, string> = {}
    for (const k of extraColumns) extra[k] = (c[k] ?? '').trim()
    rows.push({
      job, inputBytes: inputBytes === null || inputBytes! < 0 ? null : inputBytes!, instanceType, nodes: nodes!, vcpusPerNode: vcpus!,
      memoryGbPerNode: memory!, pricePerNodeHour: price!, runtimeS: runtime!, completed: TRUE.has(completedText), extra,
    })
  }
  return { table: { rows, extraColumns }, problems }
}

/** Writes a runs table (the required columns, then the further ones). */
export function formatRunsTable(table: RunsTable): string {
  const cols = [...REQUIRED_COLUMNS, ...table.extraColumns]
  const lines = [formatCsvRow(cols)]
  for (const r of table.rows) {
    lines.push(formatCsvRow([
      r.job, r.inputBytes === null ? '' : String(r.inputBytes), r.instanceType, String(r.nodes), String(r.vcpusPerNode), String(r.memoryGbPerNode),
      r.pricePerNodeHour === null ? '' : String(r.pricePerNodeHour), String(r.runtimeS), String(r.completed),
      ...table.extraColumns.map((k) => r.extra[k] ?? ''),
    ]))
  }
  // formatCsvRow ends each row with CRLF (RFC 4180).
  return lines.join('')
}

/** Concatenates tables (the union of their further columns). */
export function mergeRunsTables(tables: readonly RunsTable[]): RunsTable {
  const extraColumns = [...new Set(tables.flatMap((t) => t.extraColumns))]
  return { rows: tables.flatMap((t) => t.rows), extraColumns }
}

/** Cost of one run (USD): runtime × nodes × price; null without a price. */
export function runCost(r: Pick<RunRow, 'runtimeS' | 'nodes' | 'pricePerNodeHour'>): number | null {
  return r.pricePerNodeHour === null ? null : (r.runtimeS / 3600) * r.nodes * r.pricePerNodeHour
}

/** The configuration a run used, as a stable key (instance type × nodes, plus any setting columns given). */
export function configKey(r: Pick<RunRow, 'instanceType' | 'nodes'>): string {
  return `${r.instanceType}×${r.nodes}`
}
