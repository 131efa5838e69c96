/**
 * kill -9 during sustained load: every event acknowledged with 200 must be in the profiles exactly once
 * after a restart, and client retries of unacknowledged batches must not double-count. The log is sealed (the
 * default) and every batch brings a user never seen before, so data keys are being created when the kill lands:
 * an acknowledged event sealed under a key that did not survive would come back shredded and miss its profile.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../support/factories.js'
import { ADMIN_TOKEN, WRITE_KEY, basicAuth } from '../support/tessera-harness.js'
import { startServerProcess, type ServerProcess } from '../support/server-process.js'

const USERS = 120
const BATCH = 40
const CONCURRENCY = 16

interface Batch {
  readonly events: { type: 'track'; userId: string; event: string; messageId: string; properties: { n: number } }[]
}

function makeBatch(seq: number): Batch {
  return {
    events: Array.from({ length: BATCH }, (_, i) => ({
      type: 'track' as const, userId: i === 0 ? `crash-new-${seq}` : `crash-user-${(seq * BATCH + i) % USERS}`, event: 'Load Test',
      messageId: randomUUID(), properties: { n: seq * BATCH + i },
    })),
  }
}

async function post(url: string, batch: Batch): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(WRITE_KEY) },
      body: JSON.stringify({ batch: batch.events }),
      signal: AbortSignal.timeout(10_000),
    })
    return res.status === 200
  } catch {
    return false // connection reset by the kill: the client will retry this batch
  }
}

describe('crash recovery (SIGKILL under load)', () => {
  const temp = tempDir('tessera-crash-')
  let server: ServerProcess | undefined
  afterAll(async () => {
    if (server && server.child.exitCode === null) await server.kill('SIGKILL')
    temp.cleanup()
  })

  it('loses nothing acknowledged and double-counts nothing', async () => {
    // Keep the whole timeline so that every messageId can be checked.
    const configFile = join(temp.dir, 'tessera.config.json')
    writeFileSync(configFile, JSON.stringify({ pipeline: { timelineLimit: 0 } }))
    const env = { TESSERA_CONFIG: configFile }
    server = await startServerProcess(join(temp.dir, 'data'), env)
    const acked: Batch[] = []
    const pending: Batch[] = []
    let seq = 0
    let killing = false
    const loadFor = async (url: string): Promise<void> => {
      while (!killing) {
        const batch = makeBatch(seq++)
        if (await post(url, batch)) acked.push(batch)
        else pending.push(batch)
      }
    }
    const first = server
    const workers = Array.from({ length: CONCURRENCY }, () => loadFor(first.url))
    // Let the load and the pipeline run, then kill in the middle of both.
    await new Promise((r) => setTimeout(r, 2500))
    expect(acked.length).toBeGreaterThan(10)
    killing = true
    const code = await first.kill('SIGKILL')
    await Promise.all(workers)
    expect(code).toBeNull() // died by signal

    server = await startServerProcess(join(temp.dir, 'data'), env)
    // Clients retry what was not acknowledged: some of it was appended before the kill, so the pipeline must dedupe.
    for (const batch of pending) expect(await post(server.url, batch)).toBe(true)
    const all = [...acked, ...pending]
    const expected = new Map<string, number>()
    for (const b of all) for (const e of b.events) expected.set(e.userId, (expected.get(e.userId) ?? 0) + 1)

    const admin = (path: string) => fetch(server!.url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    const deadline = Date.now() + 60_000
    for (;;) {
      const ready = (await (await fetch(server.url + '/readyz')).json()) as { lag: number }
      const stats = (await (await admin('/v1/stats')).json()) as { events: number }
      if (ready.lag === 0 && stats.events >= all.length * BATCH) break
      if (Date.now() > deadline) throw new Error(`pipeline did not catch up: lag ${ready.lag}, ${stats.events} events`)
      await new Promise((r) => setTimeout(r, 200))
    }
    const stats = (await (await admin('/v1/stats')).json()) as { events: number; profiles: number }
    expect(stats.events).toBe(all.length * BATCH)
    for (const [userId, count] of expected) {
      const res = await admin(`/v1/profiles?identifier=user_id:${userId}`)
      const profile = (await res.json()) as { eventCount: number }
      expect(profile.eventCount, userId).toBe(count)
    }
    // The timeline of one user holds each of its acknowledged messageIds exactly once.
    const sample = `crash-user-7`
    const profile = (await (await admin(`/v1/profiles?identifier=user_id:${sample}`)).json()) as { id: string }
    const ids: string[] = []
    for (let cursor = ''; ;) {
      const page = (await (await admin(`/v1/profiles/${profile.id}/events?limit=1000${cursor}`)).json()) as { events: { messageId: string }[]; next: string | null }
      ids.push(...page.events.map((e) => e.messageId))
      if (page.next === null) break
      cursor = `&cursor=${page.next}`
    }
    expect(new Set(ids).size).toBe(ids.length)
    const want = all.flatMap((b) => b.events).filter((e) => e.userId === sample).map((e) => e.messageId)
    expect(new Set(ids)).toEqual(new Set(want))
    await server.kill('SIGTERM')
  }, 120_000)
})
