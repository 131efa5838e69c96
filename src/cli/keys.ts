/**
 * @module `tessera keys status|rotate-master|create-master`: the keyring of the encrypted event log. `status` shows the master
 * key in use (its id, never the key), where it comes from, and how many data keys each master key wraps;
 * `rotate-master` re-wraps every data key under a new master key (src/governance/crypto/rotate-master.ts). Both
 * are recorded in the audit log.
 */
import { parseArgs } from 'node:util'
import { dataLayout } from '../app/data-layout.js'
import { acquireProcessLock } from '../app/process-lock.js'
import { loadConfig, type TesseraConfig } from '../config/config.js'
import { openCliAudit } from './cli-audit.js'
import { masterKeyPath, openDataKeyStore, openExistingKeyring, openKeyring } from '../governance/crypto/open-keyring.js'
import { Pkcs11Kms } from '../governance/crypto/pkcs11-kms.js'
import { rotateMasterKey, type RotationReport } from '../governance/crypto/rotate-master.js'

const HELP = `Usage: tessera keys <command> [options]

  status              the master key in use (id and source, never the key), data keys per master key
  rotate-master       re-wrap every data key under a new master key (file mode: generated into master.key;
                      env mode: set the new key in TESSERA_MASTER_KEY and the old one in TESSERA_MASTER_KEY_RETIRED;
                      HSM mode: create-master a new label, make it governance.encryption.pkcs11.keyLabel and list
                      the old one in retiredKeyLabels). Crash-safe and resumable: run it again after an
                      interruption. Stop Tessera first.
  create-master --label NAME
                      HSM mode only: generate an AES-256 master key inside the PKCS#11 token of
                      governance.encryption.pkcs11 (sensitive, never extractable), labelled NAME

  --json              print the result as JSON
  --data-dir DIR      the data directory (default $TESSERA_DATA_DIR or ./data)
  --config FILE       the config file (default $TESSERA_CONFIG or ./tessera.config.json)

Back up the master key (master.key) after every rotation: without it the encrypted event log cannot be read.`

export interface KeysIo {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
  readonly env?: Readonly<Record<string, string | undefined>>
}

const ACTOR = { type: 'cli', id: 'tessera keys' } as const

