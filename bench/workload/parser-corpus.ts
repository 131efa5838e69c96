/**
 * Checks the event-log parser on a whole corpus against its summary CSV (the shared corpus:
 * `npx tsx bench/workload/parser-corpus.ts /work/shared/data/spark/spark_eventlogs`; or the test fixtures in
 * test/fixtures/workload/eventlogs). Prints each file's parse time and every field that differs; exits 1 on any
 * difference. Numbers compare as numbers (the summary prints 1.0 for 1).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { readEventLogs } from '../../src/workload/eventlog/read-eventlog.js'
import { summaryRow } from '../../src/workload/eventlog/summary-row.js'
import { parseCsvTable } from '../../src/workload/runs/csv-table.js'

const dir = process.argv[2] ?? 'test/fixtures/workload/eventlogs'
const rows = parseCsvTable(readFileSync(join(dir, 'eventlog_app_summary.csv'), 'utf8')).rows.map((r) => r.cells)
const same = (a: string, b: string): boolean => a === b || (a !== '' && b !== '' && Number(a) === Number(b))
let differing = 0
let fields = 0
let bytes = 0
const started = performance.now()
for (const want of rows) {
  const t = performance.now()
  const logs = await readEventLogs(join(dir, want.file!))
  const got = summaryRow(logs[0]!.app)
  const diffs = Object.entries(got).filter(([k, v]) => !same(v, want[k] ?? '')).map(([k, v]) => `${k}: expected ${want[k]}, parsed ${v}`)
  fields += Object.keys(got).length
  bytes += readFileSync(join(dir, want.file!)).length
  if (diffs.length > 0) differing++
  console.log(`${diffs.length === 0 ? 'ok  ' : 'DIFF'} ${want.file} (${(performance.now() - t).toFixed(0)} ms)${diffs.map((d) => `\n     ${d}`).join('')}`)
}
console.log(`${rows.length} logs, ${fields} fields compared, ${differing} logs differ; ${(bytes / 1e6).toFixed(1)} MB read in ${((performance.now() - started) / 1000).toFixed(1)} s`)
process.exit(differing === 0 ? 0 : 1)
