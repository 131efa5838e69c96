/**
 * @module `tessera match-eval`: scores the output of `tessera match` against ground truth held in a column of
 * the records file (an entity id, or a pattern that extracts one, as FEBRL's `rec-<N>-dup-<k>`): pairwise
 * precision / recall / F1 of the clusters and of the scored pairs (at the run's threshold and at the best one),
 * blocking recall and reduction ratio, B-cubed, and the run's elapsed time from its summary.
 */
import { existsSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ConfigError, isTesseraError } from '../core/errors.js'
import type { TextSink } from '../client/progress-display.js'
import { ImportFileError, readRows } from './import/read-rows.js'
import { evaluate, type Evaluation, type PairwiseScore } from '../matching/evaluate.js'
import { readMatchConfig } from './match.js'

export const MATCH_EVAL_USAGE = `Usage: tessera match-eval <records.csv> [--link <other.csv>] --clusters <clusters.csv> --truth <column> [options]

Scores the output of \`tessera match\` against ground truth: the column --truth of the records file(s)
holds the true entity of each record (records with the same value are the same person).

Options:
  --clusters <clusters.csv> the clusters written by tessera match --out
  --pairs <pairs.csv>       the pairs written by tessera match --pairs (adds best-threshold F1, blocking recall
                            and reduction ratio; write them with the default --min-probability 0)
  --truth <column>          column holding the true entity id
  --truth-pattern <regex>   take the entity from the first group of this regex on the truth column
                            (FEBRL: --truth rec_id --truth-pattern 'rec-(\\d+)-')
  --config <match.json>     the run's config (for the id column and threshold), or:
  --id <column>             the record id column (default: from --config)
  --threshold <p>           threshold to score pairs at (default: the run's, from its summary or config)
  --link <other.csv>        the second file of a link run
  --json                    print the metrics as JSON
  -h, --help                show this text`

export interface MatchEvalIo {
  readonly stdout: TextSink
  readonly stderr: TextSink
}

interface EvalArgs {
  readonly file: string
  readonly link: string | undefined
  readonly clusters: string
  readonly pairs: string | undefined
  readonly truth: string
  readonly pattern: RegExp | null
  readonly config: string | undefined
  readonly id: string | undefined
  readonly threshold: number | undefined
  readonly json: boolean
}

function parseEvalArgs(argv: readonly string[]): { kind: 'run'; args: EvalArgs } | { kind: 'help' } | { kind: 'error'; message: string } {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        link: { type: 'string' }, clusters: { type: 'string' }, pairs: { type: 'string' }, truth: { type: 'string' },
        'truth-pattern': { type: 'string' }, config: { type: 'string' }, id: { type: 'string' }, threshold: { type: 'string' },
        json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (error) {
    return { kind: 'error', message: (error as Error).message }
  }
  const { values, positionals } = parsed
  if (values.help) return { kind: 'help' }
  if (positionals.length !== 1) return { kind: 'error', message: positionals.length === 0 ? 'missing the records file' : `one records file, got ${positionals.length} (use --link for a second file)` }
  if (values.clusters === undefined) return { kind: 'error', message: '--clusters is required (the file written by tessera match --out)' }
  if (values.truth === undefined) return { kind: 'error', message: '--truth is required (the column holding the true entity id)' }
  if (values.config === undefined && values.id === undefined) return { kind: 'error', message: 'give --config <match.json> or --id <column> so records can be matched to clusters' }
  let pattern: RegExp | null = null
  if (values['truth-pattern'] !== undefined) {
    try {
      pattern = new RegExp(values['truth-pattern'])
    } catch (error) {
      return { kind: 'error', message: `--truth-pattern is not a valid regular expression: ${(error as Error).message}` }
    }
  }
  let threshold: number | undefined
  if (values.threshold !== undefined) {
    threshold = Number(values.threshold)
    if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1) return { kind: 'error', message: `--threshold must be a number from 0 to 1, got ${JSON.stringify(values.threshold)}` }
  }
  return {
    kind: 'run',
    args: {
      file: positionals[0]!, link: values.link, clusters: values.clusters, pairs: values.pairs, truth: values.truth, pattern,
      config: values.config, id: values.id, threshold, json: values.json,
    },
  }
}

/** Reads the named columns of a CSV file, row by row; rows that cannot be read are skipped (match skipped them too). */
async function readColumns(file: string, columns: readonly string[]): Promise<string[][]> {
  const rows: string[][] = []
  try {
    for await (const row of readRows(file, {
      format: 'csv',
      onHeader: (header) => {
        const missing = [...new Set(columns.filter((c) => !header.includes(c)))]
        if (missing.length > 0) throw new ConfigError(`${file} has no column ${missing.map((m) => JSON.stringify(m)).join(', ')}; its columns are ${header.join(', ')}`)
      },
    })) {
      if (row.record === undefined) continue
      const record = row.record
      rows.push(columns.map((c) => (typeof record[c] === 'string' ? record[c] : '')))
    }
  } catch (error) {
    if (error instanceof ImportFileError) throw new ConfigError(`${file}: ${error.message}`)
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ConfigError(`${file} does not exist (check the path)`)
    throw error
  }
  return rows
}