export async function runKeys(argv: readonly string[], io: KeysIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv], allowPositionals: true,
    options: { json: { type: 'boolean' }, 'data-dir': { type: 'string' }, config: { type: 'string' }, label: { type: 'string' }, help: { type: 'boolean' } },
  })
  if (values.help) {
    io.stdout.write(`${HELP}\n`)
    return 0
  }
  const command = positionals[0]
  if (positionals.length !== 1 || (command !== 'status' && command !== 'rotate-master' && command !== 'create-master')) {
    io.stderr.write(`tessera keys: expected "status", "rotate-master" or "create-master"\n\n${HELP}\n`)
    return 1
  }
  const env = io.env ?? process.env
  const config = loadConfig({ env, ...(values.config ? { file: values.config } : {}), overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {} })
  const layout = dataLayout(config.dataDir)
  const { audit, close } = await openCliAudit(config, layout.dataDir)
  try {
    if (command === 'create-master') {
      const pkcs11 = config.governance.encryption.pkcs11
      if (pkcs11 === undefined) {
        io.stderr.write('tessera keys create-master: the master key is a local key file here (made on the first start, replaced by rotate-master); ' +
          'create-master makes keys in an HSM: configure governance.encryption.pkcs11 first\n')
        return 1
      }
      if (values.label === undefined || values.label === '') {
        io.stderr.write('tessera keys create-master: --label NAME is required (a new label: data keys name their master key by it)\n')
        return 1
      }
      const keyId = await Pkcs11Kms.createKey(pkcs11, values.label, env)
      await audit.record({ kind: 'keys.create', actor: ACTOR, action: 'tessera keys create-master', decision: 'ok', detail: { keyId, token: pkcs11.token } })
      io.stdout.write(values.json ? `${JSON.stringify({ keyId, token: pkcs11.token })}\n` : `created master key ${keyId} in the token ${JSON.stringify(pkcs11.token)} (back up the token as your HSM's documentation says)\n`)
      return 0
    }
    if (command === 'status') {
      const status = await keyStatus(config, layout.dataDir, env)
      if (status === null) {
        await audit.record({ kind: 'keys.status', actor: ACTOR, action: 'tessera keys status', decision: 'ok', detail: { keyring: false } })
        io.stdout.write(values.json ? `${JSON.stringify({ enabled: false, keyring: null })}\n` : 'encryption off and no keyring: the event log is stored plain (governance.encryption.enabled turns it on)\n')
        return 0
      }
      await audit.record({ kind: 'keys.status', actor: ACTOR, action: 'tessera keys status', decision: 'ok', detail: { currentKeyId: status.kms.currentKeyId, dataKeys: status.dataKeys } })
      if (values.json) io.stdout.write(`${JSON.stringify(status, null, 2)}\n`)
      else {
        io.stdout.write(`encryption ${status.enabled ? 'on' : 'off'} (new event-log records ${status.enabled ? 'are' : 'are not'} sealed)\n`)
        io.stdout.write(`master key ${status.kms.currentKeyId} from ${status.kms.source}${status.kms.retiredKeyIds.length > 0 ? `; also unwrapping with ${status.kms.retiredKeyIds.join(', ')} (rotation not finished)` : ''}\n`)
        io.stdout.write(`data keys: ${status.dataKeys}; rows per master key: ${Object.entries(status.byMasterKey).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}\n`)
      }
      return 0
    }
    // Embedded mode: the running Tessera holds the lock and its master key in memory; rotating under it could
    // leave keys it wraps afterwards under a deleted key.
    const lock = config.store.kind === 'sqlite' ? acquireProcessLock(layout.lock, 'tessera keys rotate-master') : null
    let report: RotationReport
    try {
      const store = await openDataKeyStore(config, layout.dataDir)
      try {
        const pkcs11 = config.governance.encryption.pkcs11
        report = await rotateMasterKey({ keyFile: masterKeyPath(config, layout.dataDir), store, env, ...(pkcs11 === undefined ? {} : { pkcs11 }) })
      } catch (error) {
        await audit.record({ kind: 'keys.rotate', actor: ACTOR, action: 'tessera keys rotate-master', decision: 'error', reason: (error as Error).message.slice(0, 300) })
        throw error
      } finally {
        await store.close()
      }
    } finally {
      lock?.release()
    }
    await audit.record({ kind: 'keys.rotate', actor: ACTOR, action: 'tessera keys rotate-master', decision: 'ok', detail: { mode: report.mode, from: [...report.from], to: report.to, rewrapped: report.rewrapped } })
    if (values.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    else {
      io.stdout.write(`re-wrapped ${report.rewrapped} keys from ${report.from.join(', ') || '(none)'} to ${report.to}; rows per master key: ${Object.entries(report.byMasterKey).map(([k, n]) => `${k} ${n}`).join(', ')}\n`)
      io.stdout.write(report.mode === 'file'
        ? `the new master key is in ${masterKeyPath(config, layout.dataDir)}: back it up now (the old key file was deleted)\n`
        : report.mode === 'pkcs11'
          ? `every key is wrapped by ${report.to}: remove the old labels from governance.encryption.pkcs11.retiredKeyLabels (keep the old keys in the token until every process runs with the new config)\n`
          : 'every key is wrapped by the key in TESSERA_MASTER_KEY: remove TESSERA_MASTER_KEY_RETIRED from the environment of every process\n')
    }
    return 0
  } finally {
    await close()
  }
}

export interface KeyStatus {
  readonly enabled: boolean
  readonly kms: { readonly kind: string; readonly currentKeyId: string; readonly retiredKeyIds: readonly string[]; readonly source: string }
  readonly dataKeys: number
  readonly byMasterKey: Readonly<Record<string, number>>
}

/** The keyring's status; null when encryption is off and no keyring exists (nothing is created to answer). */
export async function keyStatus(config: TesseraConfig, dataDir: string, env: Readonly<Record<string, string | undefined>>): Promise<KeyStatus | null> {
  const opened = config.governance.encryption.enabled ? await openKeyring(config, dataDir, env) : await openExistingKeyring(config, dataDir, env)
  if (opened === null) return null
  try {
    return { enabled: config.governance.encryption.enabled, kms: opened.kms.status(), dataKeys: await opened.store.countDataKeys(), byMasterKey: await opened.store.countByMasterKey() }
  } finally {
    await opened.close()
  }
}
