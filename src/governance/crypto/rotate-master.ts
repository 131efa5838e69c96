/**
 * @module Master key rotation: re-wraps every data key (and the keyring root) under a new master key. Crash-safe
 * at every step: each row is re-wrapped by one compare-and-set statement, and until the last row is done the old
 * key stays where the next start finds it, so every data key always opens under the old or the new key; running
 * the command again resumes.
 *
 * File mode (`master.key`):
 *   1. stage the new key in `master.key.next` (kept if it exists: a resumed rotation reuses it);
 *   2. re-wrap every row not wrapped by it (a start in between loads master.key and master.key.next);
 *   3. copy the old key to `master.key.retired`, then rename `master.key.next` over `master.key` (atomic);
 *   4. re-wrap anything still under the old key (a writer that raced the rename), then delete `master.key.retired`.
 * HSM mode (PKCS#11): the operator creates the new key in the token and names it in the config (rotateInToken).
 * Env mode: the operator sets the new key in `TESSERA_MASTER_KEY` and the old one in `TESSERA_MASTER_KEY_RETIRED`;
 * the command re-wraps every row under the new key, and the operator then removes the retired variable.
 */
import { existsSync, readFileSync } from 'node:fs'
import { ConfigError } from '../../core/errors.js'
import type { DataKeyStore } from './data-key-store.js'
import type { KeyManagementService } from './key-management.js'
import { dataKeyWrapAad } from './keyring.js'
import { Pkcs11Kms, type Pkcs11Config } from './pkcs11-kms.js'
import {
  LocalKeyFile, MASTER_KEY_ENV, RETIRED_MASTER_KEY_ENV, masterKeyFiles, masterKeyId, newMasterKeyText, parseMasterKey, removeKeyFile, writeKeyFileAtomically,
} from './local-key-file.js'

const PAGE = 500

/** Re-wraps every row not wrapped by `kms.currentKeyId` (rows under a key `kms` does not hold are an error). Returns how many it re-wrapped. */
export async function rewrapAll(store: DataKeyStore, kms: KeyManagementService, onProgress?: (done: number) => void): Promise<number> {
  let done = 0
  let after = ''
  for (;;) {
    const page = await store.notWrappedBy(kms.currentKeyId, after, PAGE)
    if (page.length === 0) return done
    for (const row of page) {
      const aad = dataKeyWrapAad(row.ref, row.keyId)
      const key = await kms.unwrap({ masterKeyId: row.masterKeyId, wrapped: row.wrapped }, aad)
      const wrapped = await kms.wrap(key, aad)
      // false: the row was shredded or re-wrapped by someone else meanwhile; either way nothing is left to do for it.
      if (await store.rewrap(row.ref, row.keyId, row.masterKeyId, wrapped)) done++
    }
    after = page[page.length - 1]!.ref
    onProgress?.(done)
  }
}

export interface RotationReport {
  readonly mode: 'file' | 'env' | 'pkcs11'
  readonly from: readonly string[]
  readonly to: string
  readonly rewrapped: number
  /** Rows per master key after the rotation. */
  readonly byMasterKey: Readonly<Record<string, number>>
}

export interface RotateOptions {
  readonly keyFile: string
  readonly store: DataKeyStore
  /** Master keys in an HSM (governance.encryption.pkcs11): the new key is the configured `keyLabel`, made beforehand. */
  readonly pkcs11?: Pkcs11Config
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly onProgress?: (done: number) => void
}

