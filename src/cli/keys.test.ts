import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/config.js'
import { openKeyring } from '../governance/crypto/open-keyring.js'
import { openAuditStore } from '../governance/open-governance.js'
import { runKeys, type KeysIo } from './keys.js'

describe('tessera keys', () => {
  let dir: string
  let out: string
  let err: string
  const io = (): KeysIo => ({ stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, env: { TESSERA_DATA_DIR: dir } })
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-keys-cli-'))
    out = err = ''
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('status shows the master key id (never the key) and the data keys; rotate-master re-wraps them; both are audited', async () => {
    const config = loadConfig({ env: { TESSERA_DATA_DIR: dir } })
    const opened = await openKeyring(config, dir, {})
    await opened.keyring.keysFor(['a', 'b', 'c'])
    await opened.close()
    const key = readFileSync(join(dir, 'master.key'), 'utf8').trim()

    expect(await runKeys(['status', '--json'], io())).toBe(0)
    expect(out).not.toContain(key)
    const status = JSON.parse(out) as { enabled: boolean; dataKeys: number; kms: { currentKeyId: string; source: string } }
    expect(status).toMatchObject({ enabled: true, dataKeys: 3, kms: { source: join(dir, 'master.key') } })

    out = ''
    expect(await runKeys(['rotate-master'], io())).toBe(0)
    expect(out).toMatch(/re-wrapped 4 keys from mk-[0-9a-f]{16} to mk-[0-9a-f]{16}/)
    expect(out).toContain('back it up now')
    expect(readFileSync(join(dir, 'master.key'), 'utf8').trim()).not.toBe(key)

    out = ''
    expect(await runKeys(['status'], io())).toBe(0)
    expect(out).not.toContain(status.kms.currentKeyId)
    expect(out).toMatch(/data keys: 3; rows per master key: mk-[0-9a-f]{16} 4/)

    const audit = await openAuditStore(config, dir)
    try {
      const kinds = (await audit.search({ limit: 10 })).map((e) => e.kind)
      expect(kinds).toEqual(['keys.status', 'keys.rotate', 'keys.status'])
      const [rotation] = await audit.search({ kind: 'keys.rotate', limit: 1 })
      expect(rotation!.text).toContain('"rewrapped":4')
      expect(rotation!.text).not.toContain(key)
    } finally {
      await audit.close()
    }
  })

  it('status with encryption off and no keyring creates nothing', async () => {
    expect(await runKeys(['status'], { ...io(), env: { TESSERA_DATA_DIR: dir, TESSERA_ENCRYPTION: 'off' } })).toBe(0)
    expect(out).toContain('encryption off and no keyring')
    expect(existsSync(join(dir, 'master.key'))).toBe(false)
    expect(existsSync(join(dir, 'keys.db'))).toBe(false)
  })

  it('refuses an unknown subcommand with the usage', async () => {
    expect(await runKeys(['rotate'], io())).toBe(1)
    expect(err).toContain('expected "status", "rotate-master" or "create-master"')
  })

  it('create-master is for an HSM: with the local key file it explains, and creates nothing', async () => {
    expect(await runKeys(['create-master', '--label', 'm1'], io())).toBe(1)
    expect(err).toContain('configure governance.encryption.pkcs11 first')
    expect(existsSync(join(dir, 'master.key'))).toBe(false)
  })

  it('status over existing keys without the master key fails closed with how to fix it', async () => {
    const config = loadConfig({ env: { TESSERA_DATA_DIR: dir } })
    const opened = await openKeyring(config, dir, {})
    await opened.keyring.keysFor(['a'])
    await opened.close()
    rmSync(join(dir, 'master.key'))
    await expect(runKeys(['status'], io())).rejects.toThrow(/restore the file from your backup/)
  })
})