function percent(x: number): string {
  return x.toFixed(4)
}

function line(label: string, s: PairwiseScore, extra = ''): string {
  return `${label.padEnd(34)} P ${percent(s.precision)}  R ${percent(s.recall)}  F1 ${percent(s.f1)}  (TP ${s.truePositives}, FP ${s.falsePositives}, FN ${s.falseNegatives})${extra}\n`
}

function formatEvaluation(e: Evaluation, elapsed: number | undefined): string {
  let text = `records ${e.records}, true pairs ${e.truePairs}, possible pairs ${e.possiblePairs}\n`
  text += line('clusters (pairwise)', e.clusters)
  if (e.pairsAtThreshold) text += line(`pairs at p >= ${e.pairsAtThreshold.threshold}`, e.pairsAtThreshold)
  if (e.pairsAtBest) text += line(`pairs at best threshold`, e.pairsAtBest, `  p >= ${e.pairsAtBest.threshold.toPrecision(4)}`)
  if (e.blockingRecall !== undefined) text += `${'blocking recall'.padEnd(34)} ${percent(e.blockingRecall)} (${e.candidatePairs} candidate pairs, reduction ratio ${e.reductionRatio!.toFixed(6)})\n`
  text += `${'B-cubed'.padEnd(34)} P ${percent(e.bcubed.precision)}  R ${percent(e.bcubed.recall)}  F1 ${percent(e.bcubed.f1)}\n`
  if (elapsed !== undefined) text += `${'elapsed (tessera match)'.padEnd(34)} ${elapsed.toFixed(2)} s\n`
  return text
}

/** Runs `tessera match-eval`; returns the exit code. */
export async function runMatchEval(argv: readonly string[], io: MatchEvalIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const parsed = parseEvalArgs(argv)
  if (parsed.kind === 'help') {
    io.stdout.write(MATCH_EVAL_USAGE + '\n')
    return 0
  }
  if (parsed.kind === 'error') {
    io.stderr.write(`tessera match-eval: ${parsed.message}\n\n${MATCH_EVAL_USAGE}\n`)
    return 1
  }
  const args = parsed.args
  try {
    const config = args.config === undefined ? null : readMatchConfig(args.config)
    const idColumn = args.id ?? config!.id
    const summaryFile = `${args.clusters.replace(/\.csv$/i, '')}.summary.json`
    const summary = existsSync(summaryFile) ? (JSON.parse(readFileSync(summaryFile, 'utf8')) as { elapsedSeconds?: number; thresholds?: { match?: number } }) : null
    const threshold = args.threshold ?? summary?.thresholds?.match ?? config?.matchThreshold ?? 0.99

    // Records of both files, keyed by (source, id): ids may repeat across the two files of a link.
    const entityOf = new Map<string, string>()
    const addTruth = async (file: string, source: 'left' | 'right'): Promise<void> => {
      for (const [id, truth] of await readColumns(file, [idColumn, args.truth])) {
        const key = `${source}\u0000${id!.trim()}`
        const m = args.pattern?.exec(truth!)
        entityOf.set(key, args.pattern ? (m?.[1] ?? truth!) : truth!)
      }
    }
    await addTruth(args.file, 'left')
    if (args.link !== undefined) await addTruth(args.link, 'right')

    const linked = args.link !== undefined
    const clusterRows = await readColumns(args.clusters, linked ? ['record_id', 'cluster_id', 'source'] : ['record_id', 'cluster_id'])
    const index = new Map<string, number>()
    const entity: string[] = []
    const cluster: string[] = []
    const source: (0 | 1)[] = []
    for (const [id, clusterId, side] of clusterRows) {
      const key = `${linked ? side : 'left'}\u0000${id}`
      const truth = entityOf.get(key)
      if (truth === undefined) throw new ConfigError(`${args.clusters}: record ${JSON.stringify(id)} is not in the records file(s); evaluate with the files the run used`)
      index.set(key, entity.length)
      entity.push(truth)
      cluster.push(clusterId!)
      source.push(side === 'right' ? 1 : 0)
    }
    let pairs: { a: number; b: number; probability: number }[] | undefined
    if (args.pairs !== undefined) {
      pairs = []
      for (const [l, r, p] of await readColumns(args.pairs, ['left_id', 'right_id', 'match_probability'])) {
        const a = index.get(`left\u0000${l}`)
        const b = index.get(`${linked ? 'right' : 'left'}\u0000${r}`)
        if (a === undefined || b === undefined) throw new ConfigError(`${args.pairs}: pair ${l},${r} names a record not in ${args.clusters}`)
        pairs.push({ a, b, probability: Number(p) })
      }
    }
    const result = evaluate({ entity, cluster, threshold, ...(linked ? { source } : {}), ...(pairs ? { pairs } : {}) })
    const elapsed = summary?.elapsedSeconds
    if (args.json) io.stdout.write(JSON.stringify({ ...result, elapsedSeconds: elapsed ?? null }, null, 2) + '\n')
    else io.stdout.write(formatEvaluation(result, elapsed))
    return 0
  } catch (error) {
    if (isTesseraError(error)) {
      io.stderr.write(`tessera match-eval: ${error.message}\n`)
      return 1
    }
    throw error
  }
}
