import { describe, expect, it } from 'vitest'
import { DEFAULT_IDENTIFIER_TYPES } from '../../src/config/identity-types.js'
import type { RawEvent } from '../../src/core/event.js'
import { extractIdentifiers } from '../../src/identity/extract-identifiers.js'
import { compileIdentityRules } from '../../src/identity/identity-rules.js'
import { prepareBatch } from '../../src/ingest/prepare-events.js'
import { Workload, userIdOf } from '../../bench/lib/workload.js'

describe('benchmark workload', () => {
  it('is reproducible from its seed', () => {
    const a = new Workload({ seed: 's', persons: 1000 })
    const b = new Workload({ seed: 's', persons: 1000 })
    for (let i = 0; i < 50; i++) {
      const x = a.next()
      const y = b.next()
      expect({ ...x.body, timestamp: 0 }).toEqual({ ...y.body, timestamp: 0 })
    }
  })

  it('produces every call type, in batches and single calls that ingest accepts', () => {
    const w = new Workload({ seed: 'mix', persons: 500 })
    const types = new Set<string>()
    const paths = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const r = w.request()
      paths.add(r.path)
      for (const e of r.events) types.add(e.type)
    }
    expect([...types].sort()).toEqual(['alias', 'group', 'identify', 'page', 'screen', 'track'])
    expect(paths.has('/v1/batch')).toBe(true)
    expect(paths.size).toBeGreaterThan(3)
    const events = Array.from({ length: 300 }, () => w.next())
    const prepared = prepareBatch({ batch: events.map((e) => e.body) }, { sourceId: 's', receivedAtMs: Date.now(), ip: undefined, maxEventBytes: 32 * 1024 })
    expect(prepared.ok).toBe(true)
  })

  it('names exactly the identifier keys that Tessera extracts', () => {
    const w = new Workload({ seed: 'keys', persons: 200 })
    const rules = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US')
    const events = Array.from({ length: 500 }, () => w.next())
    const prepared = prepareBatch({ batch: events.map((e) => e.body) }, { sourceId: 's', receivedAtMs: Date.now(), ip: undefined, maxEventBytes: 32 * 1024 })
    if (!prepared.ok) throw new Error('refused')
    prepared.records.forEach((record, i) => {
      const raw = JSON.parse(record.value) as RawEvent
      const keys = extractIdentifiers(raw, rules).identifiers.map((id) => id.key)
      expect([...keys].sort(), raw.type).toEqual([...events[i]!.keys].sort())
    })
  })

  it('keeps the ground truth of sampled people from accepted events only', () => {
    const w = new Workload({ seed: 'truth', persons: 10, sampleEvery: 1 })
    const seed = w.seedEvents(3)
    w.accept({ events: seed })
    const refused = w.batch([w.next()])
    expect(refused.events).toHaveLength(1)
    const truth = w.expectedSampled()
    expect(truth).toHaveLength(1) // person 3: one profile linking user id, e-mail and both devices
    expect(truth[0]!.eventCount).toBe(seed.length)
    expect(truth[0]!.keys).toContain(`user_id:${userIdOf(3)}`)
    expect(truth[0]!.keys.filter((k) => k.startsWith('anonymous_id:'))).toHaveLength(2)
    expect(w.accepted).toBe(seed.length)
  })
})
