import { describe, expect, it } from 'vitest'
import { EVENT_TYPES } from '../../core/event.js'
import {
  CLOCK_SKEW_MS, DEMO_SOURCES, generateJourneys, PLACEHOLDER_EMAIL, PLACEHOLDER_USER_ID, ZERO_UUID,
  type DemoDataset, type DemoEvent, type IdentifierRef,
} from './journeys.js'

const NOW = Date.parse('2024-06-01T12:00:00.000Z')
const DAY = 86_400_000
const data = generateJourneys({ people: 200, seed: 'test-seed', now: NOW })

type Rec = Record<string, unknown>
const obj = (v: unknown): Rec => (typeof v === 'object' && v !== null ? (v as Rec) : {})

/** The identifiers Tessera's default rules read from an event, highest priority first. */
function identifiersOf(e: DemoEvent): IdentifierRef[] {
  const out: IdentifierRef[] = []
  const ev = e.event as unknown as Rec
  const traits = obj(ev.traits)
  if (typeof ev.userId === 'string') out.push({ type: 'user_id', value: ev.userId })
  if (typeof traits.email === 'string') out.push({ type: 'email', value: traits.email.toLowerCase() })
  if (typeof traits.phone === 'string') out.push({ type: 'phone', value: '+' + traits.phone.replace(/\D/g, '') })
  const device = obj(obj(ev.context).device)
  if (typeof device.id === 'string') out.push({ type: 'device_id', value: device.id })
  if (typeof ev.anonymousId === 'string') out.push({ type: 'anonymous_id', value: ev.anonymousId })
  return out
}

const BLOCKED = new Set([`email:${PLACEHOLDER_EMAIL}`, `user_id:${PLACEHOLDER_USER_ID}`, `anonymous_id:${ZERO_UUID}`])
const key = (id: IdentifierRef): string => `${id.type}:${id.value}`

/**
 * A toy identity graph: union-find over identifiers, optionally with Tessera's two protections (blocked
 * placeholder values; two profiles holding different user_ids never merge). Enough to tell whether the data
 * exercises what the expectations claim.
 */
function resolve(events: readonly DemoEvent[], protect: boolean): (id: IdentifierRef) => string {
  const parent = new Map<string, string>()
  const userIds = new Map<string, string>()
  const find = (k: string): string => {
    if (!parent.has(k)) parent.set(k, k)
    let root = k
    while (parent.get(root) !== root) root = parent.get(root)!
    parent.set(k, root)
    return root
  }
  for (const e of events) {
    const ids = identifiersOf(e).map(key).filter((k) => !protect || !BLOCKED.has(k))
    for (const k of ids) {
      const root = find(k)
      if (k.startsWith('user_id:') && !userIds.has(root)) userIds.set(root, k)
    }
    const [first, ...rest] = ids
    if (first === undefined) continue
    for (const k of rest) {
      const a = find(first)
      const b = find(k)
      if (a === b) continue
      const ua = userIds.get(a)
      const ub = userIds.get(b)
      if (protect && ua !== undefined && ub !== undefined && ua !== ub) continue
      parent.set(b, a)
      if (ua === undefined && ub !== undefined) userIds.set(a, ub)
    }
  }
  return (id) => find(key(id))
}

