/**
 * @module The benchmark's event workload: a seeded, reproducible stream of Segment calls (track, page, screen,
 * identify, group, alias) from a population of people, each with one user id, one e-mail and one to four devices
 * (anonymous ids), shaped as the HTTP requests an SDK sends (batches of 20–100 events, and single calls).
 *
 * No event ever carries identifiers of two people, and no person has more identifiers of a type than Tessera's
 * default limits allow (one user_id, one e-mail, at most four anonymous ids), so merge protection never fires and
 * the right partition of identifiers into profiles is the connected components of each event's identifiers. For a
 * sample of people (every `sampleEvery`-th) the workload keeps that ground truth (a union-find over their
 * identifiers and the events per component) for accepted requests, so a run can check exact profile counters.
 */
import type { EventType } from '../../src/core/event.js'
import { createRng, type Rng } from '../../src/cli/demo/prng.js'
import { UnionFind } from './union-find.js'

export interface WorkloadOptions {
  /** Fixes the whole stream. */
  readonly seed: string
  /** People in the population. */
  readonly persons: number
  /** Every n-th person's events are tracked exactly (default 1,000). */
  readonly sampleEvery?: number
  /** Prefix of message ids (unique per run, so that two phases never collide in dedupe). */
  readonly tag?: string
}

/** One generated Segment call, with the identifier keys Tessera will extract from it (`type:value`). */
export interface GeneratedEvent {
  readonly person: number
  readonly type: EventType
  readonly body: Record<string, unknown>
  readonly keys: readonly string[]
}

/** One HTTP request to the tracking API. */
export interface TrackingRequest {
  /** `/v1/batch` or a single-call path such as `/v1/track`. */
  readonly path: string
  readonly body: string
  readonly events: readonly GeneratedEvent[]
}

/** A group of identifiers that must make one profile, with the number of events that profile must count. */
export interface ExpectedProfile {
  readonly keys: readonly string[]
  readonly eventCount: number
}

const SINGLE_PATHS: Readonly<Record<EventType, string>> = {
  track: '/v1/track', page: '/v1/page', screen: '/v1/screen', identify: '/v1/identify', group: '/v1/group', alias: '/v1/alias',
}

const MIX: readonly (readonly [EventType, number])[] = [
  ['track', 45], ['page', 25], ['screen', 8], ['identify', 12], ['group', 5], ['alias', 5],
]

const WEB_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
]
const TRACK_EVENTS = ['Product Viewed', 'Product Added', 'Cart Viewed', 'Checkout Started', 'Order Completed', 'Signed In']
const PAGES = ['Home', 'Product', 'Category', 'Cart', 'Search', 'Account']
const SCREENS = ['Home', 'Feed', 'Product Detail', 'Settings']
const SOURCES = ['google', 'newsletter', 'facebook', 'bing']
const PLANS = ['free', 'pro', 'team', 'enterprise']

/** Devices (anonymous ids) a person uses before any new device appears: 1, or 2 for every fourth person. */
export function devicesOf(person: number): number {
  return person % 4 === 3 ? 2 : 1
}

export function userIdOf(person: number): string {
  return `user-${person}`
}

export function emailOf(person: number): string {
  return `person${person}@mail.bench-tessera.dev`
}

export function anonymousIdOf(person: number, device: number): string {
  return `anon-${person.toString(36)}-${device}-${((person * 2654435761 + device * 40503) >>> 0).toString(16).padStart(8, '0')}`
}

export class Workload {
  readonly persons: number
  readonly #rng: Rng
  readonly #sampleEvery: number
  readonly #tag: string
  #seq = 0
  readonly #truth = new UnionFind()
  readonly #eventsByKey = new Map<string, number>()
  readonly #acceptedByType = new Map<EventType, number>()
  #accepted = 0

  constructor(options: WorkloadOptions) {
    if (!Number.isInteger(options.persons) || options.persons < 1) throw new RangeError(`persons must be a positive integer, got ${options.persons}`)
    this.persons = options.persons
    this.#rng = createRng(options.seed)
    this.#sampleEvery = options.sampleEvery ?? 1000
    this.#tag = options.tag ?? options.seed
  }

  /** The next event of the live mix: a random person on one of their devices (now and then a new one). */
  next(): GeneratedEvent {
    const rng = this.#rng
    const person = rng.int(0, this.persons - 1)
    const known = devicesOf(person)
    // 3% of events come from a device not seen before (at most two extra per person: limits never bind).
    const device = rng.chance(0.03) ? known + rng.int(0, 1) : rng.int(0, known - 1)
    const type = rng.weighted(MIX)
    return this.#event(person, device, type, type === 'identify' || type === 'group' || type === 'alias' || rng.chance(0.5))
  }

