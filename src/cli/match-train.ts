/**
 * @module `tessera match-train <records.csv> --config <match.json> --out <model.json>`: trains the probabilistic
 * matcher (unsupervised Fellegi-Sunter: u from random pairs, m by EM per blocking rule, term frequencies) on a CSV
 * of people, e.g. an export of the profiles' traits or a CRM file, and writes the model file that
 * `identity.matching.model` points at. The config's column names are the trait names the pipeline reads.
 */
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { ConfigError, isTesseraError } from '../core/errors.js'
import type { TextSink } from '../client/progress-display.js'
import { loadRecords } from '../matching/load-records.js'
import { modelToFile } from '../matching/model-file.js'
import { trainModel } from '../matching/train.js'
import { readMatchConfig } from './match.js'

export const MATCH_TRAIN_USAGE = `Usage: tessera match-train <records.csv> --config <match.json> --out <model.json>

Trains the real-time matcher on a CSV of people (one row per person or record; duplicates welcome: the
model is trained without labels) and writes the model file for identity.matching.model.
The config's column names must be the profile trait names the pipeline reads (e.g. "first_name",
"address.postcode"); see docs/identity.md, "Real-time matching".

Options:
  --config <match.json>   column kinds and blocking rules (as for tessera match)
  --out <model.json>      the model file to write
  -h, --help              show this text

Exit status: 0 done, 2 done but some rows were skipped (listed on stderr), 1 could not run.`

export interface MatchTrainIo {
  readonly stdout: TextSink
  readonly stderr: TextSink
}

/** Runs `tessera match-train`; returns the exit code. */
export async function runMatchTrain(argv: readonly string[], io: MatchTrainIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let values: { config?: string; out?: string; help?: boolean }
  let positionals: string[]
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv], allowPositionals: true, strict: true,
      options: { config: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
    }))
  } catch (error) {
    io.stderr.write(`tessera match-train: ${(error as Error).message}\n\n${MATCH_TRAIN_USAGE}\n`)
    return 1
  }
  if (values.help) {
    io.stdout.write(MATCH_TRAIN_USAGE + '\n')
    return 0
  }
  const problem = positionals.length !== 1 ? 'give exactly one records file'
    : values.config === undefined ? '--config is required (e.g. --config examples/match/profiles.json)'
      : values.out === undefined ? '--out is required (the model file to write)' : null
  if (problem !== null) {
    io.stderr.write(`tessera match-train: ${problem}\n\n${MATCH_TRAIN_USAGE}\n`)
    return 1
  }
  try {
    const config = readMatchConfig(values.config!)
    const raw: unknown = JSON.parse(readFileSync(values.config!, 'utf8'))
    const loaded = await loadRecords(positionals[0]!, config)
    for (const p of loaded.problems) io.stderr.write(`${p.file}:${p.line}: ${p.message}\n`)
    if (loaded.records.length < 2) throw new ConfigError(`${positionals[0]} has fewer than two usable records: nothing to train on`)
    const started = performance.now()
    const { model, report } = trainModel(config, loaded.records, null)
    await writeFile(values.out!, JSON.stringify(modelToFile(model, raw, loaded.records.length)) + '\n')
    io.stdout.write(`trained on ${loaded.records.length} records (${report.candidatePairs} candidate pairs, λ ${model.scorer.parameters.lambda.toExponential(2)}) ` +
      `in ${((performance.now() - started) / 1000).toFixed(2)} s; wrote ${values.out}\n`)
    return loaded.problems.length > 0 ? 2 : 0
  } catch (error) {
    if (isTesseraError(error)) {
      io.stderr.write(`tessera match-train: ${error.message}\n`)
      return 1
    }
    throw error
  }
}