describe('generateJourneys', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const again = generateJourneys({ people: 200, seed: 'test-seed', now: NOW })
    expect(again).toEqual(data)
    const other = generateJourneys({ people: 200, seed: 'other-seed', now: NOW })
    expect(other.runTag).not.toBe(data.runTag)
    expect(other.events[0]!.event.messageId).not.toBe(data.events[0]!.event.messageId)
    // Another people count is another population: it must not reuse this one's ids.
    expect(generateJourneys({ people: 201, seed: 'test-seed', now: NOW }).runTag).not.toBe(data.runTag)
  })

  it('refuses too few people', () => {
    expect(() => generateJourneys({ people: 5, seed: 'x', now: NOW })).toThrow(RangeError)
  })

  it('sends every call type from every source, each event valid for the tracking API', () => {
    const types = new Set(data.events.map((e) => e.event.type))
    expect([...types].sort()).toEqual([...EVENT_TYPES].sort())
    const bySource = (s: string): DemoEvent[] => data.events.filter((e) => e.source === s)
    for (const source of DEMO_SOURCES) expect(bySource(source).length).toBeGreaterThan(50)
    expect(data.events.length).toBeGreaterThan(4000)
    for (const e of data.events) {
      const ev = e.event
      // The tracking API's rules: userId or anonymousId, an event name on track, previousId on alias, groupId on group.
      expect(typeof ev.userId === 'string' || typeof ev.anonymousId === 'string').toBe(true)
      if (ev.type === 'track') expect(ev.event).toBeTruthy()
      if (ev.type === 'alias') expect(ev.previousId).toBeTruthy()
      if (ev.type === 'group') expect(ev.groupId).toBeTruthy()
      expect(Buffer.byteLength(JSON.stringify(ev))).toBeLessThan(32 * 1024)
    }
  })

  it('has web journeys with UTM landing pages and desktop and mobile browsers', () => {
    const pages = data.events.filter((e) => e.event.type === 'page')
    const urls = pages.map((e) => String(obj(obj(e.event.context).page).url))
    expect(urls.filter((u) => u.includes('utm_source=') && u.includes('utm_campaign=')).length).toBeGreaterThan(50)
    const agents = new Set(pages.map((e) => String(obj(e.event.context).userAgent)))
    expect([...agents].some((a) => /iPhone|Android/.test(a))).toBe(true)
    expect([...agents].some((a) => /Windows NT|Macintosh/.test(a))).toBe(true)
    const signUps = data.events.filter((e) => e.event.type === 'identify' && e.source === 'web' && typeof e.event.userId === 'string' && typeof e.event.anonymousId === 'string')
    expect(signUps.length).toBeGreaterThan(100)
    expect(signUps.every((e) => typeof obj(e.event.traits).email === 'string')).toBe(true)
    expect(signUps.filter((e) => typeof obj(e.event.traits).name === 'string').length).toBeGreaterThan(100)
  })

  it('has purchases with revenue, currency and products', () => {
    const orders = data.events.filter((e) => e.event.event === 'Order Completed')
    expect(orders.length).toBeGreaterThan(50)
    for (const o of orders) {
      const props = obj(o.event.properties)
      expect(typeof props.revenue).toBe('number')
      expect(['USD', 'EUR', 'GBP']).toContain(props.currency)
      expect((props.products as unknown[]).length).toBeGreaterThan(0)
    }
  })

  it('keys CRM records by e-mail (some mixed case) and IoT pings by device id only', () => {
    const crm = data.events.filter((e) => e.source === 'crm')
    expect(crm.every((e) => e.event.type === 'identify' && e.event.userId === undefined && typeof obj(e.event.traits).email === 'string')).toBe(true)
    expect(crm.some((e) => { const email = String(obj(e.event.traits).email); return email !== email.toLowerCase() })).toBe(true)
    expect(crm.some((e) => typeof obj(e.event.traits).company === 'string' && typeof obj(e.event.traits).plan === 'string' && typeof obj(e.event.traits).phone === 'string')).toBe(true)
    const crmOnly = data.people.filter((p) => p.archetype === 'crm_only')
    expect(crmOnly.length).toBeGreaterThan(5)
    expect(crmOnly.every((p) => p.crmEmail !== null && p.crmEmail !== p.email && p.crmEmail.toLowerCase() === p.email)).toBe(true)

    const pings = data.events.filter((e) => e.source === 'iot')
    expect(pings.every((e) => e.event.event === 'Device Ping' && e.event.userId === undefined && e.event.anonymousId === obj(obj(e.event.context).device).id)).toBe(true)
    const paired = data.events.filter((e) => e.event.event === 'Device Paired')
    expect(paired.every((e) => e.source === 'mobile' && typeof e.event.userId === 'string')).toBe(true)
    expect(new Set(paired.map((e) => obj(obj(e.event.context).device).id))).toEqual(new Set(pings.map((e) => e.event.anonymousId)))
  })

  it('spreads events over the last 30 days, in order, with one phone 2 hours fast', () => {
    for (let i = 1; i < data.events.length; i++) expect(data.events[i]!.at).toBeGreaterThanOrEqual(data.events[i - 1]!.at)
    expect(data.events[0]!.at).toBeGreaterThanOrEqual(NOW - 30 * DAY)
    expect(data.events.at(-1)!.at).toBeLessThan(NOW)
    expect(data.events[0]!.at).toBeLessThan(NOW - 25 * DAY)
    const skewed = data.events.filter((e) => e.clockSkewMs !== 0)
    expect(skewed.length).toBeGreaterThan(5)
    // A retry re-sends the same payload, so a duplicate keeps its original's timestamp.
    for (const e of data.events) if (!e.duplicate) expect(Date.parse(e.event.timestamp)).toBe(e.at + e.clockSkewMs)
    for (const e of data.events.filter((x) => x.duplicate)) {
      const original = data.events.find((x) => !x.duplicate && x.event.messageId === e.event.messageId)!
      expect(e.event).toEqual(original.event)
      expect(e.at).toBeGreaterThanOrEqual(original.at)
    }
    expect(skewed.every((e) => e.clockSkewMs === CLOCK_SKEW_MS && e.source === 'mobile' && data.people[e.person]!.edgeCases.includes('clock_skew'))).toBe(true)
  })

  it('re-sends some events with the same messageId, and nothing else repeats one', () => {
    const counts = new Map<string, number>()
    for (const e of data.events) counts.set(e.event.messageId, (counts.get(e.event.messageId) ?? 0) + 1)
    const twice = [...counts.values()].filter((n) => n === 2).length
    expect([...counts.values()].every((n) => n <= 2)).toBe(true)
    expect(twice).toBe(data.expectations.duplicates)
    expect(data.events.filter((e) => e.duplicate).length).toBe(data.expectations.duplicates)
    expect(data.expectations.duplicates).toBeGreaterThanOrEqual(3)
    expect(data.expectations.distinctEvents).toBe(counts.size)
  })

  it('names showcase people with all four sources whose last pings come last', () => {
    const { showcase } = data.expectations
    expect(showcase).toHaveLength(6)
    for (const i of showcase) {
      const p = data.people[i]!
      expect(p.sources).toEqual(['web', 'mobile', 'crm', 'iot'])
      expect(p.edgeCases).toEqual([])
      expect(p.expectedEventCount).toBe(new Set(data.events.filter((e) => e.person === i).map((e) => e.event.messageId)).size)
    }
    expect(new Set(data.events.slice(-6).map((e) => e.person))).toEqual(new Set(showcase))
  })

  it('implies the merges it expects, and the edge cases really would merge strangers without protection', () => {
    const protectedGraph = resolve(data.events, true)
    for (const { identifiers } of data.expectations.merged) {
      expect(new Set(identifiers.map(protectedGraph)).size).toBe(1)
    }
    const showcaseIds = data.expectations.merged.filter((m) => data.expectations.showcase.includes(m.person))
    expect(showcaseIds).toHaveLength(6)
    for (const m of showcaseIds) expect(new Set(m.identifiers.map((i) => i.type))).toEqual(new Set(['user_id', 'email', 'phone', 'anonymous_id', 'device_id']))

    expect(data.expectations.separate.map((s) => s.edgeCase).sort()).toEqual(['family_computer', 'placeholder_email', 'placeholder_user_id', 'zero_anonymous_id'])
    const naive = resolve(data.events, false)
    for (const { a, b, edgeCase } of data.expectations.separate) {
      expect(protectedGraph(a), edgeCase).not.toBe(protectedGraph(b))
      expect(naive(a), edgeCase).toBe(naive(b))
    }
  })

  it('works at the smallest size and stays fast at a large one', () => {
    const small: DemoDataset = generateJourneys({ people: 20, seed: 's', now: NOW })
    expect(small.expectations.showcase).toHaveLength(6)
    expect(small.expectations.separate).toHaveLength(4)
    const started = Date.now()
    const large = generateJourneys({ people: 2000, seed: 'l', now: NOW })
    expect(large.events.length).toBeGreaterThan(40_000)
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})
