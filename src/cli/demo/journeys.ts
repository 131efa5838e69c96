/**
 * @module Generates the demo's customer journeys: for N people of the store "Tessera Home", the events its
 * website, mobile app, CRM sync and IoT devices would send over the last ~30 days, plus the edge cases a CDP must
 * handle (a shared family computer, placeholder identifiers, retried messageIds, a phone whose clock is 2 hours
 * fast). Pure and deterministic: the same seed, people and `now` give the same events, ids and order. It also
 * returns what identity resolution should make of them, for tests and for the demo's own checks.
 */
import type { JsonObject } from '../../core/event.js'
import type { ClientEvent } from '../../client/client-event.js'
import {
  APP, APP_SCREENS, AREA_CODES, CAMPAIGNS, COMPANIES, DESKTOP_BROWSERS, EMAIL_DOMAINS, FIRST_NAMES, IOT_MODELS, JOB_TITLES,
  LAST_NAMES, LOCALES, MOBILE_BROWSERS, ORGANIC_REFERRERS, PAGES, PHONES, PLANS, PRODUCTS, SITE,
  type Browser, type Campaign, type IotModel, type Locale, type PhoneModel, type Product,
} from './catalog.js'
import { createRng, type Rng } from './prng.js'

export const DEMO_SOURCES = ['web', 'mobile', 'crm', 'iot'] as const
export type DemoSource = (typeof DEMO_SOURCES)[number]

export const ARCHETYPES = ['omnichannel', 'web_and_app', 'web_customer', 'visitor', 'crm_only'] as const
/**
 * `omnichannel`: website, sign-up, app, CRM record and a paired IoT device; `web_and_app`: website, sign-up and
 * app (CRM record for half); `web_customer`: website and sign-up (CRM for some); `visitor`: anonymous browsing
 * only; `crm_only`: known to the CRM by e-mail only.
 */
export type Archetype = (typeof ARCHETYPES)[number]

export const EDGE_CASES = ['family_computer', 'placeholder_email', 'placeholder_user_id', 'zero_anonymous_id', 'clock_skew', 'duplicates'] as const
export type EdgeCase = (typeof EDGE_CASES)[number]

/** The all-zero id that iOS reports as IDFA when ad tracking is limited, sent by buggy apps as anonymousId. */
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000'
export const PLACEHOLDER_EMAIL = 'test@test.com'
export const PLACEHOLDER_USER_ID = '0'
/** The phone of the clock-skew edge case runs this far ahead. */
export const CLOCK_SKEW_MS = 2 * 60 * 60 * 1000
/** Fewest people for which every archetype and edge case fits. */
export const MIN_PEOPLE = 20

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** A demo event with what the sender needs: which source sends it, and the sending device's clock offset. */
export interface DemoEvent {
  readonly source: DemoSource
  /** True event time (ms). Events are listed, and should be sent, in this order. */
  readonly at: number
  /** How far the sending device's clock runs ahead; its `timestamp` includes it and so must its `sentAt`. */
  readonly clockSkewMs: number
  /** Index of the person whose event this is. */
  readonly person: number
  readonly event: ClientEvent & { readonly messageId: string; readonly timestamp: string }
  /** A re-send of an earlier event (same messageId), as a client retrying after a lost answer does. */
  readonly duplicate?: true
}

/** An identifier as the admin API looks it up: `type:value`, value normalised as Tessera does. */
export interface IdentifierRef {
  readonly type: 'user_id' | 'email' | 'phone' | 'anonymous_id' | 'device_id'
  readonly value: string
}

export interface DemoPerson {
  readonly index: number
  readonly archetype: Archetype
  readonly edgeCases: readonly EdgeCase[]
  readonly name: string
  readonly firstName: string
  readonly lastName: string
  /** Null for people who never sign up (visitors, CRM-only contacts). */
  readonly userId: string | null
  /** Lower case, as the person types it at sign-up. */
  readonly email: string
  /** As the CRM holds it (sometimes mixed case); null when the person is not in the CRM. */
  readonly crmEmail: string | null
  readonly phone: string | null
  readonly company: string | null
  readonly plan: string | null
  /** Browser anonymousIds that are this person's (a shared family computer's is its first user's). */
  readonly webAnonymousIds: readonly string[]
  /** The anonymousId the CRM sync sends for this contact; null when not in the CRM. */
  readonly crmContactId: string | null
  readonly mobile: { readonly anonymousId: string; readonly deviceId: string; readonly platform: 'ios' | 'android' } | null
  readonly iotDeviceId: string | null
  /** Sources of this person's events. */
  readonly sources: readonly DemoSource[]
  /** Distinct messageIds among this person's events: what their profile's eventCount should reach. */
  readonly expectedEventCount: number
}

