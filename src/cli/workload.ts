/**
 * @module `tessera workload ingest|recommend|eval|convert|runs|accuracy`: the Spark workload advisor from the
 * command line (docs/workload.md). `ingest`, `recommend`, `runs` and `accuracy` work on the data directory's
 * workload store (SQLite `<dataDir>/workload.db`, or PostgreSQL when configured), so they need no running server;
 * `eval` and `convert` work on files only.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'
import { dataLayout } from '../app/data-layout.js'
import { loadConfig, type TesseraConfig } from '../config/config.js'
import { systemClock } from '../core/clock.js'
import { TesseraError, ValidationError } from '../core/errors.js'
import { parseDuration } from '../workload/advisor/advisor.js'
import { evaluate, PROTOCOLS, type Protocol, type Sla } from '../workload/eval/evaluate.js'
import { httpFetchJson, readHistoryServer } from '../workload/eventlog/history-server.js'
import { readEventLogs } from '../workload/eventlog/read-eventlog.js'
import { openWorkloadStore } from '../workload/open-workload.js'
import { EVENTLOG_COLUMNS, fromC3o, fromDataproc, fromScout, fromSparkApp } from '../workload/runs/converters.js'
import { parseCsvTable } from '../workload/runs/csv-table.js'
import { formatRunsTable, mergeRunsTables, parseRunsTable, REQUIRED_COLUMNS, type RowProblem, type RunRow, type RunsTable } from '../workload/runs/runs-table.js'
import { WorkloadService, type IngestReport } from '../workload/workload-service.js'

export const WORKLOAD_USAGE = `Usage: tessera workload <command> [options]

Commands:
  ingest <path|history-server-url>...   add runs to the history: Spark event logs (files, eventlog_v2_* folders,
                                        folders of logs; plain, zstd, lz4, snappy, gzip), a History Server
                                        (http://host:18080), or a runs table / Scout / C3O / Dataproc file
      --format auto|eventlog|runs|scout|c3o|dataproc   (default auto: by content)
      --instance-type T  --price USD  --vcpus N  --memory-gb N   what event logs do not say about the nodes
  recommend --job <name> --input-gb <n> --deadline <duration> [--feature k=v]... [--max-risk p] [--json]
                                        the cheapest configuration meeting the deadline at P90, with the
                                        alternatives, spark-submit flags and EMR/Dataproc/Databricks specs
  eval --runs <table.csv>... --protocol leave-one-job-out|holdout-configs [--sla median|p90|<seconds>]
       [--trials k] [--seeds n] --json <out.json>
                                        offline evaluation with baselines (docs/workload.md)
  convert --from scout|c3o|dataproc|eventlog <input>... --out <runs.csv>   write a runs table
  runs [--job <name>] [--out <runs.csv>]                                 export the stored history
  accuracy [--period day|week] [--json]  how past recommendations did once their runs arrived

Common: --data-dir DIR, --config FILE, -h/--help.`

type Format = 'auto' | 'eventlog' | 'runs' | 'scout' | 'c3o' | 'dataproc'

function fail(message: string): never {
  throw new TesseraError('TESSERA_VALIDATION', message)
}

function numberOption(value: string | undefined, name: string, min = 0): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}, got ${JSON.stringify(value)}`)
  return n
}

/** Reads a tabular history file in the named (or detected) format. */
export function readTableFile(path: string, format: Format): { table: RunsTable; problems: RowProblem[] } {
  const text = readFileSync(path, 'utf8')
  let f = format
  if (f === 'auto' || f === 'eventlog') {
    const header = parseCsvTable(text.split(/\r?\n/, 1)[0] ?? '', path.endsWith('.tsv') ? '\t' : undefined).header
    if (REQUIRED_COLUMNS.every((c) => header.includes(c))) f = 'runs'
    else if (header.includes('vm_type') && header.includes('elapsed_time_s')) f = 'scout'
    else if (header.includes('gross_runtime')) f = 'c3o'
    else if (header.includes('scaleout') && header.includes('algorithm')) f = 'dataproc'
    else fail(`${path}: not a runs table (header needs ${REQUIRED_COLUMNS.join(', ')}), nor a Scout, C3O or Dataproc file`)
  }
  if (f === 'runs') return parseRunsTable(text, path)
  if (f === 'scout') return fromScout(text)
  if (f === 'c3o') return fromC3o(text, basename(path))
  return fromDataproc(text)
}

