/**
 * @module `npm run bench [-- --quick] [-- --only name,name]`: runs Tessera's benchmark scenarios, prints a table and
 * writes `bench/results/<time>.json` (git-ignored) and `bench/results/latest.json` (the stable format of
 * lib/result.ts, read by other tools).
 *
 * The full run takes about 10 minutes on a 2-core machine; `--quick` (under a minute) runs every scenario briefly
 * and smaller, and says so in each result (`note`), except the 100K and 1M-profile resolve scenarios, whose state
 * build alone takes longer: it runs `resolve-10k` instead and records those two as not run. A scenario that fails,
 * stalls or times out is recorded with its error and the run goes on; the exit code is 1 if any scenario failed.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { runInChild } from './lib/child-scenario.js'
import { machineInfo } from './lib/machine.js'
import { SCENARIO_NAMES, withRatios, type BenchResult, type ScenarioResult } from './lib/result.js'
import { formatTable } from './lib/table.js'
import { killAllTesseraProcesses } from './lib/tessera-cluster.js'
import { runE2eEmbedded } from './scenarios/e2e-embedded.js'
import { runE2eScaleout } from './scenarios/e2e-scaleout.js'
import { runIngestHttp } from './scenarios/ingest-http.js'
import { runMatchRealtimeInChild } from './scenarios/match-realtime.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const RESULTS = join(ROOT, 'bench', 'results')
const SEED = 'tessera-bench-1'
const PERSONS = 100_000

const HELP = `Usage: npm run bench [-- --quick] [-- --only scenario,scenario] [-- --no-latest]

Scenarios: ${SCENARIO_NAMES.join(', ')} (--quick runs resolve-10k instead of resolve-100k and resolve-1m).
Writes bench/results/<time>.json and bench/results/latest.json, and prints a table.`

interface Plan {
  readonly name: string
  readonly timeoutMs: number
  run(): Promise<ScenarioResult>
}

/** Rebuilds dist/ when a source file is newer than it: the server processes run the built CLI. */
function ensureBuilt(): void {
  const built = join(ROOT, 'dist', 'cli', 'main.js')
  const builtAt = (() => {
    try {
      return statSync(built).mtimeMs
    } catch {
      return 0
    }
  })()
  const newest = (dir: string): number => readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .reduce((max, e) => Math.max(max, statSync(join(e.parentPath, e.name)).mtimeMs), 0)
  if (newest(join(ROOT, 'src')) > builtAt) {
    console.error('bench: dist/ is older than src/; building (npm run build) ...')
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' })
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(ms / 1000)} s`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

function plans(quick: boolean, work: string): Plan[] {
  const dir = (name: string): string => {
    const d = join(work, name)
    mkdirSync(d, { recursive: true })
    return d
  }
  const resolveSmall = quick ? 'resolve-10k' : 'resolve-100k'
  const min = 60_000
  const out: Plan[] = [
    {
      name: 'baseline-raw-limit', timeoutMs: 5 * min,
      run: () => runInChild({ kind: 'raw-limit', options: { events: quick ? 50_000 : 300_000, repeats: quick ? 1 : 3, persons: PERSONS, dir: dir('raw'), seed: SEED } }, 5 * min),
    },
    {
      name: 'ingest-http', timeoutMs: 3 * min,
      run: () => runIngestHttp({ seconds: quick ? 4 : 20, connections: 32, persons: PERSONS, dir: dir('ingest'), seed: SEED }),
    },
    {
      name: 'e2e-embedded', timeoutMs: 8 * min,
      run: () => runE2eEmbedded({
        // 60 s of probes every 250 ms: 240 delays, so the p99 is the 3rd largest (it was the largest of 80). Denser
        // probes load the server they measure: each pending probe polls the admin API every 10 ms, every read audited
        // (probes every 100 ms took the p99 from ~0.4 s to 5 s in a full run).
        seconds: quick ? 5 : 60, latencySeconds: quick ? 3 : 60, probeEveryMs: 250, connections: 16, persons: PERSONS, maxBacklog: 20_000,
        dir: dir('e2e'), seed: SEED, quick,
      }),
    },
    {
      name: resolveSmall, timeoutMs: 5 * min,
      run: () => runInChild({
        kind: 'resolve', options: {
          name: resolveSmall, profiles: quick ? 10_000 : 100_000, events: quick ? 10_000 : 200_000, singleEvents: quick ? 200 : 2000,
          batchSize: 2000, dir: dir('resolve-small'), writeEvents: true, seed: SEED,
        },
      }, 5 * min),
    },
    {
      name: 'baseline-sql-stitching', timeoutMs: 5 * min,
      run: () => runInChild({ kind: 'sql-stitching', options: { dir: join(work, 'resolve-small'), repeats: quick ? 1 : 3, against: resolveSmall } }, 5 * min),
    },
  ]
  if (!quick) {
    out.push({
      name: 'resolve-1m', timeoutMs: 12 * min,
      run: () => runInChild({
        kind: 'resolve', options: {
          name: 'resolve-1m', profiles: 1_000_000, events: 200_000, singleEvents: 2000, batchSize: 2000, dir: dir('resolve-1m'), writeEvents: false, seed: SEED,
        },
      }, 12 * min),
    })
  }
  // The real-time matching decision at 1M profiles (--quick: 100K, recorded under its own name).
  const matchName = quick ? 'match-realtime-100k' : 'match-realtime-1m'
  out.push({
    name: matchName, timeoutMs: 10 * min,
    run: () => runMatchRealtimeInChild({
      name: matchName, profiles: quick ? 100_000 : 1_000_000, singleEvents: quick ? 1000 : 5000, batchEvents: quick ? 4000 : 20_000,
      batchSize: 2000, dir: dir('match-realtime'),
    }, 10 * min),
  })
  for (const workers of [1, 2]) {
    out.push({
      name: `e2e-scaleout-${workers}w`, timeoutMs: 5 * min,
      run: () => runE2eScaleout({
        // librdkafka's mock cluster keeps only 5 MiB per partition and deletes older records even when unread: the
        // backlog bound keeps the unread part of events.raw and events.resolved (about 1.2 KB a record) under it.
        // A group join on the mock can wait a whole session timeout (30 s: it does not act on LeaveGroup at once),
        // so even --quick allows more than that without progress before it calls the pipeline stalled.
        workers, seconds: quick ? 3 : 30, connections: 16, persons: PERSONS, maxBacklog: quick ? 3_000 : 10_000, stallMs: quick ? 40_000 : 60_000,
        dir: dir(`scaleout-${workers}w`), seed: SEED, quick,
      }),
    })
  }
  return out
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, 'no-latest': { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  const quick = values.quick!
  const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean)
  ensureBuilt()
  const work = mkdtempSync(join(tmpdir(), 'tessera-bench-'))
  const startedAt = new Date()
  const started = performance.now()
  const scenarios: ScenarioResult[] = []
  const all = plans(quick, work)
  if (only) {
    const unknown = only.filter((n) => !all.some((p) => p.name === n))
    if (unknown.length > 0) throw new Error(`--only: unknown scenario(s) ${unknown.join(', ')}; known in this mode: ${all.map((p) => p.name).join(', ')}`)
  }
  try {
    for (const plan of all) {
      if (only && !only.includes(plan.name)) continue
      const t = performance.now()
      process.stderr.write(`bench: ${plan.name} ...\n`)
      try {
        scenarios.push(await withTimeout(plan.run(), plan.timeoutMs))
      } catch (error) {
        scenarios.push({ name: plan.name, error: error instanceof Error ? error.message : String(error) })
        killAllTesseraProcesses()
      }
      process.stderr.write(`bench: ${plan.name} done in ${((performance.now() - t) / 1000).toFixed(1)} s\n`)
    }
  } finally {
    killAllTesseraProcesses()
    rmSync(work, { recursive: true, force: true })
  }
  if (quick && !only) {
    for (const name of ['resolve-100k', 'resolve-1m']) {
      scenarios.push({ name, error: 'not run with --quick (building the state takes longer than the quick budget); see resolve-10k' })
    }
  }
  const sqlite = new Database(':memory:')
  const sqliteVersion = (sqlite.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v
  sqlite.close()
  const result: BenchResult = {
    machine: machineInfo(sqliteVersion),
    run: {
      mode: quick ? 'quick' : 'full', started_at: startedAt.toISOString(), seconds: Math.round((performance.now() - started) / 1000),
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    },
    scenarios: withRatios(scenarios),
  }
  mkdirSync(RESULTS, { recursive: true })
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-')
  const text = JSON.stringify(result, null, 2) + '\n'
  writeFileSync(join(RESULTS, `${stamp}${quick ? '-quick' : ''}.json`), text)
  if (!values['no-latest'] && !only) writeFileSync(join(RESULTS, 'latest.json'), text)
  console.log(`\nTessera benchmark (${result.run.mode}, ${result.run.seconds} s) on ${result.machine.cpus} × ${result.machine.model}, ${result.machine.memory_gb} GB, Node ${result.machine.node}\n`)
  console.log(formatTable(result.scenarios))
  console.log('')
  for (const s of result.scenarios) if (typeof s.measures === 'string') console.log(`  ${s.name}: ${s.measures}`)
  console.log(`\nwrote bench/results/${stamp}${quick ? '-quick' : ''}.json${!values['no-latest'] && !only ? ' and bench/results/latest.json' : ''}`)
  return result.scenarios.some((s) => s.error !== undefined && !s.error.startsWith('not run with --quick')) ? 1 : 0
}

process.on('exit', killAllTesseraProcesses)
main().then((code) => {
  process.exitCode = code
}, (error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exitCode = 1
})