export interface DemoExpectations {
  /**
   * People to show: all four sources, no edge case, so every event of theirs lands on one profile and
   * `expectedEventCount` is exact. Their last event (an IoT ping a few minutes before `now`) comes last.
   */
  readonly showcase: readonly number[]
  /** Identifiers that identity resolution must join into one profile, per person. */
  readonly merged: readonly { readonly person: number; readonly identifiers: readonly IdentifierRef[] }[]
  /** Identifiers that must stay in different profiles, and why. */
  readonly separate: readonly { readonly edgeCase: EdgeCase; readonly why: string; readonly a: IdentifierRef; readonly b: IdentifierRef }[]
  /** Events sent twice with the same messageId. */
  readonly duplicates: number
  /** Distinct messageIds in the whole data set. */
  readonly distinctEvents: number
}

export interface DemoDataset {
  readonly seed: string
  /** Short tag from the seed and people count, part of every id and e-mail, so that different runs do not collide. */
  readonly runTag: string
  readonly now: number
  readonly people: readonly DemoPerson[]
  /** In `at` order. */
  readonly events: readonly DemoEvent[]
  readonly expectations: DemoExpectations
}

export interface JourneyOptions {
  readonly people: number
  readonly seed: string
  /** "Now" in ms: events spread over the 30 days before it, none after it (except the fast clock's timestamps). */
  readonly now: number
}

// ---------------------------------------------------------------------------------------------------------------

interface PersonDraft {
  index: number
  archetype: Archetype
  edgeCases: EdgeCase[]
  firstName: string
  lastName: string
  userId: string | null
  email: string
  crmEmail: string | null
  crmContactId: string | null
  phone: string | null
  company: string | null
  plan: string | null
  title: string
  locale: Locale
  webAnonymousIds: string[]
  mobile: { anonymousId: string; deviceId: string; platform: 'ios' | 'android'; model: PhoneModel; ip: string } | null
  iot: { serial: string; model: IotModel } | null
}

interface WebClient {
  readonly anonymousId: string
  readonly browser: Browser
  readonly ip: string
}

interface Ids {
  readonly userId?: string
  readonly anonymousId?: string
}

/** Collects events and keeps the clock of the generation. */
class Builder {
  readonly events: DemoEvent[] = []
  constructor(readonly rng: Rng, readonly now: number) {}

  /** Latest time an event may have: a little before `now`. */
  get horizon(): number {
    return this.now - 2 * MINUTE
  }

  /** `t` moved forward by a random amount in [minMs, maxMs], never past the horizon. */
  later(t: number, minMs: number, maxMs: number): number {
    return Math.min(this.horizon, Math.round(t + this.rng.between(minMs, maxMs)))
  }

  emit(source: DemoSource, person: number, at: number, body: Omit<ClientEvent, 'messageId' | 'timestamp'>, clockSkewMs = 0): DemoEvent {
    const event = { ...body, messageId: this.rng.uuid(), timestamp: new Date(at + clockSkewMs).toISOString() }
    const demo: DemoEvent = { source, at, clockSkewMs, person, event }
    this.events.push(demo)
    return demo
  }
}

function documentationIp(rng: Rng): string {
  // RFC 5737 TEST-NET ranges: never routed, so no demo address belongs to anyone.
  return `${rng.pick(['192.0.2', '198.51.100', '203.0.113'])}.${rng.int(1, 254)}`
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')
}

/** Mixed case the way CRM exports often hold e-mails: `Ann.Lee@Example.COM`. */
function crmCasing(rng: Rng, email: string): string {
  const [local = '', domain = ''] = email.split('@')
  const cap = (s: string): string => s.split('.').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('.')
  return `${cap(local)}@${rng.chance(0.5) ? cap(domain) : domain.toUpperCase()}`
}

/** The value Tessera keys a phone by (E.164); the generator writes `+1 (415) 555-0134`. */
function e164(phone: string): string {
  return '+' + phone.replace(/\D/g, '')
}