export async function rotateMasterKey(options: RotateOptions): Promise<RotationReport> {
  const env = options.env ?? process.env
  const { store } = options
  if (options.pkcs11 !== undefined) return rotateInToken(options.pkcs11, store, env, options.onProgress)
  if (env[MASTER_KEY_ENV] !== undefined && env[MASTER_KEY_ENV] !== '') {
    const kms = LocalKeyFile.load({ keyFile: options.keyFile, env, create: false })
    if (kms.knownKeyIds.length < 2 && Object.keys(await store.countByMasterKey()).every((id) => id === kms.currentKeyId)) {
      throw new ConfigError(`${MASTER_KEY_ENV} is set, so the master key lives in the environment: put the new key in ${MASTER_KEY_ENV} and the old one in ` +
        `${RETIRED_MASTER_KEY_ENV}, then run this command again (every data key is already wrapped by ${kms.currentKeyId})`, MASTER_KEY_ENV)
    }
    const before = Object.keys(await store.countByMasterKey()).filter((id) => id !== kms.currentKeyId)
    const rewrapped = await rewrapAll(store, kms, options.onProgress)
    return { mode: 'env', from: before, to: kms.currentKeyId, rewrapped, byMasterKey: await store.countByMasterKey() }
  }
  const files = masterKeyFiles(options.keyFile)
  if (!existsSync(files.current)) throw new ConfigError(`no master key file at ${files.current}: nothing to rotate (is governance.encryption.keyFile right?)`, 'governance.encryption.keyFile')
  const read = (path: string): Buffer => parseMasterKey(readFileSync(path, 'utf8'), `the master key file ${path}`, 'governance.encryption.keyFile')
  let rewrapped = 0
  // Stopped between installing the staged key and removing its file: the staged key is the current one already.
  if (existsSync(files.next) && masterKeyId(read(files.next)) === masterKeyId(read(files.current))) removeKeyFile(files.next)
  // A rotation that stopped after installing its key: finish it before starting a new one.
  if (existsSync(files.retired) && !existsSync(files.next)) {
    const current = read(files.current)
    rewrapped += await rewrapAll(store, LocalKeyFile.fromKeys(current, [read(files.retired)], files.current), options.onProgress)
    removeKeyFile(files.retired)
  }
  const old = read(files.current)
  if (!existsSync(files.next)) writeKeyFileAtomically(files.next, newMasterKeyText())
  const next = read(files.next)
  const extra = existsSync(files.retired) ? [read(files.retired)] : []
  const staged = LocalKeyFile.fromKeys(next, [old, ...extra], files.next)
  rewrapped += await rewrapAll(store, staged, options.onProgress)
  writeKeyFileAtomically(files.retired, `${old.toString('base64')}\n`)
  writeKeyFileAtomically(files.current, `${next.toString('base64')}\n`)
  removeKeyFile(files.next)
  // A process that still had the old key as its current one may have wrapped a new subject's key meanwhile.
  rewrapped += await rewrapAll(store, LocalKeyFile.fromKeys(next, [old, ...extra], files.current), options.onProgress)
  removeKeyFile(files.retired)
  return { mode: 'file', from: [masterKeyId(old)], to: masterKeyId(next), rewrapped, byMasterKey: await store.countByMasterKey() }
}

/**
 * HSM mode: the operator made the new key in the token (`tessera keys create-master --label NEW`), set it as
 * `keyLabel` and listed the old labels in `retiredKeyLabels`; every row not wrapped by the new key is re-wrapped in
 * the token. Resumable like the others (rows are re-wrapped one compare-and-set at a time).
 */
async function rotateInToken(config: Pkcs11Config, store: DataKeyStore, env: Readonly<Record<string, string | undefined>>, onProgress?: (done: number) => void): Promise<RotationReport> {
  const kms = await Pkcs11Kms.open(config, env)
  try {
    const before = Object.keys(await store.countByMasterKey()).filter((id) => id !== kms.currentKeyId)
    if (before.length === 0) {
      throw new ConfigError(`every data key is already wrapped by ${kms.currentKeyId}: to rotate, create a key under a new label (tessera keys create-master --label NEW), ` +
        'set governance.encryption.pkcs11.keyLabel to it and list the current label in retiredKeyLabels, then run this command again', 'governance.encryption.pkcs11.keyLabel')
    }
    const rewrapped = await rewrapAll(store, kms, onProgress)
    return { mode: 'pkcs11', from: before, to: kms.currentKeyId, rewrapped, byMasterKey: await store.countByMasterKey() }
  } finally {
    await kms.close()
  }
}
