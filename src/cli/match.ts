/**
 * @module `tessera match <records.csv> [--link <other.csv>] --config <match.json> --out <clusters.csv>
 * [--pairs <pairs.csv>]`: probabilistic deduplication of one CSV file, or linkage of two, with an unsupervised
 * Fellegi-Sunter model trained on the file itself. Writes the clusters, optionally every scored pair, and a run
 * summary (model parameters, counts, elapsed time) beside the clusters; bad rows are reported and skipped.
 */
import { createWriteStream, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { once } from 'node:events'
import { parseArgs } from 'node:util'
import { ConfigError, isTesseraError } from '../core/errors.js'
import { startProgress, type ProgressDisplay, type TextSink } from '../client/progress-display.js'
import { formatCsvRow } from './import/csv.js'
import { matchBatch, type BatchResult } from '../matching/batch.js'
import { loadRecords, type RowProblem } from '../matching/load-records.js'
import { parseMatchConfig, type MatchConfig } from '../matching/match-config.js'
import type { MatchRecord } from '../matching/match-record.js'
import type { MatchPhase } from '../matching/train.js'

export const MATCH_USAGE = `Usage: tessera match <records.csv> [--link <other.csv>] --config <match.json> --out <clusters.csv> [options]

Finds the records that describe the same person, with a probabilistic (Fellegi-Sunter) model trained
on the data itself: blocking, comparison levels, u from random pairs, m by EM, term frequencies.
Without --link it deduplicates one file; with --link it links the two files.

Options:
  --config <match.json>     column kinds, id column, thresholds (see docs/identity.md; examples/match/)
  --out <clusters.csv>      writes record_id,cluster_id (and source: left|right with --link)
  --pairs <pairs.csv>       also writes every scored pair: left_id,right_id,match_probability,match_weight
  --min-probability <p>     only write pairs at or above p to --pairs (default 0: all scored pairs)
  --link <other.csv>        link this file to <records.csv> instead of deduplicating
  --quiet                   no progress display and no summary on stdout
  -h, --help                show this text

Also writes <out>.summary.json: counts, elapsed time, thresholds and the trained model.
Exit status: 0 done, 2 done but some rows were skipped (listed on stderr), 1 could not run.`

/** Streams and environment of a command; tests pass collectors, the CLI passes the process's own. */
export interface MatchIo {
  readonly stdout: TextSink
  readonly stderr: TextSink
}

interface MatchArgs {
  readonly file: string
  readonly link: string | undefined
  readonly config: string
  readonly out: string
  readonly pairs: string | undefined
  readonly minProbability: number
  readonly quiet: boolean
}

function parseMatchArgs(argv: readonly string[]): { kind: 'run'; args: MatchArgs } | { kind: 'help' } | { kind: 'error'; message: string } {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        link: { type: 'string' },
        config: { type: 'string' },
        out: { type: 'string' },
        pairs: { type: 'string' },
        'min-probability': { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (error) {
    return { kind: 'error', message: (error as Error).message }
  }
  const { values, positionals } = parsed
  if (values.help) return { kind: 'help' }
  if (positionals.length !== 1) return { kind: 'error', message: positionals.length === 0 ? 'missing the records file' : `one records file, got ${positionals.length} (use --link for a second file)` }
  if (values.config === undefined) return { kind: 'error', message: '--config is required (e.g. --config examples/match/febrl.json)' }
  if (values.out === undefined) return { kind: 'error', message: '--out is required (the clusters CSV to write)' }
  const minProbability = Number(values['min-probability'] ?? '0')
  if (!Number.isFinite(minProbability) || minProbability < 0 || minProbability > 1) {
    return { kind: 'error', message: `--min-probability must be a number from 0 to 1, got ${JSON.stringify(values['min-probability'])}` }
  }
  return {
    kind: 'run',
    args: { file: positionals[0]!, link: values.link, config: values.config, out: values.out, pairs: values.pairs, minProbability, quiet: values.quiet },
  }
}

/** Reads and checks a match config file. */
export function readMatchConfig(path: string): MatchConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ConfigError(code === 'ENOENT' ? `match config ${path} does not exist (see examples/match/ for examples)` : `cannot read match config ${path}: ${(error as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`match config ${path} is not valid JSON: ${(error as Error).message}`)
  }
  try {
    return parseMatchConfig(json)
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${path}: ${error.message}`, error.field)
    throw error
  }
}

async function writeLines(path: string, header: readonly string[], rows: Iterable<readonly string[]>): Promise<void> {
  const out = createWriteStream(path)
  const failed = once(out, 'error').then(([error]) => Promise.reject(error as Error))
  failed.catch(() => undefined)
  let buffer = formatCsvRow(header)
  for (const row of rows) {
    buffer += formatCsvRow(row)
    if (buffer.length > 1 << 16) {
      if (!out.write(buffer)) await Promise.race([once(out, 'drain'), failed])
      buffer = ''
    }
  }
  out.end(buffer)
  await Promise.race([once(out, 'finish'), failed])
}

/**
 * The cluster id of each record: the id of the first record (in file order) of its cluster; in a link, prefixed
 * with that record's file (`left:`/`right:`), since the two files may use the same ids.
 */