function allocateArchetypes(rng: Rng, people: number): { archetype: Archetype; edgeCases: EdgeCase[] }[] {
  // The first slots are fixed so that small demos still hold every showcase role and edge case.
  const fixed: { archetype: Archetype; edgeCases: EdgeCase[] }[] = [
    ...Array.from({ length: 6 }, () => ({ archetype: 'omnichannel' as const, edgeCases: [] })),
    { archetype: 'web_customer', edgeCases: ['family_computer'] },
    { archetype: 'web_customer', edgeCases: ['family_computer'] },
    { archetype: 'visitor', edgeCases: ['placeholder_email'] },
    { archetype: 'visitor', edgeCases: ['placeholder_email'] },
    { archetype: 'visitor', edgeCases: ['placeholder_user_id'] },
    { archetype: 'visitor', edgeCases: ['placeholder_user_id'] },
    { archetype: 'web_and_app', edgeCases: ['zero_anonymous_id'] },
    { archetype: 'web_and_app', edgeCases: ['zero_anonymous_id'] },
    { archetype: 'web_and_app', edgeCases: ['clock_skew'] },
    { archetype: 'crm_only', edgeCases: [] },
  ]
  const out = fixed.slice(0, people)
  while (out.length < people) {
    out.push({
      archetype: rng.weighted<Archetype>([['omnichannel', 30], ['web_and_app', 25], ['web_customer', 20], ['visitor', 13], ['crm_only', 12]]),
      edgeCases: [],
    })
  }
  return out
}

