/**
 * @module The trained model as a file (`model.json`): the match config it was trained with, its parameters (λ,
 * m and u per comparison level) and its term-frequency tables (the most frequent values, with the total), so the
 * pipeline can score in real time without retraining. {@link loadModelFile} checks the file and says what is
 * wrong and how to fix it.
 */
import { readFileSync } from 'node:fs'
import { ConfigError } from '../core/errors.js'
import { resolveBlockingRules } from './blocking.js'
import { buildComparisons } from './comparisons.js'
import { parseMatchConfig } from './match-config.js'
import { PairScorer, type ModelParameters } from './score.js'
import { TermFrequencies } from './term-frequency.js'
import type { MatchModel } from './train.js'

export const MODEL_FILE_VERSION = 1

/** Values kept per term-frequency table; rarer values count as seen once when scoring. */
export const SAVED_TERMS = 100_000

export interface ModelFile {
  readonly version: number
  /** The `match.json` the model was trained with, as written. */
  readonly config: unknown
  readonly parameters: ModelParameters
  readonly frequencies: readonly { readonly total: number; readonly counts: readonly (readonly [string, number])[] }[]
  readonly trainedAt: string
  readonly records: number
}

/** The file form of a trained model. `rawConfig` is the `match.json` value it was trained with. */
export function modelToFile(model: MatchModel, rawConfig: unknown, records: number): ModelFile {
  return {
    version: MODEL_FILE_VERSION,
    config: rawConfig,
    parameters: model.scorer.parameters,
    frequencies: model.frequencies.map((f) => ({ total: f.total, counts: f.top(SAVED_TERMS) })),
    trainedAt: new Date().toISOString(),
    records,
  }
}

function bad(where: string, message: string): never {
  throw new ConfigError(`model file ${where}: ${message}; retrain it with \`tessera match-train\` (see docs/identity.md, "Real-time matching")`)
}

/** Rebuilds a model from its file form, checking that parameters and comparisons agree. */
export function modelFromFile(file: unknown, where = '(model)'): MatchModel {
  if (typeof file !== 'object' || file === null || Array.isArray(file)) bad(where, 'must be a JSON object')
  const f = file as Partial<ModelFile>
  if (f.version !== MODEL_FILE_VERSION) bad(where, `has version ${JSON.stringify(f.version)}, this Tessera reads version ${MODEL_FILE_VERSION}`)
  const config = parseMatchConfig(f.config)
  const comparisons = buildComparisons(config.columns)
  const parameters = f.parameters
  if (!parameters || typeof parameters.lambda !== 'number' || !(parameters.lambda > 0 && parameters.lambda < 1)) bad(where, '.parameters.lambda must be a number between 0 and 1')
  if (!Array.isArray(parameters.comparisons) || parameters.comparisons.length !== comparisons.length) {
    bad(where, `.parameters.comparisons must have one entry per compared column (${comparisons.length})`)
  }
  comparisons.forEach((c, i) => {
    const p = parameters.comparisons[i]!
    if (p.name !== c.name || !Array.isArray(p.levels) || p.levels.length !== c.levels.length) {
      bad(where, `.parameters.comparisons[${i}] must be "${c.name}" with ${c.levels.length} levels`)
    }
    p.levels.forEach((l, j) => {
      if (!(l.m > 0 && l.m <= 1 && l.u > 0 && l.u <= 1)) bad(where, `.parameters.comparisons[${i}].levels[${j}]: m and u must be in (0, 1]`)
    })
  })
  if (!Array.isArray(f.frequencies) || f.frequencies.length !== comparisons.length) bad(where, `.frequencies must have ${comparisons.length} tables`)
  const frequencies = f.frequencies.map((t) => TermFrequencies.fromCounts(t.counts, t.total))
  return { config, comparisons, rules: resolveBlockingRules(config), frequencies, scorer: new PairScorer(comparisons, parameters, frequencies) }
}

/** Reads and checks a model file. */
export function loadModelFile(path: string): MatchModel {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new ConfigError(`cannot read the matching model ${path}: ${(cause as Error).message}; train one with \`tessera match-train\``)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (cause) {
    throw new ConfigError(`matching model ${path} is not valid JSON: ${(cause as Error).message}`)
  }
  return modelFromFile(parsed, path)
}
