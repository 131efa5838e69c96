/** @module `tessera` command line: dispatches to the subcommands. */
import { isTesseraError } from '../core/errors.js'
import { packageVersion } from '../app/tessera.js'

const USAGE = `tessera — open-source customer data platform

Usage: tessera <command> [options]

Commands:
  up                      run the tracking API, the admin API and the pipeline (what \`npm start\` runs)
  demo                    send realistic multi-source customer journeys to a running Tessera, then show profiles
  import <file> --source <id>
                          bulk-import a CSV or JSONL file (CRM export) through the tracking API
  match <records.csv> [--link <other.csv>] --config <match.json> --out <clusters.csv> [--pairs <pairs.csv>]
                          find records of the same person (probabilistic matching), or link two files
  match-eval <records.csv> --clusters <clusters.csv> --truth <column> --config <match.json> [--pairs <pairs.csv>]
                          score a match run against ground truth (precision, recall, F1, blocking recall, B-cubed)
  match-train <records.csv>|--from-profiles --config <match.json> --out <model.json>
                          train the real-time matcher (identity.matching.model) on a CSV of people or the stored profiles
  replay --from <offset|time|earliest>
                          rebuild all profile and identity state from the event log (Tessera must be stopped)
  openapi [--out FILE]    print the OpenAPI document of the tracking and admin APIs
  audit verify            check that the audit log was not edited, removed, reordered or truncated
  unmerge <profileId> --identifier type:value
                          split a wrongly merged profile (admin API; see docs/identity.md)
  review list|accept|reject|reopen [<seq>]
                          the real-time matcher's review queue (admin API)
  quarantine              identifiers the supernode guard quarantined (admin API)
  retention run [--dry-run]
                          delete timeline events and trait values older than their category's schedule
  dsar create|status|list|run
                          data-subject requests: access export, erasure, opt-out, correction (admin API)
  keys status|rotate-master
                          the keyring of the encrypted event log: master key in use, data keys; rotate the master key
  workload ingest|recommend|eval|convert|runs|accuracy
                          Spark workload advisor: learn from event logs, recommend the cheapest cluster
                          that meets a deadline, evaluate it (docs/workload.md)
  version                 print the version

Run \`tessera <command> --help\` for the options of a command.
Configuration: tessera.config.json (or TESSERA_CONFIG), overridden by TESSERA_PORT, TESSERA_HOST,
TESSERA_DATA_DIR, TESSERA_WRITE_KEY, TESSERA_ADMIN_TOKEN, TESSERA_LOG_LEVEL, TESSERA_LOG_SYNC, TESSERA_ENCRYPTION,
TESSERA_MASTER_KEY.`

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'up':
        return await (await import('./up.js')).runUp(rest)
      case 'demo':
        return await (await import('./demo.js')).runDemo(rest)
      case 'import':
        return await (await import('./import.js')).runImport(rest)
      case 'match':
        return await (await import('./match.js')).runMatch(rest)
      case 'match-eval':
        return await (await import('./match-eval.js')).runMatchEval(rest)
      case 'match-train':
        return await (await import('./match-train.js')).runMatchTrain(rest)
      case 'replay':
        return await (await import('./replay.js')).runReplay(rest)
      case 'openapi':
        return await (await import('./openapi.js')).runOpenApi(rest)
      case 'audit':
        return await (await import('./audit.js')).runAudit(rest)
      case 'unmerge':
        return await (await import('./unmerge.js')).runUnmerge(rest)
      case 'review':
        return await (await import('./review.js')).runReview(rest)
      case 'quarantine':
        return await (await import('./review.js')).runQuarantine(rest)
      case 'retention':
        return await (await import('./retention.js')).runRetentionCommand(rest)
      case 'dsar':
        return await (await import('./dsar.js')).runDsar(rest)
      case 'keys':
        return await (await import('./keys.js')).runKeys(rest)
      case 'workload':
        return await (await import('./workload.js')).runWorkload(rest)
      case 'version':
      case '--version':
        console.log(packageVersion())
        return 0
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE)
        return command === undefined ? 1 : 0
      default:
        console.error(`tessera: unknown command ${JSON.stringify(command)}\n\n${USAGE}`)
        return 1
    }
  } catch (error) {
    if (isTesseraError(error)) {
      console.error(`tessera ${command}: ${error.message}`)
      return 1
    }
    throw error
  }
}