function draftPeople(rng: Rng, runTag: string, people: number): PersonDraft[] {
  const phones = new Set<string>()
  return allocateArchetypes(rng, people).map(({ archetype, edgeCases }, index) => {
    const firstName = rng.pick(FIRST_NAMES)
    const lastName = rng.pick(LAST_NAMES)
    const signsUp = archetype !== 'visitor' && archetype !== 'crm_only'
    const email = `${firstName}.${lastName}.${runTag}${index.toString(36)}@${rng.pick(EMAIL_DOMAINS)}`.toLowerCase()
    const inCrm = archetype === 'omnichannel' || archetype === 'crm_only' ||
      (archetype === 'web_and_app' && rng.chance(0.5)) || (archetype === 'web_customer' && rng.chance(0.4))
    let phone: string | null = null
    if (inCrm) {
      // 555 numbers: unique within the run (a shared phone would merge two people).
      do phone = `+1 (${rng.pick(AREA_CODES)}) 555-${String(rng.int(0, 9999)).padStart(4, '0')}`
      while (phones.has(e164(phone)))
      phones.add(e164(phone))
    }
    const company = inCrm || rng.chance(0.3) ? rng.pick(COMPANIES) : null
    const needsApp = archetype === 'omnichannel' || archetype === 'web_and_app'
    const model = rng.pick(PHONES)
    return {
      index,
      archetype,
      edgeCases: [...edgeCases],
      firstName,
      lastName,
      userId: signsUp ? `usr_${runTag}${String(index).padStart(5, '0')}` : null,
      email,
      // CRM-only contacts are always mixed case, the others half the time: normalisation must join them.
      crmEmail: inCrm ? (archetype === 'crm_only' || rng.chance(0.5) ? crmCasing(rng, email) : email) : null,
      crmContactId: inCrm ? `crm_${rng.base36(12)}` : null,
      phone,
      company,
      plan: inCrm ? rng.pick(PLANS) : null,
      title: rng.pick(JOB_TITLES),
      locale: rng.pick(LOCALES),
      webAnonymousIds: archetype === 'crm_only' ? [] : [rng.uuid()],
      mobile: needsApp
        ? {
          anonymousId: edgeCases.includes('zero_anonymous_id') ? ZERO_UUID : rng.uuid(),
          deviceId: model.platform === 'ios' ? rng.uuid().toUpperCase() : rng.hex(16),
          platform: model.platform,
          model,
          ip: documentationIp(rng),
        }
        : null,
      iot: archetype === 'omnichannel'
        ? (() => {
          const iotModel = rng.pick(IOT_MODELS)
          return { serial: `${iotModel.prefix}-${rng.hex(10).toUpperCase()}`, model: iotModel }
        })()
        : null,
    }
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Event builders, one per touchpoint.

function webContext(p: PersonDraft, client: WebClient, page: { url: string; path: string; title: string; referrer: string; search: string }): JsonObject {
  return {
    library: { name: 'analytics.js', version: 'npm:next-1.70.0' },
    userAgent: client.browser.userAgent,
    ip: client.ip,
    locale: p.locale.locale,
    timezone: p.locale.timezone,
    screen: { width: client.browser.screen.width, height: client.browser.screen.height },
    page,
  }
}

/** One visit: a landing page (UTM-tagged for campaign traffic) and a few more; product pages also track. */
function webSession(b: Builder, p: PersonDraft, client: WebClient, start: number, ids: Ids, campaign: Campaign | null, pages: number): number {
  const { rng } = b
  let t = start
  let referrer = campaign?.referrer ?? rng.pick(ORGANIC_REFERRERS)
  for (let i = 0; i < pages; i++) {
    const page = i === 0 && campaign !== null ? (PAGES.find((x) => x.path === campaign.landing) ?? PAGES[0]!) : rng.pick(PAGES)
    let search = ''
    if (i === 0 && campaign !== null) {
      const q = new URLSearchParams({ utm_source: campaign.source, utm_medium: campaign.medium, utm_campaign: campaign.name })
      if (campaign.term !== undefined) q.set('utm_term', campaign.term)
      if (campaign.content !== undefined) q.set('utm_content', campaign.content)
      search = `?${q.toString()}`
    }
    const url = `${SITE}${page.path}${search}`
    const info = { url, path: page.path, title: page.title, referrer, search }
    b.emit('web', p.index, t, { type: 'page', ...ids, name: page.title.split(' | ')[0], properties: { ...info }, context: webContext(p, client, info) })
    if (page.productId !== undefined && rng.chance(0.6)) {
      const product = PRODUCTS.find((x) => x.product_id === page.productId)!
      t = b.later(t, 5_000, 40_000)
      b.emit('web', p.index, t, { type: 'track', ...ids, event: 'Product Viewed', properties: productProperties(product, p.locale), context: webContext(p, client, info) })
    }
    referrer = url
    t = b.later(t, 15_000, 180_000)
  }
  return t
}

function productProperties(product: Product, locale: Locale): JsonObject {
  return { ...product, currency: locale.currency }
}

/** Cart and checkout: `Product Added` then `Order Completed` with revenue, currency and products. */
function purchase(b: Builder, p: PersonDraft, start: number, emit: (at: number, body: Omit<ClientEvent, 'messageId' | 'timestamp'>) => void): number {
  const { rng } = b
  const chosen = new Set<Product>()
  const count = rng.int(1, 3)
  while (chosen.size < count) chosen.add(rng.pick(PRODUCTS))
  const products = [...chosen].map((product) => ({ ...product, quantity: product.category === 'Subscriptions' ? 1 : rng.int(1, 2) }))
  let t = start
  for (const product of products) {
    emit(t, { type: 'track', event: 'Product Added', properties: { ...productProperties(product, p.locale), quantity: product.quantity, cart_id: rng.hex(12) } })
    t = b.later(t, 10_000, 90_000)
  }
  const revenue = Math.round(products.reduce((sum, x) => sum + x.price * x.quantity, 0) * 100) / 100
  emit(t, {
    type: 'track',
    event: 'Order Completed',
    properties: { order_id: `ord_${rng.base36(8)}`, revenue, total: revenue, currency: p.locale.currency, products },
  })
  return t
}

function signUp(b: Builder, p: PersonDraft, client: WebClient, start: number): number {
  const userId = p.userId!
  const info = { url: `${SITE}/signup`, path: '/signup', title: 'Create your account | Tessera Home', referrer: `${SITE}/pricing`, search: '' }
  const context = webContext(p, client, info)
  b.emit('web', p.index, start, { type: 'page', anonymousId: client.anonymousId, name: 'Create your account', properties: { ...info }, context })
  const t = b.later(start, 30_000, 150_000)
  b.emit('web', p.index, t, {
    type: 'identify', userId, anonymousId: client.anonymousId,
    traits: { email: p.email, firstName: p.firstName, lastName: p.lastName, name: `${p.firstName} ${p.lastName}`, createdAt: new Date(t).toISOString() },
    context,
  })
  b.emit('web', p.index, b.later(t, 1_000, 3_000), { type: 'track', userId, anonymousId: client.anonymousId, event: 'Signed Up', properties: { method: 'email', plan: 'free' }, context })
  return b.later(t, 60_000, 600_000)
}

function mobileContext(p: PersonDraft, device: { id: string; type: string; manufacturer: string; model: string; name: string }): JsonObject {
  const m = p.mobile!
  return {
    library: m.platform === 'ios' ? { name: 'analytics-swift', version: '1.5.11' } : { name: 'analytics-kotlin', version: '1.15.0' },
    app: { ...APP },
    device,
    os: { name: m.platform === 'ios' ? 'iOS' : 'Android', version: m.model.osVersion },
    screen: { width: m.model.screen.width, height: m.model.screen.height },
    network: { wifi: true, cellular: false },
    locale: p.locale.locale,
    timezone: p.locale.timezone,
    ip: m.ip,
  }
}

function phoneDevice(p: PersonDraft): { id: string; type: string; manufacturer: string; model: string; name: string } {
  const m = p.mobile!
  return { id: m.deviceId, type: m.platform, manufacturer: m.model.manufacturer, model: m.model.model, name: m.model.name }
}

/** App install, anonymous screens, login (identify, sometimes alias), then a few identified sessions. */
function mobileJourney(b: Builder, p: PersonDraft, start: number, purchases: number): number {
  const { rng } = b
  const m = p.mobile!
  const skew = p.edgeCases.includes('clock_skew') ? CLOCK_SKEW_MS : 0
  const context = mobileContext(p, phoneDevice(p))
  const anon = { anonymousId: m.anonymousId }
  const ids = { userId: p.userId!, anonymousId: m.anonymousId }
  const emit = (at: number, body: Omit<ClientEvent, 'messageId' | 'timestamp'>): void => {
    b.emit('mobile', p.index, at, { ...body, context }, skew)
  }
  let t = start
  emit(t, { type: 'track', ...anon, event: 'Application Installed', properties: { version: APP.version, build: APP.build } })
  t = b.later(t, 2_000, 10_000)
  emit(t, { type: 'track', ...anon, event: 'Application Opened', properties: { from_background: false, version: APP.version } })
  t = b.later(t, 3_000, 20_000)
  emit(t, { type: 'screen', ...anon, name: 'Welcome', properties: { step: 1 } })
  t = b.later(t, 20_000, 120_000)
  emit(t, { type: 'identify', ...ids, traits: { email: p.email, firstName: p.firstName, lastName: p.lastName } })
  if (rng.chance(0.3)) emit(b.later(t, 500, 2_000), { type: 'alias', userId: p.userId!, previousId: m.anonymousId })
  const sessions = rng.int(2, 4)
  let bought = 0
  for (let s = 0; s < sessions; s++) {
    t = b.later(t, 6 * HOUR, 3 * DAY)
    emit(t, { type: 'track', ...ids, event: 'Application Opened', properties: { from_background: rng.chance(0.5), version: APP.version } })
    for (let i = rng.int(1, 3); i > 0; i--) {
      t = b.later(t, 5_000, 90_000)
      emit(t, { type: 'screen', ...ids, name: rng.pick(APP_SCREENS) })
    }
    if (bought < purchases && rng.chance(0.5)) {
      t = purchase(b, p, b.later(t, 30_000, 300_000), (at, body) => emit(at, { ...body, ...ids }))
      bought++
    }
  }
  return t
}

/**
 * The app pairs the IoT device: a `track` from the mobile source carrying the userId and, as
 * `context.device.id`, the device's serial, which links the device to the person. The device then pings from
 * the `iot` source, identified by its serial only (as `anonymousId`, which the tracking API requires, and as
 * `context.device.id`).
 */
function iotJourney(b: Builder, p: PersonDraft, pairedAt: number, finalPing: number | null): void {
  const { rng } = b
  const iot = p.iot!
  const device = { id: iot.serial, type: 'iot', manufacturer: 'Tessera Home', model: iot.model.model, name: iot.model.type }
  const m = p.mobile!
  b.emit('mobile', p.index, pairedAt, {
    type: 'track', userId: p.userId!, anonymousId: m.anonymousId, event: 'Device Paired',
    properties: { device_id: iot.serial, device_type: iot.model.type, model: iot.model.model },
    context: { ...mobileContext(p, device) },
  }, p.edgeCases.includes('clock_skew') ? CLOCK_SKEW_MS : 0)
  const ping = (at: number): void => {
    b.emit('iot', p.index, at, {
      type: 'track', anonymousId: iot.serial, event: 'Device Ping',
      properties: {
        firmware: iot.model.firmware,
        battery_pct: rng.int(20, 100),
        ...(iot.model.type === 'thermostat' ? { temperature_c: Math.round(rng.between(18, 24) * 10) / 10, setpoint_c: 21 } : {}),
        ...(iot.model.type === 'air_quality_sensor' ? { co2_ppm: rng.int(420, 1400), humidity_pct: rng.int(30, 65) } : {}),
        ...(iot.model.type === 'smart_plug' ? { power_w: Math.round(rng.between(0, 1800)), on: rng.chance(0.6) } : {}),
      },
      context: { library: { name: 'tessera-iot-gateway', version: '2.3.1' }, device, ip: documentationIp(rng) },
    })
  }
  // The device pings from power-on, minutes before it is paired, then a few times a day.
  let t = pairedAt - rng.int(2, 20) * MINUTE
  for (let n = 0; n < 24 && t < b.horizon - HOUR; n++) {
    ping(t)
    t = Math.round(t + rng.between(8 * HOUR, 30 * HOUR))
  }
  if (finalPing !== null) ping(finalPing)
}

/**
 * A CRM sync: identify from the `crm` source keyed by the e-mail as the CRM holds it, with company, plan and
 * phone. The contact's CRM id goes in `anonymousId` (the tracking API needs a userId or an anonymousId, and the
 * CRM does not know the app's userId).
 */
function crmRecord(b: Builder, p: PersonDraft, at: number): void {
  const { rng } = b
  const contactId = p.crmContactId!
  const traits = (plan: string | null): JsonObject => ({
    email: p.crmEmail!, firstName: p.firstName, lastName: p.lastName, title: p.title,
    ...(p.company === null ? {} : { company: p.company }), ...(plan === null ? {} : { plan }), ...(p.phone === null ? {} : { phone: p.phone }),
  })
  const context: JsonObject = { library: { name: 'tessera-demo-crm-sync', version: '1.0.0' } }
  b.emit('crm', p.index, at, { type: 'identify', anonymousId: contactId, traits: traits(p.plan), context })
  if (rng.chance(0.3)) {
    const upgraded = PLANS[Math.min(PLANS.length - 1, PLANS.indexOf((p.plan ?? 'free') as (typeof PLANS)[number]) + 1)]!
    b.emit('crm', p.index, b.later(at, 2 * DAY, 10 * DAY), { type: 'identify', anonymousId: contactId, traits: traits(upgraded), context })
  }
}

function webClient(b: Builder, p: PersonDraft): WebClient {
  const browser = b.rng.chance(0.3) ? b.rng.pick(MOBILE_BROWSERS) : b.rng.pick(DESKTOP_BROWSERS)
  return { anonymousId: p.webAnonymousIds[0]!, browser, ip: documentationIp(b.rng) }
}

/**
 * Days into the 30-day window a journey may start: long journeys (web, sign-up, app, device pairing take up to
 * ~3 weeks) start early, so that they end before "now" instead of piling up at it.
 */
const START_WINDOW_DAYS: Readonly<Record<Archetype, number>> = { omnichannel: 6, web_and_app: 11, web_customer: 20, visitor: 29, crm_only: 29 }

/** One person's whole journey; returns their browser (null for CRM-only contacts). */
function journey(b: Builder, p: PersonDraft, showcase: boolean): WebClient | null {
  const { rng } = b
  const start = b.now - 30 * DAY + rng.between(0, START_WINDOW_DAYS[p.archetype] * DAY)
  if (p.archetype === 'crm_only') {
    crmRecord(b, p, Math.round(start))
    return null
  }
  const client = webClient(b, p)
  const campaign = (): Campaign | null => (rng.chance(0.65) ? rng.pick(CAMPAIGNS) : null)
  let t = Math.round(start)
  for (let s = rng.int(1, 2); s > 0; s--) t = b.later(webSession(b, p, client, t, { anonymousId: client.anonymousId }, campaign(), rng.int(2, 5)), 2 * HOUR, 2 * DAY)
  if (p.edgeCases.includes('placeholder_email')) {
    // The newsletter form's default value, submitted unchanged: must not link the visitors who sent it.
    b.emit('web', p.index, t, {
      type: 'identify', anonymousId: client.anonymousId, traits: { email: PLACEHOLDER_EMAIL, newsletter: true },
      context: webContext(p, client, { url: `${SITE}/blog/cut-your-heating-bill`, path: '/blog/cut-your-heating-bill', title: 'Newsletter', referrer: '', search: '' }),
    })
  }
  if (p.edgeCases.includes('placeholder_user_id')) {
    // A checkout bug sends userId "0" for guests: must not link the guests who sent it.
    b.emit('web', p.index, t, {
      type: 'track', userId: PLACEHOLDER_USER_ID, anonymousId: client.anonymousId, event: 'Checkout Started', properties: { guest: true },
      context: webContext(p, client, { url: `${SITE}/checkout`, path: '/checkout', title: 'Checkout', referrer: `${SITE}/pricing`, search: '' }),
    })
  }
  if (p.archetype === 'visitor') return client

  t = signUp(b, p, client, t)
  const purchases = rng.int(p.archetype === 'web_customer' ? 0 : 1, 2)
  const webIds = { userId: p.userId!, anonymousId: client.anonymousId }
  for (let s = rng.int(1, 2); s > 0; s--) t = b.later(webSession(b, p, client, t, webIds, campaign(), rng.int(1, 4)), 4 * HOUR, 2 * DAY)
  if (p.company !== null && p.archetype === 'omnichannel') {
    b.emit('web', p.index, t, { type: 'group', ...webIds, groupId: `grp_${slug(p.company)}`, traits: { name: p.company, ...(p.plan === null ? {} : { plan: p.plan }) }, context: webContext(p, client, { url: `${SITE}/account`, path: '/account', title: 'Account', referrer: '', search: '' }) })
  }
  let webBought = 0
  if (p.mobile === null || rng.chance(0.5)) {
    const info = { url: `${SITE}/checkout`, path: '/checkout', title: 'Checkout | Tessera Home', referrer: `${SITE}/cart`, search: '' }
    t = purchase(b, p, b.later(t, MINUTE, HOUR), (at, body) => b.emit('web', p.index, at, { ...body, ...webIds, context: webContext(p, client, info) }))
    webBought++
  }
  if (p.crmEmail !== null) crmRecord(b, p, b.later(t, 6 * HOUR, 3 * DAY))
  if (p.mobile !== null) {
    const installed = b.later(t, 12 * HOUR, 4 * DAY)
    mobileJourney(b, p, installed, Math.max(0, purchases - webBought))
    if (p.iot !== null) iotJourney(b, p, b.later(installed, DAY, 3 * DAY), showcase ? b.now - rng.int(60, 110) * 1000 : null)
  }
  return client
}

/**
 * The second user of a family computer: after signing up on their own browser, a member of the household
 * browses on the first user's computer (same anonymousId) and logs in to their own account there. user_id is
 * unique per profile, so merge protection must keep the two accounts apart, dropping the shared anonymousId
 * from the second user's events.
 */
function familyComputer(b: Builder, owner: PersonDraft, member: PersonDraft, ownerClient: WebClient): void {
  const ownerLast = Math.max(...b.events.filter((e) => e.person === owner.index && e.source === 'web').map((e) => e.at))
  const t = b.later(ownerLast, DAY, 2 * DAY)
  const end = webSession(b, member, ownerClient, t, { anonymousId: ownerClient.anonymousId }, null, 2)
  const login = { url: `${SITE}/login`, path: '/login', title: 'Log in | Tessera Home', referrer: `${SITE}/`, search: '' }
  b.emit('web', member.index, end, {
    type: 'identify', userId: member.userId!, anonymousId: ownerClient.anonymousId, traits: { email: member.email },
    context: webContext(member, ownerClient, login),
  })
  const ids = { userId: member.userId!, anonymousId: ownerClient.anonymousId }
  webSession(b, member, ownerClient, b.later(end, MINUTE, 10 * MINUTE), ids, null, 2)
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Generates the demo data set. Throws RangeError below {@link MIN_PEOPLE} people.
 *
 * @example generateJourneys({ people: 200, seed: '42', now: Date.now() }).events.length // ≈ 9,000
 */
export function generateJourneys(options: JourneyOptions): DemoDataset {
  if (!Number.isInteger(options.people) || options.people < MIN_PEOPLE) {
    throw new RangeError(`the demo needs at least ${MIN_PEOPLE} people (its edge cases use 16), got ${options.people}`)
  }
  // The people count is part of the seed: a different count gives different people, who must not reuse the
  // ids (run tag) of an earlier run's people and merge into their profiles.
  const rng = createRng(`tessera-demo:${options.seed}:${options.people}`)
  const runTag = rng.base36(4)
  const drafts = draftPeople(rng, runTag, options.people)
  const b = new Builder(rng, options.now)
  const showcase = drafts.filter((p) => p.archetype === 'omnichannel' && p.edgeCases.length === 0).slice(0, 6).map((p) => p.index)
  const clients = new Map<number, WebClient>()
  for (const p of drafts) {
    const client = journey(b, p, showcase.includes(p.index))
    if (client) clients.set(p.index, client)
  }
  const [owner, member] = drafts.filter((p) => p.edgeCases.includes('family_computer'))
  if (owner && member) familyComputer(b, owner, member, clients.get(owner.index)!)

  // Retries: a client that lost the answer sends the same events again (same messageId), seconds later.
  const candidates = b.events.filter((e) => !showcase.includes(e.person))
  const duplicateCount = Math.max(3, Math.round(b.events.length * 0.01))
  const duplicated = new Set<DemoEvent>()
  while (duplicated.size < Math.min(duplicateCount, candidates.length)) duplicated.add(rng.pick(candidates))
  for (const original of duplicated) {
    b.events.push({ ...original, at: Math.min(b.horizon, original.at + rng.int(1_000, 30_000)), duplicate: true })
    const person = drafts[original.person]!
    if (!person.edgeCases.includes('duplicates')) person.edgeCases.push('duplicates')
  }

  const events = b.events.map((e, i) => ({ e, i })).sort((x, y) => x.e.at - y.e.at || x.i - y.i).map(({ e }) => e)
  const distinctByPerson = new Map<number, Set<string>>()
  const sourcesByPerson = new Map<number, Set<DemoSource>>()
  for (const e of events) {
    if (!distinctByPerson.has(e.person)) distinctByPerson.set(e.person, new Set())
    distinctByPerson.get(e.person)!.add(e.event.messageId)
    if (!sourcesByPerson.has(e.person)) sourcesByPerson.set(e.person, new Set())
    sourcesByPerson.get(e.person)!.add(e.source)
  }
  const people: DemoPerson[] = drafts.map((p) => ({
    index: p.index,
    archetype: p.archetype,
    edgeCases: p.edgeCases,
    name: `${p.firstName} ${p.lastName}`,
    firstName: p.firstName,
    lastName: p.lastName,
    userId: p.userId,
    email: p.email,
    crmEmail: p.crmEmail,
    phone: p.phone,
    company: p.company,
    plan: p.plan,
    webAnonymousIds: p.webAnonymousIds,
    crmContactId: p.crmContactId,
    mobile: p.mobile === null ? null : { anonymousId: p.mobile.anonymousId, deviceId: p.mobile.deviceId, platform: p.mobile.platform },
    iotDeviceId: p.iot?.serial ?? null,
    sources: DEMO_SOURCES.filter((s) => sourcesByPerson.get(p.index)?.has(s)),
    expectedEventCount: distinctByPerson.get(p.index)?.size ?? 0,
  }))
  return {
    seed: options.seed,
    runTag,
    now: options.now,
    people,
    events,
    expectations: {
      showcase,
      merged: people.map((p) => ({ person: p.index, identifiers: identifiersOf(p) })).filter((m) => m.identifiers.length > 1),
      separate: separations(people),
      duplicates: duplicated.size,
      distinctEvents: new Set(events.map((e) => e.event.messageId)).size,
    },
  }
}

/** What one person's profile should hold (placeholders left out). */
function identifiersOf(p: DemoPerson): IdentifierRef[] {
  const out: IdentifierRef[] = []
  if (p.userId !== null) out.push({ type: 'user_id', value: p.userId })
  if (p.archetype !== 'visitor') out.push({ type: 'email', value: p.email })
  if (p.phone !== null) out.push({ type: 'phone', value: e164(p.phone) })
  if (p.crmContactId !== null) out.push({ type: 'anonymous_id', value: p.crmContactId })
  for (const id of p.webAnonymousIds) out.push({ type: 'anonymous_id', value: id })
  if (p.mobile !== null) {
    if (p.mobile.anonymousId !== ZERO_UUID) out.push({ type: 'anonymous_id', value: p.mobile.anonymousId })
    out.push({ type: 'device_id', value: p.mobile.deviceId })
  }
  if (p.iotDeviceId !== null) out.push({ type: 'device_id', value: p.iotDeviceId }, { type: 'anonymous_id', value: p.iotDeviceId })
  return out
}

function separations(people: readonly DemoPerson[]): DemoExpectations['separate'] {
  const pairs = (edgeCase: EdgeCase): DemoPerson[] => people.filter((p) => p.edgeCases.includes(edgeCase))
  const out: DemoExpectations['separate'][number][] = []
  const [owner, member] = pairs('family_computer')
  if (owner && member) {
    out.push({ edgeCase: 'family_computer', why: 'two accounts used on one browser (same anonymousId)', a: { type: 'user_id', value: owner.userId! }, b: { type: 'user_id', value: member.userId! } })
  }
  const [e1, e2] = pairs('placeholder_email')
  if (e1 && e2) {
    out.push({ edgeCase: 'placeholder_email', why: `two visitors who both sent email "${PLACEHOLDER_EMAIL}"`, a: { type: 'anonymous_id', value: e1.webAnonymousIds[0]! }, b: { type: 'anonymous_id', value: e2.webAnonymousIds[0]! } })
  }
  const [u1, u2] = pairs('placeholder_user_id')
  if (u1 && u2) {
    out.push({ edgeCase: 'placeholder_user_id', why: `two guests who both sent userId "${PLACEHOLDER_USER_ID}"`, a: { type: 'anonymous_id', value: u1.webAnonymousIds[0]! }, b: { type: 'anonymous_id', value: u2.webAnonymousIds[0]! } })
  }
  const [z1, z2] = pairs('zero_anonymous_id')
  if (z1?.mobile && z2?.mobile) {
    out.push({ edgeCase: 'zero_anonymous_id', why: 'two phones whose app sent the all-zero anonymousId', a: { type: 'device_id', value: z1.mobile.deviceId }, b: { type: 'device_id', value: z2.mobile.deviceId } })
  }
  return out
}
