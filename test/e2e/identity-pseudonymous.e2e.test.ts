/**
 * Pseudonymous identity graph and sealed profiles, end to end on both state stores: canary identifier values, compared
 * traits, trait values and event properties sent through the tracking API are found in no table in clear (identity
 * tables, real-time matching's records and blocking keys, the sessions, profiles, the timeline; SQLite: the sealed
 * ones not even in the raw bytes of the database file and its WAL); while lookups, the identities view, the profile
 * and its timeline, an unmerge naming an identifier and the DSAR access export still give the clear values through the
 * API, a count by a sealed trait is refused, and an erasure leaves no sealed value of the person readable (the data
 * keys are shredded).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadPostgresDriver, type PostgresPool } from '../../src/storage/postgres/postgres-pool.js'
import { dropSchema, freshSchemaName, requirePostgres } from '../support/services.js'
import { ADMIN_TOKEN, startHarness, type Harness } from '../support/tessera-harness.js'
import { tempDir } from '../support/factories.js'
import { modelToFile } from '../../src/matching/model-file.js'
import { TRAIT_MATCH_CONFIG, trainedPersonModel } from '../../src/matching/testing/realtime-model.js'

const url = await requirePostgres()
const PRIVACY = { name: 'privacy', token: 'tok_privacy_pseudo_0123456789ab', roles: ['privacy_officer'] }
// Real-time matching on, so the person's compared traits are stored as a match record (sealed).
const modelDir = tempDir('pseudo-model-')
const model = join(modelDir.dir, 'model.json')
writeFileSync(model, JSON.stringify(modelToFile(trainedPersonModel(), TRAIT_MATCH_CONFIG, 3600)))
const overrides = {
  adminTokens: [{ ...PRIVACY, roles: [...PRIVACY.roles] }],
  identity: { matching: { enabled: true, model, autoMerge: 0.99, review: 0.5, maxBlockSize: 100 } },
}

const CANARY = {
  userId: 'pk-user-3e1b', anonymousId: 'pk-anon-3e1b', secondAnon: 'pk-anon2-3e1b', email: 'pk-canary-3e1b@example.com',
  // Not an e-mail address (no @): refused as blocked_value, so it is a rejection's key and never a node.
  badEmail: 'pk-bad-email-3e1b', otherUser: 'pk-other-3e1b',
  // A compared trait (normalised as stored in the match record): real-time matching's record of the person.
  surname: 'pkcanarysurnamexq',
}
/** Values that only reach the profile's traits and timeline (sealed there; also checked in the raw SQLite bytes). */
const SEALED = { note: 'pk-trait-note-3e1b', street: 'pk-trait-street-3e1b', property: 'pk-prop-comment-3e1b' }

interface Store {
  readonly name: string
  start(): Promise<Harness>
  /** Tables of the state whose rows mention `value`. */
  holding(value: string): Promise<string[]>
  /** SQLite: whether the raw bytes of the state files (database, WAL) hold `value`; PostgreSQL: as holding(). */
  rawHolds(value: string): Promise<boolean>
  /** How many of these data key refs the key store still holds. */
  keysHeld(refs: readonly string[]): Promise<number>
  /** The data key refs named by the sealed traits and timeline rows of a profile. */
  sealedRefs(profileId: string): Promise<string[]>
  count(table: string): Promise<number>
  close(): Promise<void>
}

function sqliteStore(): Store {
  let h: Harness
  const scan = <T>(work: (db: Database.Database) => T): T => {
    const db = new Database(join(h.dataDir, 'state.db'), { readonly: true })
    try {
      return work(db)
    } finally {
      db.close()
    }
  }
  return {
    name: 'sqlite',
    async start() {
      h = await startHarness(overrides)
      return h
    },
    async holding(value) {
      return scan((db) => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[])
        .map((t) => t.name).filter((t) => JSON.stringify(db.prepare(`SELECT * FROM "${t}"`).all()).includes(value)))
    },
    async count(table) {
      return scan((db) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n)
    },
    async rawHolds(value) {
      const files = ['state.db', 'state.db-wal'].map((f) => join(h.dataDir, f)).filter((f) => existsSync(f))
      expect(files.length).toBeGreaterThan(0)
      return files.some((f) => readFileSync(f).includes(Buffer.from(value, 'utf8')))
    },
    async keysHeld(refs) {
      const db = new Database(join(h.dataDir, 'keys.db'), { readonly: true })
      try {
        return (db.prepare('SELECT count(*) AS n FROM data_keys WHERE ref IN (SELECT value FROM json_each(?))').get(JSON.stringify(refs)) as { n: number }).n
      } finally {
        db.close()
      }
    },
    async sealedRefs(profileId) {
      return scan((db) => refsOf((db.prepare('SELECT sealed_traits AS v FROM profiles WHERE id = ? AND sealed_traits IS NOT NULL UNION ALL SELECT payload FROM profile_events WHERE profile_id = ?')
        .all(profileId, profileId) as { v: string }[]).map((r) => r.v)))
    },
    async close() {
      await h?.close()
    },
  }
}

