import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tempDir } from '../../test/support/factories.js'
import { defaultConfig, type TesseraConfig } from '../config/config.js'
import { Keyring } from '../governance/crypto/keyring.js'
import { LocalKeyFile } from '../governance/crypto/local-key-file.js'
import { SqliteDataKeyStore } from '../storage/sqlite/data-key-store.js'
import { SqliteStateBackend } from '../storage/sqlite/sqlite-backend.js'
import { openIdentifierCodec } from './identifier-scheme.js'

describe('openIdentifierCodec', () => {
  let dir: ReturnType<typeof tempDir>
  let state: SqliteStateBackend
  const stores: SqliteDataKeyStore[] = []
  beforeEach(async () => {
    dir = tempDir()
    state = new SqliteStateBackend({ path: join(dir.dir, 'state.db'), sync: 'normal' })
    await state.migrate()
  })
  afterEach(async () => {
    await state.close()
    for (const s of stores.splice(0)) await s.close()
    dir.cleanup()
  })
  const keyring = async (name: string): Promise<Keyring> => {
    const store = new SqliteDataKeyStore(join(dir.dir, `${name}.db`))
    stores.push(store)
    await store.migrate()
    return Keyring.open({ kms: LocalKeyFile.load({ keyFile: join(dir.dir, `${name}.key`), env: {}, create: true }), store, cacheTtlMs: 1000 })
  }
  const config = (encryption: boolean): TesseraConfig => {
    const c = defaultConfig()
    return { ...c, governance: { ...c.governance, encryption: { ...c.governance.encryption, enabled: encryption } } }
  }

  it('pseudonymises a new state when encryption is on, and keeps that scheme when encryption is turned off', async () => {
    const ring = await keyring('keys')
    const first = await openIdentifierCodec(config(true), state, ring)
    expect(first.codec.scheme).toMatch(/^hmac-sha256-132:[0-9a-f]{16}$/)
    expect(first.codec.storedKey('email', 'ann@example.com')).toMatch(/^email:~/)
    const off = await openIdentifierCodec(config(false), state, ring)
    expect(off.codec.scheme).toBe(first.codec.scheme)
  })

  it('fails at start with another keyring or none, instead of missing every lookup', async () => {
    await openIdentifierCodec(config(true), state, await keyring('keys'))
    await expect(openIdentifierCodec(config(true), state, await keyring('other'))).rejects.toThrow(/another keyring or pseudonym format/)
    await expect(openIdentifierCodec(config(false), state, null)).rejects.toThrow(/no keyring/)
  })

  it('keeps clear keys with encryption off, and says so when encryption is on for a clear state', async () => {
    const clear = await openIdentifierCodec(config(false), state, await keyring('keys'))
    expect(clear.codec.scheme).toBe('clear')
    expect(clear.codec.storedKey('email', 'ann@example.com')).toBe('email:ann@example.com')
    expect(clear.warning).toBeNull()
    const later = await openIdentifierCodec(config(true), state, await keyring('keys'))
    expect(later.codec.scheme).toBe('clear')
    expect(later.warning).toMatch(/tessera replay --from earliest/)
  })
})
