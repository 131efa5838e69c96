/**
 * End to end through HTTP: unmerge and review accept with profiles updated by partition
 * (`pipeline.profileUpdates: partitioned`), where the profile rows belong to the owners of events.resolved
 * partitions. Runs on the embedded log and SQLite, and on Kafka (librdkafka's mock cluster) and PostgreSQL; the
 * second also fails a profile owner's commit after it sent an unmerge's replays, so the batch is applied again (the
 * runner retries a store failure in place; a process that dies instead is redelivered the batch by the group,
 * which scaleout-faults tests) and must not count anything twice.
 */
import { openIdentifierCodec } from '../../src/app/identifier-scheme.js'
import { openConfiguredKeyring } from '../../src/governance/crypto/open-keyring.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { loadConfig, type DeepPartial, type TesseraConfig } from '../../src/config/config.js'
import { TesseraError } from '../../src/core/errors.js'
import { startTessera, type RunningTessera } from '../../src/app/tessera.js'
import { openLog } from '../../src/app/open-log.js'
import { openState } from '../../src/app/open-state.js'
import { TOPICS } from '../../src/log/event-log.js'
import { modelToFile } from '../../src/matching/model-file.js'
import { TRAIT_MATCH_CONFIG, trainedPersonModel } from '../../src/matching/testing/realtime-model.js'
import { buildPipeline, type RunnerHandle } from '../../src/pipeline/build-pipeline.js'
import type { StateBackend, StateTransaction } from '../../src/storage/state-backend.js'
import { tempDir } from '../support/factories.js'
import { dropSchema, freshSchemaName, requirePostgres } from '../support/services.js'
import { skipWithoutKafkaMock, startKafkaMock, type KafkaMock } from '../support/kafka-mock.js'
import { ADMIN_TOKEN, WRITE_KEY, basicAuth, startHarness, startPostgresHarness, type Harness } from '../support/tessera-harness.js'

interface Profile { id: string; traits: Record<string, unknown>; eventCount: number; eventCounts: Record<string, number> }
interface Unmerged {
  profileId: string; unmergeSeq: number; rebuild: string; complete: boolean | null
  profiles: { profileId: string; kept: boolean; eventCount: number | null; identifiers: string[] }[]
}
interface Review { items: { seq: number; profiles: { profileId: string }[] }[] }

