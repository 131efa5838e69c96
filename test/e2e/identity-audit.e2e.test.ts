/**
 * Every merge the pipeline makes reaches the audit log exactly once, through HTTP end to end: on the embedded mode
 * (SQLite, pipeline in its worker thread, then a `tessera replay` that re-makes the merges without recording them
 * again), and in the scale-out mode with two `--role pipeline` processes sharing one PostgreSQL state and audit store
 * (Kafka: librdkafka's mock cluster), where only one relays at a time.
 *
 * The merging events go out only once both profiles of each pair exist (checked through the API): sent together, a
 * pair's events can land on different partitions and be resolved in any order, and an identify resolved before its
 * page simply creates one profile, with no merge to audit.
 */
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runAudit } from '../../src/cli/audit.js'
import { runReplay } from '../../src/cli/replay.js'
import { TOPICS } from '../../src/log/event-log.js'
import { tempDir } from '../support/factories.js'
import { skipWithoutKafkaMock, startKafkaMock, type KafkaMock } from '../support/kafka-mock.js'
import { startServerProcess, type ServerProcess } from '../support/server-process.js'
import { dropSchema, freshSchemaName, requirePostgres } from '../support/services.js'
import { ADMIN_TOKEN, WRITE_KEY, basicAuth, startHarness } from '../support/tessera-harness.js'

interface AuditEntries {
  entries: { seq: number; entry: { kind: string; actor: { type: string; id: string }; subjects: string[]; detail: Record<string, unknown> }; text: string }[]
}

const N = 12

