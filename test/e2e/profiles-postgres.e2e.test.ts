/**
 * End to end on the PostgreSQL state store: the same profile scenarios as the embedded mode, plus a fault
 * test that terminates Tessera's PostgreSQL connections while a pipeline runs. Skipped (with a message) when
 * PostgreSQL is not reachable, unless TESSERA_REQUIRE_SERVICES=1.
 */
import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { adminQuery, requirePostgres } from '../support/services.js'
import { startPostgresHarness } from '../support/tessera-harness.js'
import { runProfileScenarios } from './profile-scenarios.js'

const url = await requirePostgres()

if (url) runProfileScenarios('PostgreSQL store', () => startPostgresHarness(url))

;(url ? describe : describe.skip)('PostgreSQL store under connection faults', () => {
  it('recovers when its connections are terminated mid-stream, and counts every event exactly once', async () => {
    const applicationName = `tessera-test-fault-${randomUUID().slice(0, 8)}`
    const h = await startPostgresHarness(url!, { applicationName, overrides: { pipeline: { batchSize: 50, maxWaitMs: 5 } } })
    try {
      const users = Array.from({ length: 40 }, (_, i) => `fault-${i}-${randomUUID().slice(0, 6)}`)
      let terminated = 0
      let killing = true
      const killer = (async () => {
        while (killing) {
          const rows = await adminQuery<{ ok: boolean }>(url!,
            'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [applicationName])
          terminated += rows.filter((r) => r.ok).length
          await new Promise((r) => setTimeout(r, 60))
        }
      })()
      const rounds = 30
      for (let round = 0; round < rounds; round++) {
        const batch = users.map((u, i) => (round === 0 && i % 2 === 0
          ? { type: 'identify', anonymousId: `anon-${u}`, userId: u, traits: { round } }
          : { type: 'track', anonymousId: `anon-${u}`, event: 'Tick', properties: { round } }))
        // Ingest reads the consent in force from PostgreSQL too: while its connections are being killed it may
        // answer 503 + Retry-After (nothing accepted), and clients send the batch again, as the SDKs do.
        let status = 0
        for (let attempt = 0; attempt < 20 && status !== 200; attempt++) {
          const res = await h.send('/v1/batch', { batch })
          status = res.status
          if (status === 503) {
            expect(res.headers.get('retry-after')).toBe('1')
            await new Promise((r) => setTimeout(r, 50))
          } else expect(status).toBe(200)
        }
        expect(status).toBe(200)
        await new Promise((r) => setTimeout(r, 10))
      }
      await new Promise((r) => setTimeout(r, 300))
      killing = false
      await killer
      expect(terminated).toBeGreaterThan(0)
      if (!(await h.tessera.pipeline?.drain(60_000))) throw new Error('pipeline did not recover within 60 s')
      for (const u of users) {
        const res = await h.admin<{ eventCount: number }>(`/v1/profiles?identifier=${encodeURIComponent(`anonymous_id:anon-${u}`)}`)
        expect(res.status, u).toBe(200)
        expect(res.body.eventCount, u).toBe(rounds)
      }
      const [row] = await adminQuery<{ n: string }>(url!, `SELECT count(*) AS n FROM ${h.schema}.profile_events`)
      expect(Number(row!.n)).toBe(users.length * rounds)
    } finally {
      await h.close()
    }
  }, 120_000)
})