function isTableFile(path: string): boolean {
  return /\.(csv|tsv)$/i.test(path) && statSync(path).isFile()
}

function printReport(r: IngestReport, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(r, null, 2))
    return
  }
  console.log(`${r.added} run(s) added, ${r.duplicates} already in the history${r.applications > 0 ? ` (from ${r.applications} application(s))` : ''}`)
  for (const s of r.skipped) console.log(`  skipped ${s.source}: ${s.reason}`)
  for (const p of r.problems.slice(0, 20)) console.log(`  problem ${p.file}${p.line > 0 ? ` line ${p.line}` : ''}: ${p.message}`)
  if (r.problems.length > 20) console.log(`  ... and ${r.problems.length - 20} more problems`)
  for (const o of r.outcomes) console.log(`  recommendation ${o.recommendationId}: ran ${o.runtimeS.toFixed(1)} s (${(100 * o.absPercentError).toFixed(1)} % off P50, ${o.withinP90 ? 'within' : 'beyond'} P90)`)
}

async function withService<T>(config: TesseraConfig, work: (service: WorkloadService) => Promise<T>): Promise<T> {
  const store = await openWorkloadStore(config, dataLayout(config.dataDir).dataDir)
  try {
    return await work(new WorkloadService(store, config.workload, systemClock))
  } finally {
    await store.close()
  }
}

