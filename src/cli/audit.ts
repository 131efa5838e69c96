/**
 * @module `tessera audit verify | checkpoint`: checks the audit log without trusting Tessera or its store.
 * `verify` recomputes every leaf from the stored entry text, rebuilds the RFC 6962 tree and checks it
 * against every signed checkpoint in the store and against checkpoints saved elsewhere (`--checkpoint`),
 * which is what catches a store truncated together with its checkpoints. `checkpoint` prints the latest
 * signed checkpoint, to keep a copy outside Tessera. Safe to run while Tessera is up (read-only).
 */
import { createPublicKey } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { dataLayout } from '../app/data-layout.js'
import { loadConfig } from '../config/config.js'
import { TesseraError } from '../core/errors.js'
import { verifyAuditStore } from '../governance/audit-verify.js'
import { loadOrCreateSigningKey, rawPublicKey } from '../governance/checkpoint.js'
import { auditStorePath, openAuditStore, signingKeyPath } from '../governance/open-governance.js'

const HELP = `Usage: tessera audit <verify|checkpoint> [options]

  verify                   recompute the audit log's Merkle tree from the stored entries and check it against
                           every signed checkpoint; exit 0 when intact, 1 when anything was edited, removed,
                           reordered or truncated
    --checkpoint FILE      also check a signed checkpoint saved earlier (repeatable)
    --public-key BASE64    the Ed25519 public key to trust (default: derived from the signing key in the data
                           dir; pass a copy kept elsewhere so a replaced key is caught too)
    --json                 print the report as JSON
  checkpoint [--out FILE]  print the latest signed checkpoint (save it outside Tessera for later --checkpoint)
  public-key               print the audit log's public key (base64), to pin it elsewhere

Options: --data-dir DIR, --config FILE (as for tessera up).`

export async function runAudit(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv
  const { values } = parseArgs({
    args: rest,
    options: {
      checkpoint: { type: 'string', multiple: true }, 'public-key': { type: 'string' }, json: { type: 'boolean' }, out: { type: 'string' },
      'data-dir': { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean' },
    },
  })
  if (values.help || sub === undefined || sub === 'help' || sub === '--help') {
    console.log(HELP)
    return sub === undefined ? 1 : 0
  }
  const config = loadConfig({
    ...(values.config ? { file: values.config } : {}),
    overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {},
  })
  const { dataDir } = dataLayout(config.dataDir)
  const keyPath = signingKeyPath(config, dataDir)
  const publicKey = (): string => {
    if (values['public-key'] !== undefined) return values['public-key']
    if (!existsSync(keyPath)) throw new TesseraError('TESSERA_CONFIG', `no audit signing key at ${keyPath}; pass --public-key or point --data-dir at Tessera's data dir`)
    return rawPublicKey(createPublicKey(loadOrCreateSigningKey(keyPath))).toString('base64')
  }
  if (sub === 'public-key') {
    console.log(publicKey())
    return 0
  }
  if (sub !== 'verify' && sub !== 'checkpoint') {
    console.error(`tessera audit: unknown subcommand ${JSON.stringify(sub)}\n\n${HELP}`)
    return 1
  }
  if (config.store.kind === 'sqlite' && !existsSync(auditStorePath(dataDir))) {
    throw new TesseraError('TESSERA_CONFIG', `no audit log at ${auditStorePath(dataDir)}; start Tessera once, or point --data-dir at its data dir`)
  }
  const store = await openAuditStore(config, dataDir, { readonly: true })
  try {
    if (sub === 'checkpoint') {
      const latest = await store.latestCheckpoint()
      if (latest === null) throw new TesseraError('TESSERA_NOT_FOUND', 'the audit log has no signed checkpoint yet')
      if (values.out) writeFileSync(values.out, latest.note)
      else process.stdout.write(latest.note)
      return 0
    }
    const trusted = (values.checkpoint ?? []).map((f) => readFileSync(f, 'utf8'))
    const report = await verifyAuditStore(store, { publicKey: publicKey(), trusted })
    if (values.json) {
      console.log(JSON.stringify(report, null, 2))
    } else if (report.ok) {
      console.log(`audit log intact: ${report.entries} entries, ${report.checkpoints} signed checkpoints` +
        (report.latest ? `; latest covers ${report.latest.size} entries, root ${report.latest.rootHash}` : '') +
        (report.uncovered > 0 ? `; ${report.uncovered} newer entries not yet covered by a checkpoint` : ''))
    } else {
      console.error(`audit log verification FAILED (${report.entries} entries, ${report.checkpoints} checkpoints):`)
      for (const p of report.problems) console.error(`  - ${p}`)
    }
    return report.ok ? 0 : 1
  } finally {
    await store.close()
  }
}