  /** Events that make a person's profile as a sign-up on each known device would: one identify per device. */
  seedEvents(person: number): GeneratedEvent[] {
    return Array.from({ length: devicesOf(person) }, (_, device) => this.#event(person, device, 'identify', true))
  }

  /** The next request of the mix: 20% single calls, otherwise a batch of 20 to 100 events. */
  request(): TrackingRequest {
    return this.#rng.chance(0.2) ? this.single(this.next()) : this.batch(Array.from({ length: this.#rng.int(20, 100) }, () => this.next()))
  }

  batch(events: readonly GeneratedEvent[]): TrackingRequest {
    return { path: '/v1/batch', body: JSON.stringify({ batch: events.map((e) => e.body), sentAt: new Date().toISOString() }), events }
  }

  single(event: GeneratedEvent): TrackingRequest {
    const { type: _type, ...rest } = event.body
    return { path: SINGLE_PATHS[event.type], body: JSON.stringify(rest), events: [event] }
  }

  /** Records the events of a request the server accepted (HTTP 200) into the ground truth. */
  accept(request: { readonly events: readonly GeneratedEvent[] }): void {
    for (const e of request.events) {
      this.#accepted++
      this.#acceptedByType.set(e.type, (this.#acceptedByType.get(e.type) ?? 0) + 1)
      if (e.person % this.#sampleEvery !== 0 || e.keys.length === 0) continue
      const first = e.keys[0]!
      for (const key of e.keys) this.#truth.union(first, key)
      this.#eventsByKey.set(first, (this.#eventsByKey.get(first) ?? 0) + 1)
    }
  }

  get accepted(): number {
    return this.#accepted
  }

  acceptedByType(): Record<string, number> {
    return Object.fromEntries(this.#acceptedByType)
  }

  /** The profiles the sampled people must have, from the events accepted so far. */
  expectedSampled(): ExpectedProfile[] {
    const groups = new Map<string, { keys: string[]; eventCount: number }>()
    for (const [key, root] of this.#truth.partition()) {
      let g = groups.get(root)
      if (!g) groups.set(root, (g = { keys: [], eventCount: 0 }))
      g.keys.push(key)
      g.eventCount += this.#eventsByKey.get(key) ?? 0
    }
    return [...groups.values()].map((g) => ({ keys: g.keys.sort(), eventCount: g.eventCount }))
  }

  #event(person: number, device: number, type: EventType, loggedIn: boolean): GeneratedEvent {
    const rng = this.#rng
    const n = this.#seq++
    const anonymousId = anonymousIdOf(person, device)
    const userId = userIdOf(person)
    const mobile = type === 'screen'
    const context: Record<string, unknown> = mobile
      ? {
          library: { name: 'analytics-ios', version: '4.1.8' },
          app: { name: 'Shop', version: '8.2.0', build: '820' },
          device: { manufacturer: 'Apple', model: 'iPhone15,2', type: 'ios' },
          os: { name: 'iOS', version: '17.5' }, locale: 'en-US', timezone: 'Europe/Berlin',
        }
      : {
          library: { name: 'analytics.js', version: 'next-1.72.0' },
          userAgent: WEB_AGENTS[person % WEB_AGENTS.length],
          page: {
            path: `/p/${n % 500}`, referrer: 'https://www.google.com/',
            url: `https://shop.example.com/p/${n % 500}?utm_source=${SOURCES[person % SOURCES.length]}&utm_medium=cpc&utm_campaign=autumn`,
            title: 'Shop',
          },
          locale: 'en-US', timezone: 'Europe/Berlin',
        }
    const base: Record<string, unknown> = { type, messageId: `${this.#tag}-${n}`, timestamp: new Date().toISOString(), context }
    const keys = [`anonymous_id:${anonymousId}`]
    if (type === 'alias') {
      keys.unshift(`user_id:${userId}`)
      return { person, type, keys, body: { type, messageId: base.messageId, timestamp: base.timestamp, context, userId, previousId: anonymousId } }
    }
    base.anonymousId = anonymousId
    if (loggedIn) {
      base.userId = userId
      keys.unshift(`user_id:${userId}`)
    }
    switch (type) {
      case 'identify':
        base.traits = { email: emailOf(person), name: `Person ${person}`, plan: PLANS[person % PLANS.length], logins: rng.int(1, 400) }
        keys.splice(1, 0, `email:${emailOf(person)}`)
        break
      case 'group':
        base.groupId = `org-${person % 5000}`
        base.traits = { name: `Org ${person % 5000}`, employees: 10 + (person % 900) }
        break
      case 'track':
        base.event = TRACK_EVENTS[n % TRACK_EVENTS.length]
        base.properties = { product_id: `sku-${n % 5000}`, price: 5 + (n % 200) + 0.99, currency: 'EUR', category: PAGES[n % PAGES.length], quantity: 1 + (n % 3) }
        break
      case 'page':
        base.name = PAGES[n % PAGES.length]
        base.properties = { path: `/p/${n % 500}`, title: 'Shop', search: n % 7 === 0 ? `q=${n % 97}` : '' }
        break
      case 'screen':
        base.name = SCREENS[n % SCREENS.length]
        base.properties = { variant: n % 2 === 0 ? 'a' : 'b' }
        break
    }
    return { person, type, keys, body: base }
  }
}