export async function runWorkload(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(WORKLOAD_USAGE)
    return command === undefined ? 1 : 0
  }
  let parsed
  try {
    parsed = parseArgs({
      args: rest, allowPositionals: true, strict: true,
      options: {
        format: { type: 'string' }, 'instance-type': { type: 'string' }, price: { type: 'string' }, vcpus: { type: 'string' }, 'memory-gb': { type: 'string' },
        job: { type: 'string' }, 'input-gb': { type: 'string' }, deadline: { type: 'string' }, feature: { type: 'string', multiple: true }, 'max-risk': { type: 'string' },
        runs: { type: 'string', multiple: true }, protocol: { type: 'string' }, sla: { type: 'string' }, trials: { type: 'string' }, seeds: { type: 'string' },
        // eval writes its report to --json <file>; elsewhere --json is a flag (print JSON).
        json: command === 'eval' ? { type: 'string' } : { type: 'boolean' }, from: { type: 'string' }, out: { type: 'string' }, period: { type: 'string' },
        'data-dir': { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    console.error(`tessera workload ${command}: ${(error as Error).message}\n\n${WORKLOAD_USAGE}`)
    return 1
  }
  const { values, positionals } = parsed
  if (values.help) {
    console.log(WORKLOAD_USAGE)
    return 0
  }
  const loadCfg = (): TesseraConfig => loadConfig({ ...(values.config ? { file: values.config } : {}), overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {} })
  const jsonFlag = values.json === true
  switch (command) {
    case 'ingest': {
      if (positionals.length === 0) fail('ingest needs at least one path or History Server URL')
      const format = (values.format ?? 'auto') as Format
      if (!['auto', 'eventlog', 'runs', 'scout', 'c3o', 'dataproc'].includes(format)) fail('--format must be auto, eventlog, runs, scout, c3o or dataproc')
      const price = numberOption(values.price, 'price')
      const it = values['instance-type']
      const options = {
        ...(it ? { instanceType: it } : {}), ...(price !== undefined && it ? { prices: { [it]: price } } : {}),
        ...(values.vcpus ? { vcpusPerNode: numberOption(values.vcpus, 'vcpus', 1)! } : {}), ...(values['memory-gb'] ? { memoryGbPerNode: numberOption(values['memory-gb'], 'memory-gb')! } : {}),
      }
      if (price !== undefined && !it) fail('--price needs --instance-type (the price is per node-hour of that type)')
      const config = loadCfg()
      return await withService(config, async (service) => {
        let worst = 0
        for (const p of positionals) {
          let report: IngestReport
          if (/^https?:\/\//i.test(p)) report = await service.ingestApps(await readHistoryServer(p, httpFetchJson()), 'history-server', { ...options, prices: { ...config.workload.prices, ...options.prices } })
          else if (format !== 'eventlog' && isTableFile(p)) {
            const { table, problems } = readTableFile(p, format)
            report = await service.ingestTable(table, problems, basename(p))
          } else report = await service.ingestApps(await readEventLogs(p), 'eventlog', { ...options, prices: { ...config.workload.prices, ...options.prices } })
          printReport(report, jsonFlag)
          if (report.problems.length > 0 || report.skipped.length > 0) worst = 2
        }
        return worst
      })
    }
    case 'recommend': {
      if (!values.job) fail('--job is required (the job name, as in the history: tessera workload runs)')
      if (!values.deadline) fail('--deadline is required (e.g. 45m, 2h, 900)')
      const deadlineS = parseDuration(values.deadline, '--deadline')
      const inputGb = values['input-gb'] === undefined ? null : numberOption(values['input-gb'], 'input-gb')!
      const features: Record<string, string> = {}
      for (const f of values.feature ?? []) {
        const at = f.indexOf('=')
        if (at < 1) fail(`--feature ${JSON.stringify(f)}: use name=value, e.g. --feature iterations=10`)
        features[f.slice(0, at)] = f.slice(at + 1)
      }
      const maxRisk = numberOption(values['max-risk'], 'max-risk')
      return await withService(loadCfg(), async (service) => {
        const advice = await service.recommend({ job: values.job!, inputGb, deadlineS, features, requestedBy: 'cli' }, maxRisk === undefined ? {} : { maxFailureRisk: maxRisk })
        if (jsonFlag) console.log(JSON.stringify(advice, null, 2))
        else console.log(formatAdvice(advice))
        return 0
      })
    }
    case 'eval': {
      const files = values.runs ?? []
      if (files.length === 0) fail('--runs <table.csv> is required (tessera workload convert writes one from Scout, C3O or Dataproc files)')
      const protocol = values.protocol as Protocol
      if (!(PROTOCOLS as readonly string[]).includes(protocol ?? '')) fail(`--protocol must be ${PROTOCOLS.join(' or ')}`)
      const slaText = values.sla ?? 'median'
      const sla: Sla = slaText === 'median' || slaText === 'p90' ? slaText : parseDuration(slaText, '--sla')
      const trials = numberOption(values.trials, 'trials') ?? 0
      const seeds = numberOption(values.seeds, 'seeds', 1) ?? 1
      if (!Number.isInteger(trials) || !Number.isInteger(seeds)) fail('--trials and --seeds are whole numbers')
      const out = values.json
      if (typeof out !== 'string' || out === '') fail('--json <out.json> is required (where the report is written)')
      const parts = files.map((f) => readTableFile(f, 'auto'))
      for (const [i, p] of parts.entries()) for (const pr of p.problems.slice(0, 10)) console.error(`${files[i]} line ${pr.line}: ${pr.message} (row skipped)`)
      const table = mergeRunsTables(parts.map((p) => p.table))
      const started = performance.now()
      const report = evaluate(table, { protocol, sla, trials, seeds, onFold: (d, n) => process.stderr.write(`\rfold ${d}/${n}`) })
      process.stderr.write('\n')
      writeFileSync(out, JSON.stringify({ ...report, elapsed_s: Math.round((performance.now() - started) / 100) / 10 }, null, 2) + '\n')
      const pct = (v: number): string => `${(100 * v).toFixed(1)} %`
      console.log(`${protocol}, SLA ${String(sla)}, ${report.trials} trial(s), ${seeds} seed(s): ${report.jobs} jobs, ${report.scenarios} scenarios`)
      console.log(`  runtime MAPE ${pct(report.runtime_mape)} over runs, ${pct(report.runtime_mape_vs_config_mean)} against configuration means (P90 coverage ${pct(report.p90_coverage)})`)
      console.log(`  cost / oracle ${report.cost_ratio_vs_oracle.toFixed(3)}, SLA violations ${pct(report.sla_violation_rate)}, trial cost ${report.trial_cost_runs.toFixed(2)} oracle runs`)
      console.log(`  best static ${report.best_static_cost_ratio.toFixed(3)} (violations ${pct(report.best_static_sla_violation_rate)}), median static ${report.median_static_cost_ratio.toFixed(3)}`)
      console.log(`  saving vs best static ${pct(report.saving_vs_best_static)} per run; break-even after ${report.break_even_runs ?? 'never'} runs`)
      console.log(`report written to ${out}`)
      return 0
    }
    case 'convert': {
      const from = values.from
      if (!from || !['scout', 'c3o', 'dataproc', 'eventlog'].includes(from)) fail('--from must be scout, c3o, dataproc or eventlog')
      if (!values.out) fail('--out <runs.csv> is required')
      if (positionals.length === 0) fail('convert needs at least one input file')
      const tables: RunsTable[] = []
      let problems = 0
      for (const p of positionals) {
        if (from === 'eventlog') {
          const rows: RunRow[] = []
          for (const { source, app } of await readEventLogs(p)) {
            const r = fromSparkApp(app, {})
            if (r.row) rows.push(r.row)
            else {
              problems++
              console.error(`${source}: skipped, ${r.reason}`)
            }
          }
          tables.push({ rows, extraColumns: [...EVENTLOG_COLUMNS] })
        } else {
          const { table, problems: pr } = readTableFile(p, from as Format)
          for (const x of pr) console.error(`${p} line ${x.line}: ${x.message}`)
          problems += pr.length
          tables.push(table)
        }
      }
      const merged = mergeRunsTables(tables)
      writeFileSync(values.out, formatRunsTable(merged))
      console.log(`${merged.rows.length} runs of ${new Set(merged.rows.map((r) => r.job)).size} jobs written to ${values.out}`)
      return problems > 0 ? 2 : 0
    }
    case 'runs':
      return await withService(loadCfg(), async (service) => {
        const table = await service.table()
        const rows = values.job ? table.rows.filter((r) => r.job === values.job) : table.rows
        const text = formatRunsTable({ rows, extraColumns: table.extraColumns })
        if (values.out) {
          writeFileSync(values.out, text)
          console.log(`${rows.length} runs written to ${values.out}`)
        } else process.stdout.write(text)
        return 0
      })
    case 'accuracy': {
      const period = values.period ?? 'week'
      if (period !== 'day' && period !== 'week') fail('--period must be day or week')
      return await withService(loadCfg(), async (service) => {
        const a = await service.accuracy(period)
        console.log(JSON.stringify(a, null, 2))
        return 0
      })
    }
    default:
      throw new ValidationError('command', `unknown workload command ${JSON.stringify(command)}; one of ingest, recommend, eval, convert, runs, accuracy`)
  }
}

/** The human-readable advice. */
export function formatAdvice(a: Record<string, unknown>): string {
  const c = a.chosen as Record<string, unknown>
  const lines = [
    `${a.job}: ${c.nodes} × ${c.instanceType} — P50 ${c.runtimeP50S} s, P90 ${c.runtimeP90S} s (deadline ${a.deadlineS} s), ` +
      `expected cost $${c.expectedCostUsd}, failure risk ${c.failureRisk} [${c.method}]`,
    `  why: ${a.why}`,
    `  executors: ${c.executors} × ${c.executorCores} cores × ${c.executorMemoryGb} GB (+${c.memoryOverheadMb} MB overhead), ${c.executorsPerNode} per node`,
    `  spark-submit ${a.sparkSubmit}`,
    '  alternatives:',
    ...(a.alternatives as Record<string, unknown>[]).map((x) => `    ${x.nodes} × ${x.instanceType}: P90 ${x.runtimeP90S} s, expected $${x.expectedCostUsd}, risk ${x.failureRisk}`),
  ]
  const e = a.exploration as Record<string, unknown>
  if (e.needed) {
    lines.push(`  exploration: ${(e.trials as unknown[]).length} trial run(s), predicted total $${e.totalPredictedCostUsd}:`)
    for (const t of e.trials as Record<string, unknown>[]) lines.push(`    ${t.nodes} × ${t.instanceType}: ~${t.predictedRuntimeS} s, ~$${t.predictedCostUsd}`)
  }
  for (const w of a.warnings as string[]) lines.push(`  warning: ${w}`)
  lines.push(`  recommendation id ${a.id} (set by the flags as spark.tessera.recommendationId; ingest the run's event log to score it)`)
  return lines.join('\n')
}
