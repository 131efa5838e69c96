import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawEvent } from '../../../test/support/factories.js'
import { adminQuery, dropSchema, freshSchemaName, requirePostgres } from '../../../test/support/services.js'
import { TesseraError } from '../../core/errors.js'
import { profile, resolveAndApply, runStateBackendContract } from '../state-backend.contract.js'
import { MIGRATIONS } from './postgres-migrations.js'
import { openPostgresStateBackend, type PostgresStateBackend } from './postgres-backend.js'
import { composeMoves, toStoreError } from './postgres-query.js'

const url = await requirePostgres()

async function freshBackend(schema = freshSchemaName()): Promise<{ backend: PostgresStateBackend; cleanup: () => Promise<void> }> {
  const backend = await openPostgresStateBackend({ url: url!, schema, poolSize: 4, applicationName: 'tessera-test-backend' })
  return {
    backend,
    cleanup: async () => {
      await backend.close()
      await dropSchema(url!, schema)
    },
  }
}

if (url) runStateBackendContract('postgres', () => freshBackend())

describe('postgres helpers', () => {
  it('folds chained moves into final owners', () => {
    expect(composeMoves([{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }])).toEqual({ src: ['a', 'b'], dst: ['c', 'c'] })
    expect(composeMoves([{ from: 'b', to: 'c' }, { from: 'a', to: 'b' }])).toEqual({ src: ['b', 'a'], dst: ['c', 'b'] })
  })

  it('turns infrastructure failures into TESSERA_STORE and keeps data errors plain', () => {
    const lost = toStoreError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }), 'x')
    expect(lost).toBeInstanceOf(TesseraError)
    expect((lost as TesseraError).code).toBe('TESSERA_STORE')
    expect(toStoreError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'x')).toBeInstanceOf(TesseraError)
    const bad = toStoreError(Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' }), 'x')
    expect(bad).not.toBeInstanceOf(TesseraError)
    expect(bad.cause).toBeDefined()
  })
})

;(url ? describe : describe.skip)('PostgresStateBackend (PostgreSQL only)', () => {
  const schema = freshSchemaName()
  let a: Awaited<ReturnType<typeof freshBackend>>
  let b: Awaited<ReturnType<typeof freshBackend>>
  beforeAll(async () => {
    a = await freshBackend(schema)
    b = await freshBackend(schema)
    // Two processes starting at once: the advisory lock makes the migrations take turns.
    await Promise.all([a.backend.migrate(), b.backend.migrate()])
  })
  afterAll(async () => {
    await b?.backend.close()
    await a?.cleanup()
  })

  it('records the schema version once', async () => {
    const rows = await adminQuery<{ version: number }>(url!, `SELECT version FROM ${schema}.tessera_schema_migrations`)
    expect(rows).toEqual(MIGRATIONS.map((_, i) => ({ version: i + 1 })))
  })

  it('keeps one consistent component per user when two workers merge overlapping identifiers at once', async () => {
    const users = Array.from({ length: 120 }, (_, i) => `c${i}`)
    // Each side first sees its own anonymous devices: two separate profiles per user.
    await Promise.all([
      resolveAndApply(a.backend, users.map((u) => rawEvent('page', { anonymousId: `${u}-a` }))),
      resolveAndApply(b.backend, users.map((u) => rawEvent('page', { anonymousId: `${u}-b` }))),
    ])
    // Then both identify the same users concurrently, batch against batch.
    const side = (backend: PostgresStateBackend, suffix: string, order: string[]): Promise<unknown> => (async () => {
      for (let i = 0; i < order.length; i += 30) {
        const chunk = order.slice(i, i + 30)
        await resolveAndApply(backend, chunk.map((u) => rawEvent('identify', { anonymousId: `${u}-${suffix}`, userId: u, traits: { email: `${u}@example.org` } })))
      }
    })()
    await Promise.all([side(a.backend, 'a', users), side(b.backend, 'b', users)])

    const rows = await adminQuery<{ key: string; profile_id: string; merged_into: string | null }>(url!,
      `SELECT i.key, i.profile_id, p.merged_into FROM ${schema}.identifiers AS i LEFT JOIN ${schema}.profiles AS p ON p.id = i.profile_id`)
    expect(rows).toHaveLength(users.length * 4) // no identifier lost: two devices, a user id and an e-mail each
    expect(rows.filter((r) => r.merged_into !== null)).toEqual([]) // nothing owned by a merged profile
    const owner = new Map(rows.map((r) => [r.key, r.profile_id]))
    for (const u of users) {
      const ids = [`anonymous_id:${u}-a`, `anonymous_id:${u}-b`, `user_id:${u}`, `email:${u}@example.org`].map((k) => owner.get(k))
      expect(new Set(ids).size, u).toBe(1)
    }
    expect(new Set(owner.values()).size).toBe(users.length)
  })

  it('reports an unreachable server as TESSERA_STORE', async () => {
    const dead = await openPostgresStateBackend({ url: 'postgres://postgres@127.0.0.1:1/none', schema: 'tessera' })
    const error = await dead.transaction(async (tx) => tx.profiles.get(['x'])).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TesseraError)
    expect((error as TesseraError).code).toBe('TESSERA_STORE')
    await dead.close()
  })

  it('dead-letters rather than retries a value PostgreSQL refuses', async () => {
    const error = await a.backend.transaction((tx) => tx.profiles.put([profile('nul', { traits: { name: 'a\u0000b' } })])).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(TesseraError)
  })
})