function clusterIds(result: BatchResult, all: readonly MatchRecord[], linked: boolean): string[] {
  const first = new Map<number, string>()
  all.forEach((record, i) => {
    const c = result.clusterOf[i]!
    if (!first.has(c)) first.set(c, linked ? `${record.source === 0 ? 'left' : 'right'}:${record.id}` : record.id)
  })
  return all.map((_, i) => first.get(result.clusterOf[i]!)!)
}

function summaryPath(out: string): string {
  return `${out.replace(/\.csv$/i, '')}.summary.json`
}

function describeProblems(problems: readonly RowProblem[]): string {
  const shown = problems.slice(0, 20).map((p) => `  ${p.file}:${p.line}: ${p.message}`)
  if (problems.length > shown.length) shown.push(`  ... and ${problems.length - shown.length} more`)
  return shown.join('\n')
}

/** Runs `tessera match`; returns the exit code. */
export async function runMatch(argv: readonly string[], io: MatchIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const parsed = parseMatchArgs(argv)
  if (parsed.kind === 'help') {
    io.stdout.write(MATCH_USAGE + '\n')
    return 0
  }
  if (parsed.kind === 'error') {
    io.stderr.write(`tessera match: ${parsed.message}\n\n${MATCH_USAGE}\n`)
    return 1
  }
  const args = parsed.args
  const started = performance.now()
  try {
    const config = readMatchConfig(args.config)
    const left = await loadRecords(args.file, config, { source: 0 })
    const right = args.link === undefined ? null : await loadRecords(args.link, config, { source: 1 })
    const problems = [...left.problems, ...(right?.problems ?? [])]
    if (problems.length > 0) io.stderr.write(`tessera match: skipped ${problems.length} row(s) that cannot be used:\n${describeProblems(problems)}\n`)
    if (left.records.length + (right?.records.length ?? 0) < 2) throw new ConfigError('fewer than two usable records: nothing to match')

    let display: ProgressDisplay | null = null
    let shownPhase: MatchPhase | null = null
    const progress = (phase: MatchPhase, done: number, total: number): void => {
      if (args.quiet || total < 200_000) return
      if (phase !== shownPhase) {
        display?.stop()
        display = startProgress({ label: phase, total, unit: 'events', stream: io.stderr })
        shownPhase = phase
      }
      display?.update(done)
    }
    const result = matchBatch(config, left.records, right?.records ?? null, progress)
    ;(display as ProgressDisplay | null)?.stop()

    const all = right === null ? left.records : [...left.records, ...right.records]
    const ids = clusterIds(result, all, right !== null)
    await writeLines(
      args.out,
      right === null ? ['record_id', 'cluster_id'] : ['record_id', 'cluster_id', 'source'],
      all.map((record, i) => (right === null ? [record.id, ids[i]!] : [record.id, ids[i]!, record.source === 0 ? 'left' : 'right'])),
    )
    const indexed = right?.records ?? left.records
    const { pairs } = result
    let written = 0
    if (args.pairs !== undefined) {
      const rows = function* (): Generator<string[]> {
        for (let p = 0; p < pairs.count; p++) {
          const probability = pairs.probability[p]!
          if (probability < args.minProbability) continue
          written++
          yield [left.records[pairs.left[p]!]!.id, indexed[pairs.right[p]!]!.id, probability.toPrecision(8), pairs.weight[p]!.toFixed(3)]
        }
      }
      await writeLines(args.pairs, ['left_id', 'right_id', 'match_probability', 'match_weight'], rows())
    }
    const elapsedSeconds = (performance.now() - started) / 1000
    const clusters = new Set(ids).size
    const summary = {
      mode: right === null ? 'dedupe' : `link (${config.link})`,
      files: right === null ? [args.file] : [args.file, args.link],
      records: all.length,
      skippedRows: problems.length,
      candidatePairs: result.training.candidatePairs,
      possiblePairs: result.training.possiblePairs,
      matchedPairs: result.matchedPairs,
      clusters,
      clusterSplits: result.clusterSplits,
      thresholds: { match: config.matchThreshold, review: config.reviewThreshold },
      elapsedSeconds,
      training: result.training,
      blockingRules: result.model.rules.map((r) => r.label),
      model: result.model.scorer.parameters,
    }
    await writeFile(summaryPath(args.out), JSON.stringify(summary, null, 2) + '\n')
    if (!args.quiet) {
      io.stdout.write(
        `${summary.mode}: ${all.length.toLocaleString('en-US')} records, ${result.training.candidatePairs.toLocaleString('en-US')} candidate pairs ` +
          `(of ${result.training.possiblePairs.toLocaleString('en-US')}), ${result.matchedPairs.toLocaleString('en-US')} matched at p >= ${config.matchThreshold}, ` +
          `${clusters.toLocaleString('en-US')} clusters, λ = ${result.model.scorer.parameters.lambda.toExponential(3)}, ${elapsedSeconds.toFixed(2)} s\n` +
          `wrote ${args.out}${args.pairs === undefined ? '' : `, ${args.pairs} (${written.toLocaleString('en-US')} pairs)`}, ${summaryPath(args.out)}\n`,
      )
    }
    return problems.length > 0 ? 2 : 0
  } catch (error) {
    if (isTesseraError(error)) {
      io.stderr.write(`tessera match: ${error.message}\n`)
      return 1
    }
    const code = (error as NodeJS.ErrnoException).code
    if (typeof code === 'string' && code.startsWith('E')) {
      io.stderr.write(`tessera match: ${(error as Error).message}\n`)
      return 1
    }
    throw error
  }
}
