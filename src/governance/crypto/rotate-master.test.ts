import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SqliteDataKeyStore } from '../../storage/sqlite/data-key-store.js'
import type { DataKeyStore } from './data-key-store.js'
import { Keyring } from './keyring.js'
import { LocalKeyFile, MASTER_KEY_ENV, RETIRED_MASTER_KEY_ENV, masterKeyId } from './local-key-file.js'
import { rotateMasterKey } from './rotate-master.js'

const SUBJECTS = Array.from({ length: 50 }, (_, i) => `subject-${i}`)

/** The real store, failing (like a crash: nothing after it runs) at its `failAt`-th rotation call. */
function failingAt(store: DataKeyStore, failAt: number): DataKeyStore {
  let calls = 0
  const tick = (): void => {
    if (calls++ === failAt) throw new Error(`injected failure at rotation step ${failAt}`)
  }
  return {
    migrate: () => store.migrate(), get: (r) => store.get(r), insertIfAbsent: (k) => store.insertIfAbsent(k), delete: (r) => store.delete(r),
    countByMasterKey: () => store.countByMasterKey(), countDataKeys: () => store.countDataKeys(), close: () => store.close(),
    notWrappedBy: async (m, a, l) => {
      tick()
      return store.notWrappedBy(m, a, l)
    },
    rewrap: async (r, k, f, t) => {
      tick()
      return store.rewrap(r, k, f, t)
    },
  }
}

describe('master key rotation', () => {
  let dir: string
  let store: SqliteDataKeyStore
  let before: Map<string, Buffer>
  const keyFile = (): string => join(dir, 'master.key')

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-rotate-'))
    store = new SqliteDataKeyStore(join(dir, 'keys.db'))
    await store.migrate()
    const ring = await Keyring.open({ kms: LocalKeyFile.load({ keyFile: keyFile(), env: {}, create: true }), store, cacheTtlMs: 0 })
    before = new Map((await ring.keysFor(SUBJECTS)).map((k) => [k.ref, k.key]))
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** What the next `tessera up` sees: every data key opens, with the same bytes as before. */
  async function expectAllReadable(env: Readonly<Record<string, string | undefined>> = {}): Promise<void> {
    const ring = await Keyring.open({ kms: LocalKeyFile.load({ keyFile: keyFile(), env, create: false }), store, cacheTtlMs: 0 })
    const keys = await ring.keysFor(SUBJECTS)
    expect(keys.every((k) => k.key.equals(before.get(k.ref)!))).toBe(true)
    expect(await store.countDataKeys()).toBe(SUBJECTS.length)
  }

  it('re-wraps every key (and the root) under a new key file and deletes the old key', async () => {
    const oldText = readFileSync(keyFile(), 'utf8')
    const report = await rotateMasterKey({ keyFile: keyFile(), store, env: {} })
    const newText = readFileSync(keyFile(), 'utf8')
    expect(newText).not.toBe(oldText)
    expect(report).toMatchObject({ mode: 'file', from: [masterKeyId(Buffer.from(oldText.trim(), 'base64'))], to: masterKeyId(Buffer.from(newText.trim(), 'base64')), rewrapped: SUBJECTS.length + 1 })
    expect(report.byMasterKey).toEqual({ [report.to]: SUBJECTS.length + 1 })
    expect(existsSync(`${keyFile()}.next`) || existsSync(`${keyFile()}.retired`)).toBe(false)
    await expectAllReadable()
    // The old key no longer opens anything.
    writeFileSync(keyFile(), oldText)
    await expect(Keyring.open({ kms: LocalKeyFile.load({ keyFile: keyFile(), env: {}, create: false }), store, cacheTtlMs: 0 })).rejects.toThrow(/wrapped by master key/)
  })

  it('a failure at any step leaves every key readable at the next start, and running again finishes', async () => {
    // 53 rotation calls for 51 rows: one page read, 51 re-wraps, the empty page, the check after installing the key.
    for (const failAt of [0, 1, 2, 26, 51, 52, 53]) {
      await expect(rotateMasterKey({ keyFile: keyFile(), store: failingAt(store, failAt), env: {} })).rejects.toThrow(/injected failure/)
      await expectAllReadable()
      const report = await rotateMasterKey({ keyFile: keyFile(), store, env: {} })
      expect(Object.keys(report.byMasterKey)).toEqual([report.to])
      expect(existsSync(`${keyFile()}.next`) || existsSync(`${keyFile()}.retired`)).toBe(false)
      await expectAllReadable()
    }
  })

  it('a stop between saving the old key and installing the new one is readable and resumes', async () => {
    const old = readFileSync(keyFile(), 'utf8')
    await expect(rotateMasterKey({ keyFile: keyFile(), store: failingAt(store, 53), env: {} })).rejects.toThrow(/injected failure/)
    expect(readFileSync(`${keyFile()}.retired`, 'utf8')).toBe(old)
    // Rebuild the state of a crash one step earlier: master.key still old, the staged key beside it, the old one saved.
    const installed = readFileSync(keyFile(), 'utf8')
    writeFileSync(`${keyFile()}.next`, installed)
    writeFileSync(keyFile(), old)
    writeFileSync(`${keyFile()}.retired`, old)
    await expectAllReadable()
    const report = await rotateMasterKey({ keyFile: keyFile(), store, env: {} })
    expect(report.to).toBe(masterKeyId(Buffer.from(installed.trim(), 'base64')))
    await expectAllReadable()
  })

  it('env mode: re-wraps from TESSERA_MASTER_KEY_RETIRED to TESSERA_MASTER_KEY', async () => {
    const old = readFileSync(keyFile(), 'utf8').trim()
    rmSync(keyFile())
    const fresh = randomBytes(32).toString('base64')
    await expect(rotateMasterKey({ keyFile: keyFile(), store, env: { [MASTER_KEY_ENV]: old } })).rejects.toThrow(/put the new key in TESSERA_MASTER_KEY and the old one in TESSERA_MASTER_KEY_RETIRED/)
    const env = { [MASTER_KEY_ENV]: fresh, [RETIRED_MASTER_KEY_ENV]: old }
    const report = await rotateMasterKey({ keyFile: keyFile(), store, env })
    expect(report).toMatchObject({ mode: 'env', rewrapped: SUBJECTS.length + 1 })
    await expectAllReadable({ [MASTER_KEY_ENV]: fresh })
    expect(existsSync(keyFile())).toBe(false)
  })
})