/** Talks to one Tessera over HTTP. */
function client(url: string): {
  batch(events: object[]): Promise<void>
  admin<T>(path: string): Promise<{ status: number; body: T }>
  waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T>
} {
  return {
    async batch(events) {
      const res = await fetch(`${url}/v1/batch`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: basicAuth(WRITE_KEY) }, body: JSON.stringify({ batch: events }),
      })
      expect(res.status).toBe(200)
    },
    async admin<T>(path: string) {
      const res = await fetch(url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      return { status: res.status, body: (await res.json()) as T }
    },
    async waitFor(what, read, done, timeoutMs) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const value = await read()
        if (done(value)) return value
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`)
        await new Promise((r) => setTimeout(r, 200))
      }
    },
  }
}

/** Sends N anonymous visitors and N known users, waits for their 2N profiles, then links each pair: N merges. */
async function makeMerges(c: ReturnType<typeof client>, timeoutMs: number): Promise<{ anon: string[]; users: string[] }> {
  const tag = randomUUID().slice(0, 8)
  const anon = Array.from({ length: N }, (_, i) => `anon-${tag}-${i}`)
  const users = Array.from({ length: N }, (_, i) => `user-${tag}-${i}`)
  await c.batch([
    ...anon.map((a) => ({ type: 'page', anonymousId: a, name: 'Home', messageId: randomUUID() })),
    ...users.map((u) => ({ type: 'identify', userId: u, traits: { plan: 'pro' }, messageId: randomUUID() })),
  ])
  const stats = (): Promise<{ profiles: number; merges: number }> => c.admin<{ profiles: number; merges: number }>('/v1/stats').then((r) => r.body)
  await c.waitFor('the anonymous and known profiles', stats, (s) => s.profiles >= 2 * N, timeoutMs)
  await c.batch(anon.map((a, i) => ({ type: 'identify', anonymousId: a, userId: users[i], messageId: randomUUID() })))
  await c.waitFor('the merges', stats, (s) => s.merges >= N, timeoutMs)
  return { anon, users }
}

/** Waits until the audit log holds N `identity.merge` entries, lets a little time pass, and checks it stays N. */
async function expectMergeEntries(c: ReturnType<typeof client>, ids: { anon: string[]; users: string[] }, timeoutMs: number): Promise<AuditEntries['entries']> {
  const read = (): Promise<AuditEntries> => c.admin<AuditEntries>('/v1/audit/entries?kind=identity.merge&limit=1000').then((r) => r.body)
  await c.waitFor('the identity.merge entries', read, (b) => b.entries.length >= N, timeoutMs)
  await new Promise((r) => setTimeout(r, 1500)) // a second relay round: anything recorded twice would show now
  const { entries } = await read()
  expect(entries).toHaveLength(N)
  const profileOf = async (key: string): Promise<string> => (await c.admin<{ id: string }>(`/v1/profiles?identifier=${key}`)).body.id
  for (let i = 0; i < N; i++) {
    const winner = await profileOf(`user_id:${ids.users[i]}`)
    const mine = entries.filter((e) => e.entry.subjects.includes(winner))
    expect(mine, `merge of pair ${i}`).toHaveLength(1)
    expect(mine[0]!.entry).toMatchObject({ kind: 'identity.merge', actor: { type: 'system', id: 'pipeline' }, detail: { winner } })
    expect(mine[0]!.entry.subjects).toHaveLength(2)
    // Searchable per person; identifier values never appear.
    const byPerson = await c.admin<AuditEntries>(`/v1/audit/entries?profileId=${encodeURIComponent(winner)}&kind=identity.merge`)
    expect(byPerson.body.entries.map((e) => e.seq)).toEqual([mine[0]!.seq])
    expect(mine[0]!.text).not.toContain(ids.anon[i])
    expect(mine[0]!.text).not.toContain(ids.users[i])
  }
  return entries
}

describe('identity audit relay, embedded (SQLite)', () => {
  it('records each merge once through HTTP, keeps them across a replay that re-makes them, and verifies', async () => {
    const temp = tempDir('tessera-identity-audit-')
    const dataDir = join(temp.dir, 'data')
    const overrides = { governance: { audit: { identityRelayIntervalSeconds: 0.2 } } }
    let h = await startHarness(overrides, dataDir)
    try {
      const c = client(h.url)
      const ids = await makeMerges(c, 30_000)
      const before = await expectMergeEntries(c, ids, 20_000)
      await h.tessera.close()

      expect(await runReplay(['--from', 'earliest', '--data-dir', dataDir])).toBe(0)
      h = await startHarness(overrides, dataDir)
      const after = client(h.url)
      // The replay reads partition by partition: a pair whose linking identify comes back before its page now forms
      // one profile without a merge. The merges it does re-make are the same ones, audited already.
      const remade = (await after.admin<{ merges: number }>('/v1/stats')).body.merges
      expect(remade).toBeGreaterThan(0)
      expect(remade).toBeLessThanOrEqual(N)
      await new Promise((r) => setTimeout(r, 1000))
      const entries = (await after.admin<AuditEntries>('/v1/audit/entries?kind=identity.merge&limit=1000')).body.entries
      expect(entries.map((e) => e.seq)).toEqual(before.map((e) => e.seq))
      const replay = (await after.admin<AuditEntries>('/v1/audit/entries?kind=identity.replay')).body.entries.map((e) => e.entry)
      expect(replay.map((e) => e.detail.phase)).toEqual(['started', 'done'])
      expect(replay[1]!.detail).toMatchObject({ identityEntriesRecorded: 0, identityEntriesAlreadyAudited: remade, merges: remade })
      await h.tessera.close()
      expect(await runAudit(['verify', '--data-dir', dataDir])).toBe(0)
    } finally {
      await h.tessera.close()
      temp.cleanup()
    }
  }, 120_000)
})

const url = await requirePostgres()
const kafka = !skipWithoutKafkaMock()

;(url && kafka ? describe : describe.skip)('identity audit relay, scale-out (Kafka mock + PostgreSQL, two pipeline workers)', () => {
  const temp = tempDir('tessera-identity-audit-so-')
  const schema = freshSchemaName('relay')
  const processes: ServerProcess[] = []
  let mock: KafkaMock | undefined
  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) await p.kill('SIGTERM')
    await mock?.stop()
    if (url) await dropSchema(url, schema)
    temp.cleanup()
  })

  it('records each merge once while two workers share the state and the audit store', async () => {
    mock = await startKafkaMock({ topics: { [TOPICS.raw]: 4, [TOPICS.resolved]: 4, [TOPICS.deadLetter]: 1 } })
    const configFile = join(temp.dir, 'tessera.config.json')
    writeFileSync(configFile, JSON.stringify({
      log: { kind: 'kafka', brokers: mock.brokers },
      store: { kind: 'postgres', url, schema },
      pipeline: { maxWaitMs: 20 },
      // One signing key for every process appending to the shared audit store (each checks the others' checkpoints).
      // ... and one master key for every process sealing the event log (each has its own data directory).
      governance: { audit: { signingKeyFile: join(temp.dir, 'audit-signing-key.pem'), identityRelayIntervalSeconds: 0.2 }, encryption: { keyFile: join(temp.dir, 'master.key') } },
    }))
    const env = { TESSERA_CONFIG: configFile }
    const ingest = await startServerProcess(join(temp.dir, 'ingest'), env, ['--role', 'ingest'])
    processes.push(ingest)
    const workers = await Promise.all(['a', 'b'].map((w) => startServerProcess(join(temp.dir, w), env, ['--role', 'pipeline'])))
    processes.push(...workers)
    const c = client(ingest.url)
    // Both workers join one consumer group on the mock: each join can take 3-12 s, so the timeouts are generous.
    const logs = (): string => processes.map((p, i) => `--- process ${i}:\n${p.stderr().split('\n').slice(-30).join('\n')}`).join('\n')
    try {
      const ids = await makeMerges(c, 90_000)
      await expectMergeEntries(c, ids, 60_000)
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${logs()}`, { cause: error })
    }
    for (const p of [...workers, ingest]) await p.kill('SIGTERM')
    expect(await runAudit(['verify', '--config', configFile, '--data-dir', join(temp.dir, 'ingest')])).toBe(0)
  }, 240_000)
})