const u = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`

/** A client of one running Tessera's HTTP APIs. */
function client(url: string) {
  const admin = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    return { status: res.status, body: (await res.json()) as T }
  }
  const post = async <T>(path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(url + path, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, body: (await res.json()) as T }
  }
  const send = async (path: string, body: unknown): Promise<void> => {
    const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basicAuth(WRITE_KEY) }, body: JSON.stringify(body) })
    expect(res.status, path).toBe(200)
  }
  const lookup = (key: string) => admin<Profile>(`/v1/profiles?identifier=${encodeURIComponent(key)}`)
  /** Polls until `check` passes (profile owners apply their partitions asynchronously). */
  const eventually = async (check: () => Promise<void>, timeoutMs = 60_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      try {
        await check()
        return
      } catch (error) {
        if (Date.now() > deadline) throw error
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }
  return { admin, post, send, lookup, eventually }
}

/** Ann and Ben, merged through a family e-mail: Ann 3 events, Ben 4; Ben's profile is merged into Ann's (older). */
async function familyBlob(c: ReturnType<typeof client>, extra = 0): Promise<{ ann: string; ben: string; mail: string; blob: string }> {
  const [ann, ben, mail] = [u('ann'), u('ben'), `${u('family')}@example.org`]
  await c.send('/v1/identify', { anonymousId: ann, traits: { name: 'Ann' } })
  await c.send('/v1/track', { anonymousId: ann, event: 'Bought' })
  await c.send('/v1/identify', { anonymousId: ben, traits: { name: 'Ben' } })
  await c.send('/v1/track', { anonymousId: ben, event: 'Browsed' })
  await c.send('/v1/track', { anonymousId: ben, event: 'Browsed' })
  await c.eventually(async () => {
    expect((await c.lookup(`anonymous_id:${ben}`)).body.eventCount).toBe(3)
    expect((await c.lookup(`anonymous_id:${ann}`)).body.eventCount).toBe(2)
  })
  await c.send('/v1/identify', { anonymousId: ann, traits: { email: mail } })
  await c.send('/v1/identify', { anonymousId: ben, traits: { email: mail } })
  for (let i = 0; i < extra; i++) await c.send('/v1/track', { anonymousId: i % 2 === 0 ? ann : ben, event: 'Tick' })
  let blob = ''
  await c.eventually(async () => {
    const a = (await c.lookup(`anonymous_id:${ann}`)).body
    expect((await c.lookup(`anonymous_id:${ben}`)).body.id).toBe(a.id)
    expect(a.eventCount).toBe(7 + extra)
    blob = a.id
  })
  return { ann, ben, mail, blob }
}

function runPartitionedUnmerge(name: string, start: () => Promise<Harness>): void {
  describe(`unmerge and review accept with profiles updated by partition (${name})`, () => {
    let h: Harness
    let c: ReturnType<typeof client>
    beforeAll(async () => {
      h = await start()
      c = client(h.url)
    }, 60_000)
    afterAll(async () => {
      await h?.close()
    })

    it('splits a chain through a shared e-mail: each part rebuilt from its own events, lookups by every identifier right', async () => {
      const { ann, ben, mail, blob } = await familyBlob(c)
      const res = await c.post<Unmerged>(`/v1/profiles/${blob}/unmerge`, { identifier: `email:${mail}`, reason: 'family e-mail' })
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ profileId: blob, rebuild: 'queued', complete: null })
      expect(res.body.profiles).toHaveLength(3)
      expect(res.body.profiles.every((p) => p.eventCount === null)).toBe(true)
      // The graph is split at once; the profile rows follow when the owners have applied the notices.
      const parts = new Map(res.body.profiles.map((p) => [p.identifiers.join(','), p.profileId]))
      expect((await c.admin<{ id: string }[]>(`/v1/profiles/${blob}/identities`)).status).toBe(200)
      await c.eventually(async () => {
        const [pa, pb, pm] = [(await c.lookup(`anonymous_id:${ann}`)).body, (await c.lookup(`anonymous_id:${ben}`)).body, (await c.lookup(`email:${mail}`)).body]
        expect(pa.id).toBe(blob)
        expect(pb.id).toBe(parts.get(`anonymous_id:${ben}`))
        expect(pm.id).toBe(parts.get(`email:${mail}`))
        expect([pa.eventCount, pb.eventCount, pm.eventCount]).toEqual([3, 4, 0])
        expect(pa.traits).toMatchObject({ name: 'Ann' })
        expect(pb.traits).toMatchObject({ name: 'Ben' })
        expect(pb.eventCounts).toEqual({ identify: 2, Browsed: 2 })
        expect((await c.admin<{ events: unknown[] }>(`/v1/profiles/${pb.id}/events`)).body.events).toHaveLength(4)
        expect((await c.admin<{ events: unknown[] }>(`/v1/profiles/${blob}/events`)).body.events).toHaveLength(3)
      })
      // The split holds for new events; the unmerge is audited with who asked.
      await c.send('/v1/identify', { anonymousId: ben, traits: { email: mail } })
      await c.eventually(async () => expect((await c.lookup(`anonymous_id:${ben}`)).body.eventCount).toBe(5))
      expect((await c.lookup(`email:${mail}`)).body.eventCount).toBe(0)
      const audit = await c.admin<{ entries: { entry: { actor: { id: string }; decision: string; detail?: { rebuild?: string } } }[] }>('/v1/audit/entries?kind=identity.unmerge')
      expect(audit.body.entries.map((e) => e.entry)).toContainEqual(expect.objectContaining({ decision: 'ok', detail: expect.objectContaining({ rebuild: 'queued' }) }))
    })

    it('counts exactly while records of the old profile are still in flight', async () => {
      const { ann, ben, mail, blob } = await familyBlob(c)
      // Events resolved before the unmerge (to the merged profile) and after it (to the parts), all in flight at once.
      const sent = { ann: 3, ben: 4 }
      const burst = async (n: number): Promise<void> => {
        const batch = Array.from({ length: n }, (_, i) => ({ type: 'track', anonymousId: i % 3 === 0 ? ann : ben, event: 'Tick', messageId: randomUUID() }))
        for (const e of batch) sent[e.anonymousId === ann ? 'ann' : 'ben']++
        await c.send('/v1/batch', { batch })
      }
      await burst(30)
      const res = await c.post<Unmerged>(`/v1/profiles/${blob}/unmerge`, { identifier: `email:${mail}` })
      expect(res.status).toBe(200)
      await burst(30)
      await c.eventually(async () => {
        expect((await c.lookup(`anonymous_id:${ann}`)).body.eventCount).toBe(sent.ann)
        expect((await c.lookup(`anonymous_id:${ben}`)).body.eventCount).toBe(sent.ben)
        expect((await c.lookup(`email:${mail}`)).body.eventCount).toBe(0)
      })
      await new Promise((r) => setTimeout(r, 500)) // anything counted twice would show by now
      expect((await c.lookup(`anonymous_id:${ann}`)).body.eventCount).toBe(sent.ann)
      expect((await c.lookup(`anonymous_id:${ben}`)).body.eventCount).toBe(sent.ben)
    })

    it('accepts a review item: the owners fold the younger profile into the older one', async () => {
      const t = randomUUID().slice(0, 8).replace(/[^a-z]/g, 'x')
      const surname = `marchbanks${t}`
      await c.send('/v1/identify', { anonymousId: `m1-${t}`, traits: { given: 'isla', surname, dob: '1979-12-01', city: 'york', email: `m1-${t}@example.org` } })
      await c.eventually(async () => expect((await c.lookup(`email:m1-${t}@example.org`)).status).toBe(200))
      await c.send('/v1/identify', { anonymousId: `m2-${t}`, traits: { given: 'isla', surname, city: 'york', email: `m2-${t}@example.org` } })
      await c.send('/v1/track', { anonymousId: `m2-${t}`, event: 'Viewed' })
      let p1 = ''
      let p2 = ''
      await c.eventually(async () => {
        const [a, b] = [(await c.lookup(`email:m1-${t}@example.org`)).body, (await c.lookup(`email:m2-${t}@example.org`)).body]
        expect(b.eventCount).toBe(2)
        ;[p1, p2] = [a.id, b.id]
      })
      expect(p2).not.toBe(p1)
      const item = (await c.admin<Review>('/v1/identity/review')).body.items.find((i) => i.profiles.some((p) => p.profileId === p2))
      expect(item).toBeDefined()
      const accepted = await c.post<{ status: string; profileId: string; merged: string }>(`/v1/identity/review/${item!.seq}/accept`)
      expect(accepted).toMatchObject({ status: 200, body: { status: 'accepted', profileId: p1, merged: p2 } })
      await c.eventually(async () => {
        const merged = (await c.lookup(`email:m2-${t}@example.org`)).body
        expect(merged.id).toBe(p1)
        expect(merged.eventCount).toBe(3)
        expect((await c.admin<{ status: string; mergedInto: string }>(`/v1/profiles/${p2}`)).body).toMatchObject({ status: 'merged', mergedInto: p1 })
      })
    })
  })
}

/** The matcher's model file, so review items exist (written once per file). */
const modelDir = mkdtempSync(join(tmpdir(), 'unmerge-part-'))
const model = join(modelDir, 'model.json')
writeFileSync(model, JSON.stringify(modelToFile(trainedPersonModel(), TRAIT_MATCH_CONFIG, 3600)))
afterAll(() => rmSync(modelDir, { recursive: true, force: true }))
const matching = { enabled: true, model, autoMerge: 0.99, review: 0.5, maxBlockSize: 100 }

runPartitionedUnmerge('embedded log, SQLite', () => startHarness({ pipeline: { profileUpdates: 'partitioned', maxWaitMs: 20 }, identity: { matching } }))

const url = await requirePostgres()
const kafka = !skipWithoutKafkaMock()
if (url && kafka) {
  let mock: KafkaMock
  beforeAll(async () => {
    mock = await startKafkaMock({ topics: { [TOPICS.raw]: 4, [TOPICS.resolved]: 4, [TOPICS.deadLetter]: 1 } })
  }, 30_000)
  afterAll(async () => {
    await mock?.stop()
  })
  runPartitionedUnmerge('Kafka + PostgreSQL', () => startPostgresHarness(url, {
    overrides: { log: { kind: 'kafka', brokers: mock.brokers }, pipeline: { maxWaitMs: 20 }, identity: { matching } },
  }))

  describe('a profile owner crashes after sending an unmerge\'s replays, before its commit (Kafka + PostgreSQL)', () => {
    const schema = freshSchemaName('crash')
    const temp = tempDir('tessera-unmerge-crash-')
    // A cluster of its own: the mock does not act on a LeaveGroup, so joining the groups the harness above used
    // waits for its members' session timeout (30 s), which a loaded CI machine turned into a timeout.
    let own: KafkaMock
    beforeAll(async () => {
      own = await startKafkaMock({ topics: { [TOPICS.raw]: 4, [TOPICS.resolved]: 4, [TOPICS.deadLetter]: 1 } })
    }, 30_000)
    let api: RunningTessera | undefined
    let runners: RunnerHandle[] = []
    const closers: (() => Promise<void>)[] = []
    afterAll(async () => {
      for (const r of runners) await r.stop()
      for (const close of closers.reverse()) await close()
      await api?.close()
      await dropSchema(url, schema)
      await own?.stop()
      temp.cleanup()
    })

    it('delivers the batch again and counts nothing twice', async () => {
      const env = { TESSERA_WRITE_KEY: WRITE_KEY, TESSERA_ADMIN_TOKEN: ADMIN_TOKEN }
      const overrides: DeepPartial<TesseraConfig> = {
        host: '127.0.0.1', port: 0, dataDir: temp.dir, log: { kind: 'kafka', brokers: own.brokers },
        store: { kind: 'postgres', url, schema }, pipeline: { maxWaitMs: 20, batchSize: 50 },
      }
      const config = loadConfig({ env, file: undefined, overrides })
      // The API alone (the ingest role); the pipeline runs here, its profile owners on a state that crashes once.
      api = await startTessera(config, { env, role: 'ingest', logger: pino({ level: 'silent' }) })
      const input = await openLog(config, { path: '', role: 'test-pipeline' })
      const output = await openLog(config, { path: '', role: 'test-pipeline-out' })
      const state = await openState(config, '')
      const owners = await openState(config, '')
      await state.migrate()
      // The identifier codec of the state (pseudonymous: the API recorded the scheme when it opened it).
      const keys = await openConfiguredKeyring(config, temp.dir)
      const { codec: identifiers } = await openIdentifierCodec(config, state, keys?.keyring ?? null)
      closers.push(() => input.close(), () => output.close(), () => state.close(), () => owners.close(), async () => { await keys?.close() })
      const crashing = crashOnceAfterUnmerge(owners)
      const logger = { info: () => undefined, warn: () => undefined, error: () => undefined }
      runners = buildPipeline(config, { input, output, state, profileState: crashing.backend, logger, identifiers })
      for (const r of runners) r.start()

      const c = client(api.url)
      const { ann, ben, mail, blob } = await familyBlob(c, 10)
      const res = await c.post<Unmerged>(`/v1/profiles/${blob}/unmerge`, { identifier: `email:${mail}` })
      expect(res.status).toBe(200)
      await c.eventually(async () => {
        expect(crashing.crashed()).toBe(true)
        expect((await c.lookup(`anonymous_id:${ann}`)).body.eventCount).toBe(3 + 5)
        expect((await c.lookup(`anonymous_id:${ben}`)).body.eventCount).toBe(4 + 5)
      }, 90_000)
      await new Promise((r) => setTimeout(r, 500))
      expect((await c.lookup(`anonymous_id:${ann}`)).body.eventCount).toBe(8)
      expect((await c.lookup(`anonymous_id:${ben}`)).body.eventCount).toBe(9)
      expect((await c.admin<{ events: unknown[] }>(`/v1/profiles/${(await c.lookup(`anonymous_id:${ben}`)).body.id}/events`)).body.events).toHaveLength(9)
    }, 120_000)
  })
}

/**
 * A state backend that fails the commit of the first transaction in which a profile owner applied an unmerge notice
 * (after the stage appended its replays and carries to the log): what a crash between the append and the commit does.
 */
function crashOnceAfterUnmerge(inner: StateBackend): { backend: StateBackend; crashed: () => boolean } {
  let crashed = false
  const backend: StateBackend = {
    kind: inner.kind,
    migrate: () => inner.migrate(),
    identifierScheme: (proposed) => inner.identifierScheme(proposed),
    reader: () => inner.reader(),
    reset: () => inner.reset(),
    close: () => inner.close(),
    transaction: (work) => inner.transaction(async (tx) => {
      let routed = false
      const real = tx.control
      const control: StateTransaction['control'] = {
        enqueue: (records, now) => real.enqueue(records, now),
        pending: (limit) => real.pending(limit),
        published: (seqs) => real.published(seqs),
        routes: (ids) => real.routes(ids),
        putRoutes: async (routes) => {
          if (routes.length > 0) routed = true
          return real.putRoutes(routes)
        },
        trimmed: (ids) => real.trimmed(ids),
        putTrimmed: (records) => real.putTrimmed(records),
        takeTrimmed: (ids, keep) => real.takeTrimmed(ids, keep),
        deleteEvents: (rows) => real.deleteEvents(rows),
      }
      const result = await work({ ...tx, control })
      if (routed && !crashed) {
        crashed = true
        throw new TesseraError('TESSERA_STORE', 'injected: the process died before the commit')
      }
      return result
    }),
  }
  return { backend, crashed: () => crashed }
}
