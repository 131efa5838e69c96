/**
 * @module `tessera match-train <records.csv> --config <match.json> --out <model.json>`: trains the probabilistic
 * matcher (unsupervised Fellegi-Sunter: u from random pairs, m by EM per blocking rule, term frequencies) on a CSV
 * of people, e.g. a CRM file, and writes the model file that `identity.matching.model` points at. The config's column
 * names are the trait names the pipeline reads. With `--from-profiles` instead of a file it reads the traits of the
 * installation's own stored profiles through the profile reader port (a read-only connection: Tessera may be
 * running), and records the read in the audit log.
 */
import { existsSync, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { ConfigError, isTesseraError } from '../core/errors.js'
import type { TextSink } from '../client/progress-display.js'
import { dataLayout } from '../app/data-layout.js'
import { openReader } from '../app/open-state.js'
import { openStateIdentifierCodec } from '../app/identifier-scheme.js'
import { revealingReader } from '../profiles/revealing-profile-reader.js'
import { sealedReader } from '../profiles/sealed-profiles.js'
import { openProfileSealing } from '../app/profile-sealing.js'
import { loadConfig } from '../config/config.js'
import { loadRecords, type RowProblem } from '../matching/load-records.js'
import type { MatchConfig } from '../matching/match-config.js'
import type { MatchRecord } from '../matching/match-record.js'
import { traitRecord } from '../matching/realtime.js'
import { openCliAudit } from './cli-audit.js'
import { systemClock } from '../core/clock.js'
import { openConsent } from '../governance/consent/open-consent.js'
import { createResidency } from '../governance/residency.js'
import { modelToFile } from '../matching/model-file.js'
import { trainModel } from '../matching/train.js'
import { readMatchConfig } from './match.js'

export const MATCH_TRAIN_USAGE = `Usage: tessera match-train <records.csv> --config <match.json> --out <model.json>
       tessera match-train --from-profiles --config <match.json> --out <model.json> [--limit N] [--data-dir DIR]

Trains the real-time matcher on a CSV of people (one row per person or record; duplicates welcome: the
model is trained without labels), or on the traits of the stored profiles (--from-profiles), and writes the
model file for identity.matching.model. The config's column names must be the profile trait names the
pipeline reads (e.g. "first_name", "address.postcode"); see docs/identity.md, "Real-time matching".

Options:
  --config <match.json>   column kinds and blocking rules (as for tessera match)
  --out <model.json>      the model file to write
  --from-profiles         read the surviving profiles' traits from the state store (audited); profiles whose
                          consent refuses identity.matching.trainingPurpose (default analytics) are left out
  --limit <N>             at most N profiles (default 200000; profile ids are hashes, so the first N are a sample)
  --data-dir <DIR>        Tessera's data directory (default $TESSERA_DATA_DIR or ./data)
  --tessera-config <FILE> Tessera's config file, for the state store (default $TESSERA_CONFIG or ./tessera.config.json)
  -h, --help              show this text

Exit status: 0 done, 2 done but some rows were skipped (listed on stderr), 1 could not run.`

/** Profiles read per page with --from-profiles. */
const PAGE = 5000
export const DEFAULT_PROFILE_LIMIT = 200_000

export interface MatchTrainIo {
  readonly stdout: TextSink
  readonly stderr: TextSink
}

/** Runs `tessera match-train`; returns the exit code. */
export async function runMatchTrain(argv: readonly string[], io: MatchTrainIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let values: { config?: string; out?: string; help?: boolean; 'from-profiles'?: boolean; limit?: string; 'data-dir'?: string; 'tessera-config'?: string }
  let positionals: string[]
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv], allowPositionals: true, strict: true,
      options: {
        config: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false },
        'from-profiles': { type: 'boolean', default: false }, limit: { type: 'string' }, 'data-dir': { type: 'string' }, 'tessera-config': { type: 'string' },
      },
    }))
  } catch (error) {
    io.stderr.write(`tessera match-train: ${(error as Error).message}\n\n${MATCH_TRAIN_USAGE}\n`)
    return 1
  }
  if (values.help) {
    io.stdout.write(MATCH_TRAIN_USAGE + '\n')
    return 0
  }
  const fromProfiles = values['from-profiles'] === true
  const limit = values.limit === undefined ? DEFAULT_PROFILE_LIMIT : Number(values.limit)
  const problem = fromProfiles && positionals.length > 0 ? 'give either a records file or --from-profiles, not both'
    : !fromProfiles && positionals.length !== 1 ? 'give exactly one records file (or --from-profiles)'
      : !fromProfiles && (values.limit !== undefined || values['data-dir'] !== undefined) ? '--limit and --data-dir go with --from-profiles'
        : !Number.isInteger(limit) || limit < 2 ? `--limit must be an integer of at least 2, got ${JSON.stringify(values.limit)}`
          : values.config === undefined ? '--config is required (e.g. --config examples/match/profiles.json)'
      : values.out === undefined ? '--out is required (the model file to write)' : null
  if (problem !== null) {
    io.stderr.write(`tessera match-train: ${problem}\n\n${MATCH_TRAIN_USAGE}\n`)
    return 1
  }
  try {
    const config = readMatchConfig(values.config!)
    const raw: unknown = JSON.parse(readFileSync(values.config!, 'utf8'))
    const loaded = fromProfiles
      ? await profileRecords(config, { limit, ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}), ...(values['tessera-config'] ? { file: values['tessera-config'] } : {}) }, io)
      : await loadRecords(positionals[0]!, config)
    for (const p of loaded.problems) io.stderr.write(`${p.file}:${p.line}: ${p.message}\n`)
    if (loaded.records.length < 2) {
      throw new ConfigError(fromProfiles
        ? `fewer than two stored profiles have any of the traits ${config.columns.map((c) => JSON.stringify(c.name)).join(', ')}: nothing to train on (are the config's column names the trait names?)`
        : `${positionals[0]} has fewer than two usable records: nothing to train on`)
    }
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