function postgresStore(databaseUrl: string): Store {
  const schema = freshSchemaName('pseudo')
  let h: Harness
  let pool: PostgresPool
  return {
    name: 'postgres',
    async start() {
      pool = (await loadPostgresDriver())({ url: databaseUrl, schema: 'public', poolSize: 1, applicationName: 'tessera-test-pseudonym-scan' })
      h = await startHarness({ ...overrides, store: { kind: 'postgres', url: databaseUrl, schema } })
      return h
    },
    async holding(value) {
      const { rows: tables } = await pool.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'", [schema])
      const found: string[] = []
      for (const { table_name: t } of tables) {
        const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}."${t}" x WHERE strpos(row_to_json(x)::text, $1) > 0`, [value])
        if (Number(rows[0]!.n) > 0) found.push(t)
      }
      return found
    },
    async count(table) {
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.${table}`)
      return Number(rows[0]!.n)
    },
    async rawHolds(value) {
      return (await this.holding(value)).length > 0
    },
    async keysHeld(refs) {
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.tessera_data_keys WHERE ref = ANY($1::text[])`, [[...refs]])
      return Number(rows[0]!.n)
    },
    async sealedRefs(profileId) {
      const { rows } = await pool.query<{ v: string }>(
        `SELECT sealed_traits AS v FROM ${schema}.profiles WHERE id = $1 AND sealed_traits IS NOT NULL UNION ALL SELECT payload FROM ${schema}.profile_events WHERE profile_id = $1`, [profileId])
      return refsOf(rows.map((r) => r.v))
    },
    async close() {
      await h?.close()
      await pool?.end()
      await dropSchema(databaseUrl, schema)
    },
  }
}

/** The data key refs (first part of `<ref>.<keyId>.<envelope>`) of sealed values; a clear payload (`{…}`) fails the test. */
function refsOf(values: readonly string[]): string[] {
  for (const v of values) expect(v.startsWith('{'), 'a timeline payload stored in clear').toBe(false)
  return [...new Set(values.map((v) => v.split('.')[0]!))]
}

const stores: (() => Store)[] = [sqliteStore, ...(url === null ? [] : [() => postgresStore(url)])]
afterAll(() => modelDir.cleanup())

describe.each(stores.map((make) => [make().name, make] as const))('pseudonymous identity graph on %s', (_name, make) => {
  const store = make()
  let h: Harness
  const AS = {
    privacy: { authorization: `Bearer ${PRIVACY.token}`, 'x-tessera-purpose': 'privacy_request', 'content-type': 'application/json' },
    admin: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-tessera-purpose': 'administration', 'content-type': 'application/json' },
  }

  async function post(path: string, body: unknown, as: keyof typeof AS = 'privacy'): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(h.url + path, { method: 'POST', headers: AS[as], body: JSON.stringify(body) })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }

  beforeAll(async () => {
    h = await store.start()
    const send = async (path: string, body: unknown): Promise<void> => {
      const res = await h.send(path, body)
      expect(res.status, await res.clone().text()).toBe(200)
      await h.drain() // in order: the events go to different partitions (keyed by their ids)
    }
    await send('/v1/page', { anonymousId: CANARY.anonymousId, name: 'Home' })
    await send('/v1/identify', {
      userId: CANARY.userId, anonymousId: CANARY.anonymousId,
      traits: {
        email: CANARY.email, given: 'annabel', surname: CANARY.surname, dob: '1984-03-12', city: 'leeds',
        note: SEALED.note, plan: 'pk-plan', address: { city: 'Lyon', street: SEALED.street },
      },
    })
    await send('/v1/track', { userId: CANARY.userId, anonymousId: CANARY.anonymousId, event: 'Order Completed', properties: { comment: SEALED.property } })
    await send('/v1/identify', { userId: CANARY.userId, anonymousId: CANARY.secondAnon, traits: { email: CANARY.badEmail } })
    // Merge protection: a second user_id for the same e-mail is refused (a rejection of a key that is a node).
    await send('/v1/identify', { userId: CANARY.otherUser, traits: { email: CANARY.email } })
  }, 60_000)

  afterAll(async () => {
    await store.close()
  })

  it('keeps no identifier value in clear in any identity table, and the tables are really written', async () => {
    const written = ['identifiers', 'identity_edges', 'identity_rejections', 'identifier_values', 'identity_match_records', 'identity_match_keys', 'sessions', 'profiles', 'profile_events']
    for (const table of written) expect(await store.count(table), table).toBeGreaterThan(0)
    for (const value of [...Object.values(CANARY), ...Object.values(SEALED)]) {
      const holding = await store.holding(value)
      expect(holding, value).toEqual([])
    }
    for (const value of Object.values(SEALED)) expect(await store.rawHolds(value), value).toBe(false)
  })

  it('shows the sealed traits and timeline through the API, and refuses a count by a sealed trait', async () => {
    const found = await h.admin<{ id: string; traits: Record<string, unknown> }>(`/v1/profiles?identifier=user_id:${CANARY.userId}`)
    expect(found.status).toBe(200)
    expect(found.body.traits).toMatchObject({ email: CANARY.badEmail, note: SEALED.note, plan: 'pk-plan', address: { city: 'Lyon', street: SEALED.street } })
    const timeline = await h.admin<{ events: { event: { properties?: Record<string, unknown> } }[] }>(`/v1/profiles/${found.body.id}/events`)
    expect(timeline.body.events.map((e) => e.event.properties?.comment)).toContain(SEALED.property)
    const count = async (filter: string): Promise<{ status: number; body: { message?: string; count?: number } }> => {
      const res = await fetch(`${h.url}/v1/stats/count?epsilon=0.1&filter=${encodeURIComponent(filter)}`, { headers: { authorization: AS.admin.authorization, 'x-tessera-purpose': 'administration' } })
      return { status: res.status, body: (await res.json()) as { message?: string; count?: number } }
    }
    expect((await count('traits.plan = "pk-plan"')).status).toBe(200)
    expect((await count('traits.address.city = "Lyon"')).status).toBe(200)
    const refused = await count('traits.note = "x"')
    expect(refused.status, JSON.stringify(refused.body)).toBe(400)
    expect(refused.body.message).toMatch(/cannot count by traits\.note: traits classified confidential are stored sealed .*filter on a public or internal trait instead, or reclassify traits\.note in governance\.classification\.fields/)
    // The same answer for a trait no profile holds: the refusal tells nothing about the data.
    const absent = await count('traits.never_set_anywhere exists')
    expect(absent.status).toBe(400)
    expect(absent.body.message).toBe(refused.body.message!.replaceAll('traits.note', 'traits.never_set_anywhere'))
  })

  it('looks up, shows and unmerges by clear identifiers through the API', async () => {
    const found = await h.admin<{ id: string; identities: { type: string; value: string }[] }>(`/v1/profiles?identifier=email:${CANARY.email.toUpperCase()}`)
    expect(found.status, JSON.stringify(found.body)).toBe(200)
    expect(found.body.identities.map((i) => `${i.type}:${i.value}`).sort()).toEqual([
      `anonymous_id:${CANARY.anonymousId}`, `anonymous_id:${CANARY.secondAnon}`, `email:${CANARY.email}`, `user_id:${CANARY.userId}`,
    ])
    const other = await h.admin<{ id: string }>(`/v1/profiles?identifier=user_id:${CANARY.otherUser}`)
    expect(other.status).toBe(200)
    const refused = await h.admin<{ rejected: { key: string; reason: string }[] }>(`/v1/profiles/${other.body.id}/identities`)
    expect(refused.body.rejected).toEqual([expect.objectContaining({ key: `email:${CANARY.email}`, reason: 'merge_protection' })])
    const ids = await h.admin<{ edges: { from: string; to: string }[]; rejected: { key: string; reason: string }[] }>(`/v1/profiles/${found.body.id}/identities`)
    expect(ids.body.edges.flatMap((e) => [e.from, e.to])).toContain(`anonymous_id:${CANARY.secondAnon}`)
    expect(ids.body.rejected).toEqual([expect.objectContaining({ key: `email:${CANARY.badEmail}`, reason: 'blocked_value' })])

    const unmerged = await post(`/v1/profiles/${found.body.id}/unmerge`, { identifier: `anonymous_id:${CANARY.secondAnon}`, reason: 'shared device' }, 'admin')
    expect(unmerged.status, JSON.stringify(unmerged.body)).toBe(200)
    const parts = unmerged.body.profiles as { profileId: string; identifiers: string[] }[]
    expect(parts.flatMap((p) => p.identifiers).sort()).toEqual([
      `anonymous_id:${CANARY.anonymousId}`, `anonymous_id:${CANARY.secondAnon}`, `email:${CANARY.email}`, `user_id:${CANARY.userId}`,
    ])
    const detached = await h.admin<{ id: string }>(`/v1/profiles?identifier=anonymous_id:${CANARY.secondAnon}`)
    expect(detached.status).toBe(200)
    expect(detached.body.id).not.toBe(found.body.id)
    // The unmerge log and its split rules name stored keys only.
    for (const value of Object.values(CANARY)) {
      expect(await store.holding(value), value).toEqual([])
    }
  })

  it('exports clear identifiers in a DSAR access request and erases every sealed value of the person', async () => {
    const access = await post('/v1/privacy/requests', { type: 'access', identifier: `user_id:${CANARY.userId}`, jurisdiction: 'EU' })
    expect(access.status, JSON.stringify(access.body)).toBe(200)
    const id = access.body.id as string
    expect((await post(`/v1/privacy/requests/${id}/verification/attest`, { basis: 'account', evidence: 'signed-in account' })).status).toBe(200)
    const ran = await post(`/v1/privacy/requests/${id}/run`, {})
    expect(ran.status, JSON.stringify(ran.body)).toBe(200)
    const exported = ran.body.export as { identities: { type: string; value: string }[]; profile: { id: string; traits: Record<string, unknown> } }
    expect(exported.profile.traits).toMatchObject({ note: SEALED.note, address: { street: SEALED.street } })
    expect(JSON.stringify(ran.body.export)).toContain(SEALED.property)
    const refs = await store.sealedRefs(exported.profile.id)
    expect(refs.length).toBeGreaterThan(0)
    expect(await store.keysHeld(refs)).toBe(refs.length)
    expect(exported.identities.map((i) => `${i.type}:${i.value}`).sort()).toEqual([`anonymous_id:${CANARY.anonymousId}`, `email:${CANARY.email}`, `user_id:${CANARY.userId}`])

    const before = await store.count('identifier_values')
    // Sessions of the canary's device, of the device split off by the unmerge, and of the other user.
    const sessions = await store.count('sessions')
    expect(sessions).toBe(3)
    const erasure = await post('/v1/privacy/requests', { type: 'erasure', identifier: `user_id:${CANARY.userId}`, jurisdiction: 'EU' })
    const eid = erasure.body.id as string
    expect((await post(`/v1/privacy/requests/${eid}/verification/attest`, { basis: 'account', evidence: 'signed-in account' })).status).toBe(200)
    const erased = await post(`/v1/privacy/requests/${eid}/run`, {})
    expect(erased.status, JSON.stringify(erased.body)).toBe(200)
    expect(await store.count('identifier_values')).toBeLessThan(before)
    // The data keys every sealed row of the person named are shredded: a copy that survives (a backup, a free page) is unreadable.
    expect(await store.keysHeld(refs)).toBe(0)
    for (const value of Object.values(SEALED)) expect(await store.rawHolds(value), value).toBe(false)
    // The erased device's session is gone (keyed by its pseudonym, which the erasure finds as a stored value).
    expect(await store.count('sessions')).toBe(sessions - 1)
    expect((await h.admin(`/v1/profiles?identifier=email:${CANARY.email}`)).status).toBe(404)
    // The person's sealed values are gone; the other person's (user_id, and the e-mail they were refused) stay readable.
    const other = await h.admin<{ id: string }>(`/v1/profiles?identifier=user_id:${CANARY.otherUser}`)
    expect(other.status).toBe(200)
  })
})
