/**
 * @module `tessera retention run [--dry-run]`: deletes timeline events and trait values older than their data
 * category's schedule (governance.retention.schedules) from the state store, and the expired records of the event
 * log that every pipeline consumer has read, prints what was (or, with --dry-run, would be) deleted per category
 * and topic, and records the run in the audit log. `tessera up` runs the same job every
 * governance.retention.intervalMinutes.
 */
import { parseArgs } from 'node:util'
import { dataLayout } from '../app/data-layout.js'
import { openState } from '../app/open-state.js'
import { openProfileSealing } from '../app/profile-sealing.js'
import { openConfiguredKeyring } from '../governance/crypto/open-keyring.js'
import { loadConfig } from '../config/config.js'
import { systemClock } from '../core/clock.js'
import { openCliAudit } from './cli-audit.js'
import { retentionOnce } from '../governance/retention/open-retention.js'
import { openRetentionLogs } from '../app/retention-logs.js'

const HELP = `Usage: tessera retention run [--dry-run] [options]

  --dry-run           count what would be deleted, delete nothing (still audited)
  --json              print the report as JSON
  --data-dir DIR      the data directory (default $TESSERA_DATA_DIR or ./data)
  --config FILE       the config file (default $TESSERA_CONFIG or ./tessera.config.json)

Schedules: governance.retention.schedules (days per data category, e.g. { "behavioral": 395, "location": 90 }).`

export async function runRetentionCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv], allowPositionals: true,
    options: { 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, 'data-dir': { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean' } },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  if (positionals.length !== 1 || positionals[0] !== 'run') {
    console.error(`tessera retention: the only subcommand is "run"\n\n${HELP}`)
    return 1
  }
  const config = loadConfig({ ...(values.config ? { file: values.config } : {}), overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {} })
  const layout = dataLayout(config.dataDir)
  const state = await openState(config, layout.state)
  try {
    await state.migrate()
  } finally {
    await state.close()
  }
  // Sealed traits are opened, edited and sealed again under the profile's data key.
  const keys = await openConfiguredKeyring(config, layout.dataDir)
  const { audit, close } = await openCliAudit(config, layout.dataDir)
  try {
    const dryRun = values['dry-run'] ?? false
    const report = await retentionOnce(config, layout.state, audit, systemClock, { type: 'cli', id: 'tessera retention' }, dryRun,
      () => openRetentionLogs(config, layout), openProfileSealing(config, keys?.keyring ?? null))
    if (values.json) console.log(JSON.stringify(report, null, 2))
    else {
      const verb = dryRun ? 'would delete' : 'deleted'
      const list = (m: Readonly<Record<string, number>>): string => Object.entries(m).map(([c, n]) => `${c} ${n}`).join(', ') || 'none'
      console.log(`retention ${dryRun ? 'dry run' : 'run'} at ${report.time}: ${verb} timeline events: ${list(report.events)}; trait values: ${list(report.traits)} ` +
        `(${report.profilesChanged} profiles); event-log records: ${list(report.log)}`)
      for (const note of report.logNotes) console.log(`  ${note}`)
      for (const [c, t] of Object.entries(report.cutoffs)) console.log(`  ${c}: before ${t}`)
    }
    return 0
  } finally {
    await close()
    await keys?.close()
  }
}