/**
 * The match records of the surviving profiles (their traits under the config's column names), read through the
 * profile reader port in pages, without the profiles whose effective consent refuses `identity.matching.trainingPurpose`;
 * the read is recorded in the audit log (personal data, read for training), with how many were left out.
 */
async function profileRecords(
  config: MatchConfig, where: { readonly limit: number; readonly dataDir?: string; readonly file?: string }, io: MatchTrainIo,
): Promise<{ records: MatchRecord[]; problems: RowProblem[] }> {
  const tessera = loadConfig({ ...(where.file ? { file: where.file } : {}), overrides: where.dataDir ? { dataDir: where.dataDir } : {} })
  const layout = dataLayout(tessera.dataDir)
  if (tessera.store.kind === 'sqlite' && !existsSync(layout.state)) {
    throw new ConfigError(`no state database at ${layout.state}: point --data-dir at Tessera's data directory (where tessera up keeps it)`)
  }
  const purpose = tessera.identity.matching.trainingPurpose
  const residency = createResidency(tessera.governance.residency)
  const identifiers = await openStateIdentifierCodec(tessera, layout.dataDir, layout.state)
  const reader = revealingReader(sealedReader(await openReader(tessera, layout.state), openProfileSealing(tessera, identifiers.keyring)), identifiers.codec)
  const { audit, close } = await openCliAudit(tessera, layout.dataDir)
  const records: MatchRecord[] = []
  let read = 0
  let refused = 0
  try {
    const consent = await openConsent(tessera, layout.dataDir, audit, systemClock, identifiers.codec)
    try {
      let after: string | undefined
      while (read < where.limit) {
        const page = await reader.profileTraits({ limit: Math.min(PAGE, where.limit - read), ...(after === undefined ? {} : { afterId: after }) })
        if (page.length === 0) break
        read += page.length
        after = page[page.length - 1]!.id
        for (const p of page) {
          const record = traitRecord(config, p.id, p.traits)
          if (!record) continue
          // Training is processing: a person who refused (or, in an opt-in regime, never granted) the purpose it
          // rests on is left out, as the consent ledger decides for the profile's identifiers.
          const identifiers = (await reader.identities(p.id)).map((i) => `${i.type}:${i.value}`)
          const decision = await consent.ledger.effectiveConsent(identifiers, purpose, residency(p.traits))
          if (decision.state === 'granted') records.push(record)
          else refused++
        }
      }
    } finally {
      await consent.close()
    }
    await audit.record({
      kind: 'identity.train', actor: { type: 'cli', id: 'tessera match-train' }, action: 'tessera match-train --from-profiles', decision: 'ok',
      detail: { profilesRead: read, records: records.length, refusedByConsent: refused, purpose, traits: config.columns.map((c) => c.name) },
    })
  } finally {
    await reader.close()
    await identifiers.close()
    await close()
  }
  io.stdout.write(`read ${read} profiles (${records.length + refused} with compared traits, ${refused} of them left out: their consent refuses ${purpose})\n`)
  return { records, problems: [] }
}
