import { describe, expect, it } from 'vitest'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../../test/support/factories.js'
import { loadConfig } from './config.js'
import { effectiveAuth, ensureCredentials } from './credentials.js'

describe('loadConfig', () => {
  it('starts from defaults', () => {
    const c = loadConfig({ env: {}, file: undefined })
    expect(c).toMatchObject({ port: 3000, dataDir: './data', log: { kind: 'embedded', sync: 'full' } })
    expect(c.identity.types.map((t) => t.name)).toEqual(['user_id', 'email', 'phone', 'device_id', 'anonymous_id'])
  })

  it('applies the file, then the environment, then overrides', () => {
    const { dir, cleanup } = tempDir()
    const file = join(dir, 'tessera.config.json')
    writeFileSync(file, JSON.stringify({ port: 4000, dataDir: '/from/file', pipeline: { batchSize: 10 } }))
    const c = loadConfig({ file, env: { TESSERA_PORT: '5000', TESSERA_LOG_SYNC: 'normal' }, overrides: { dataDir: '/from/flag' } })
    expect(c.port).toBe(5000)
    expect(c.dataDir).toBe('/from/flag')
    expect(c.log.sync).toBe('normal')
    expect(c.pipeline.batchSize).toBe(10)
    expect(c.pipeline.maxWaitMs).toBe(50) // untouched defaults survive a partial section
    cleanup()
  })

  it('names the bad key and how to fix it', () => {
    expect(() => loadConfig({ env: { TESSERA_PORT: 'eighty' } })).toThrow(/TESSERA_PORT="eighty" is not an integer/)
    expect(() => loadConfig({ env: {}, overrides: { pipeline: { dedupeWindowHours: 1 } } })).toThrow(/pipeline.dedupeWindowHours: must be at least 24/)
    expect(() => loadConfig({ env: {}, overrides: { log: { kind: 'pulsar' as never } } })).toThrow(/log.kind: must be one of embedded, memory, kafka/)
    expect(loadConfig({ env: {} }).governance.audit.identityRelayIntervalSeconds).toBe(1)
    expect(() => loadConfig({ env: {}, overrides: { governance: { audit: { identityRelayIntervalSeconds: 0 } } } }))
      .toThrow(/governance.audit.identityRelayIntervalSeconds: must be a number of seconds between 0.01 and 3600/)
    expect(() => loadConfig({ env: {}, overrides: { governance: { audit: { identityRelayIntervalSeconds: '1' as never } } } }))
      .toThrow(/identityRelayIntervalSeconds/)
    expect(() => loadConfig({ env: {}, overrides: { identity: { matching: { trainingPurpose: 'marketing' } } } }))
      .toThrow(/identity.matching.trainingPurpose: must be one of the consent purposes \(analytics, personalization, advertising, sale_share\)/)
    expect(() => loadConfig({ env: { TESSERA_LOG: 'kafka' } })).toThrow(/log.brokers: is required when log.kind is kafka \(set TESSERA_KAFKA_BROKERS/)
    expect(loadConfig({ env: { TESSERA_LOG: 'kafka', TESSERA_KAFKA_BROKERS: 'a:9092, b:9093' } }).log.brokers).toEqual(['a:9092', 'b:9093'])
    expect(() => loadConfig({
      env: {},
      overrides: { identity: { types: [{ name: 'x', priority: 1, limit: 1, unique: true, normalize: 'trim', blocked: [], blockedPatterns: ['(['], paths: [] }] } },
    })).toThrow(/identity.types\[0\].blockedPatterns: "\(\[" is not a valid regular expression/)
    const { dir, cleanup } = tempDir()
    const file = join(dir, 'bad.json')
    writeFileSync(file, '{ "port": ')
    expect(() => loadConfig({ file, env: {} })).toThrow(/is not valid JSON/)
    expect(() => loadConfig({ file: join(dir, 'missing.json'), env: {} })).toThrow(/does not exist/)
    cleanup()
  })

  it('reads governance.encryption and TESSERA_ENCRYPTION, with clear errors', () => {
    expect(loadConfig({ env: {} }).governance.encryption).toEqual({ enabled: true, cacheTtlSeconds: 60 })
    expect(loadConfig({ env: { TESSERA_ENCRYPTION: 'off' } }).governance.encryption.enabled).toBe(false)
    expect(loadConfig({ env: { TESSERA_ENCRYPTION: 'on', TESSERA_POLICY_DIR: '/p' } }).governance).toMatchObject({ encryption: { enabled: true }, policies: { dir: '/p', includeDefaults: true } })
    expect(() => loadConfig({ env: { TESSERA_ENCRYPTION: 'maybe' } })).toThrow(/TESSERA_ENCRYPTION="maybe" must be on or off/)
    expect(() => loadConfig({ env: {}, overrides: { governance: { encryption: { cacheTtlSeconds: -1 } } } })).toThrow(/governance.encryption.cacheTtlSeconds: must be a number of seconds from 0 to 3600/)
    expect(() => loadConfig({ env: {}, overrides: { governance: { encryption: { keyFile: '' } } } })).toThrow(/governance.encryption.keyFile: must be the path/)
    const pkcs11 = { library: '/usr/lib/softhsm/libsofthsm2.so', token: 'tessera', keyLabel: 'm2', retiredKeyLabels: ['m1'] }
    expect(loadConfig({ env: {}, overrides: { governance: { encryption: { pkcs11 } } } }).governance.encryption.pkcs11).toEqual(pkcs11)
    const bad = (patch: object): (() => unknown) => () => loadConfig({ env: {}, overrides: { governance: { encryption: { pkcs11: { ...pkcs11, ...patch } } } } })
    expect(bad({ library: '' })).toThrow(/governance.encryption.pkcs11.library: must be the path of the HSM's PKCS#11 module/)
    expect(bad({ keyLabel: 'a:b' })).toThrow(/governance.encryption.pkcs11.keyLabel: must be the label/)
    expect(bad({ retiredKeyLabels: ['m2'] })).toThrow(/governance.encryption.pkcs11.retiredKeyLabels: .*not the current one/)
    expect(bad({ pinEnv: '1234' })).toThrow(/governance.encryption.pkcs11.pinEnv: must name the environment variable/)
    expect(() => loadConfig({ env: {}, overrides: { governance: { encryption: { enabled: 'yes' as never } } } })).toThrow(/governance.encryption.enabled: must be true or false/)
  })

  it('selects the PostgreSQL store from the environment and requires a valid URL', () => {
    const c = loadConfig({ env: { TESSERA_STORE: 'postgres', TESSERA_DATABASE_URL: 'postgres://tessera@db:5432/cdp' }, file: undefined })
    expect(c.store).toEqual({ kind: 'postgres', url: 'postgres://tessera@db:5432/cdp', schema: 'tessera', poolSize: 10 })
    expect(() => loadConfig({ env: { TESSERA_STORE: 'postgres' }, file: undefined })).toThrow(/store.url: must be a postgres:\/\//)
    expect(() => loadConfig({ env: { TESSERA_STORE: 'postgres', TESSERA_DATABASE_URL: 'mysql://x/y' }, file: undefined })).toThrow(/store.url/)
    expect(() => loadConfig({ env: {}, file: undefined, overrides: { store: { schema: 'Bad-Name' } } })).toThrow(/store.schema/)
    expect(() => loadConfig({ env: {}, file: undefined, overrides: { store: { poolSize: 0 } } })).toThrow(/store.poolSize/)
    expect(loadConfig({ env: { TESSERA_STORE: 'sqlite' }, file: undefined }).store.kind).toBe('sqlite')
  })
})

describe('credentials', () => {
  it('generates keys once, privately, and reuses them', () => {
    const { dir, cleanup } = tempDir()
    const first = ensureCredentials(dir)
    expect(first.created).toBe(true)
    expect(statSync(join(dir, 'credentials.json')).mode & 0o777).toBe(0o600)
    const second = ensureCredentials(dir)
    expect(second.created).toBe(false)
    expect(second.stored).toEqual(first.stored)
    expect(Object.keys(first.stored.writeKeys)).toEqual(['default', 'web', 'mobile', 'crm', 'iot'])
    cleanup()
  })

  it('lets TESSERA_WRITE_KEY and TESSERA_ADMIN_TOKEN win, and keeps configured sources', () => {
    const stored = { writeKeys: { default: 'stored-default-key', web: 'stored-web-key' }, adminToken: 'stored-admin-token-123' }
    const auth = effectiveAuth(
      { sources: [{ id: 'web', name: 'Web', writeKeys: ['configured-web-key'] }], adminTokens: [] },
      stored,
      { TESSERA_WRITE_KEY: 'env-default-key', TESSERA_ADMIN_TOKEN: 'env-admin-token-1234567' },
    )
    expect(auth.sources.find((s) => s.id === 'default')?.writeKeys).toEqual(['env-default-key'])
    expect(auth.sources.find((s) => s.id === 'web')?.writeKeys).toEqual(['configured-web-key'])
    expect(auth.adminTokens).toEqual([{ name: 'env', token: 'env-admin-token-1234567' }])
    expect(() => effectiveAuth({ sources: [], adminTokens: [] }, null, { TESSERA_ADMIN_TOKEN: 'short' })).toThrow(/at least 16/)
  })
})
