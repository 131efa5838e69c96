/**
 * @module Data classification: every trait, event property and context field has a data category and a
 * sensitivity. Paths are dotted and rooted (`traits.email`, `traits.address.city`, `properties.revenue`,
 * `context.ip`, `event.userId`, `identities.email`); array indexes are dropped (`properties.products.price`).
 * A rule for `traits.address.*` covers every path below `traits.address`; the longest matching rule wins.
 * Names are normalised before matching (NFKC, invisible characters removed, lower case), so `ｅｍａｉｌ`,
 * `e\u200bmail` and `Email` are all classified as `email`; a name that matches nothing gets the safe default
 * (`personal` / `confidential`), never `public`.
 */
import { ConfigError } from '../core/errors.js'

export const DATA_CATEGORIES = [
  'identifier', 'contact', 'demographic', 'professional', 'behavioral', 'financial', 'health', 'location', 'device',
  'technical', 'personal',
] as const
export type DataCategory = (typeof DATA_CATEGORIES)[number]

/** From least to most sensitive. */
export const SENSITIVITIES = ['public', 'internal', 'confidential', 'restricted'] as const
export type Sensitivity = (typeof SENSITIVITIES)[number]

export interface Classification {
  readonly category: DataCategory
  readonly sensitivity: Sensitivity
}

export interface ClassificationConfig {
  /** Extra or overriding rules: path (optionally ending in `.*`) → classification. */
  readonly fields: Readonly<Record<string, Classification>>
  /** What a field that matches no rule is. Never `public`. */
  readonly default: Classification
}

const c = (category: DataCategory, sensitivity: Sensitivity): Classification => ({ category, sensitivity })

/**
 * Defaults for the Segment spec's reserved traits (identify), common e-commerce properties (track) and the
 * context fields analytics libraries fill in.
 */
export const DEFAULT_CLASSIFICATION: Readonly<Record<string, Classification>> = {
  // Identify: reserved traits
  'traits.id': c('identifier', 'confidential'),
  'traits.userid': c('identifier', 'confidential'),
  'traits.anonymousid': c('identifier', 'internal'),
  'traits.username': c('identifier', 'confidential'),
  'traits.name': c('identifier', 'confidential'),
  'traits.firstname': c('identifier', 'confidential'),
  'traits.lastname': c('identifier', 'confidential'),
  'traits.avatar': c('identifier', 'confidential'),
  'traits.email': c('contact', 'confidential'),
  'traits.phone': c('contact', 'confidential'),
  'traits.website': c('contact', 'internal'),
  'traits.address.*': c('contact', 'confidential'),
  'traits.address.city': c('location', 'internal'),
  'traits.address.state': c('location', 'internal'),
  'traits.address.country': c('location', 'internal'),
  'traits.region': c('location', 'internal'),
  'traits.country': c('location', 'internal'),
  'traits.birthday': c('demographic', 'confidential'),
  'traits.age': c('demographic', 'internal'),
  'traits.gender': c('demographic', 'confidential'),
  'traits.company': c('professional', 'internal'),
  'traits.company.*': c('professional', 'internal'),
  'traits.title': c('professional', 'internal'),
  'traits.industry': c('professional', 'internal'),
  'traits.employees': c('professional', 'internal'),
  'traits.description': c('personal', 'confidential'),
  'traits.createdat': c('behavioral', 'internal'),
  'traits.plan': c('behavioral', 'internal'),
  'traits.logins': c('behavioral', 'internal'),
  // Track: e-commerce spec
  'properties.revenue': c('financial', 'confidential'),
  'properties.total': c('financial', 'confidential'),
  'properties.subtotal': c('financial', 'confidential'),
  'properties.value': c('financial', 'confidential'),
  'properties.price': c('financial', 'internal'),
  'properties.tax': c('financial', 'confidential'),
  'properties.shipping': c('financial', 'confidential'),
  'properties.discount': c('financial', 'confidential'),
  'properties.currency': c('financial', 'internal'),
  'properties.products.*': c('behavioral', 'internal'),
  'properties.products.price': c('financial', 'internal'),
  'properties.product_id': c('behavioral', 'internal'),
  'properties.sku': c('behavioral', 'internal'),
  'properties.category': c('behavioral', 'internal'),
  'properties.name': c('behavioral', 'internal'),
  'properties.path': c('behavioral', 'internal'),
  'properties.url': c('behavioral', 'internal'),
  'properties.title': c('behavioral', 'internal'),
  'properties.referrer': c('behavioral', 'internal'),
  'properties.search': c('behavioral', 'internal'),
  'properties.order_id': c('behavioral', 'internal'),
  // Context
  'context.ip': c('location', 'confidential'),
  'context.location.*': c('location', 'confidential'),
  'context.locale': c('location', 'internal'),
  'context.timezone': c('location', 'internal'),
  'context.useragent': c('device', 'internal'),
  'context.useragentdata.*': c('device', 'internal'),
  'context.device.*': c('device', 'internal'),
  'context.device.id': c('identifier', 'confidential'),
  'context.device.advertisingid': c('identifier', 'confidential'),
  'context.device.token': c('identifier', 'confidential'),
  'context.os.*': c('device', 'internal'),
  'context.screen.*': c('device', 'internal'),
  'context.network.*': c('device', 'internal'),
  'context.app.*': c('technical', 'internal'),
  'context.library.*': c('technical', 'internal'),
  'context.page.*': c('behavioral', 'internal'),
  'context.campaign.*': c('behavioral', 'internal'),
  'context.referrer.*': c('behavioral', 'internal'),
  'context.groupid': c('identifier', 'internal'),
  'context.sessionid': c('behavioral', 'internal'),
  // The event envelope
  'event.type': c('technical', 'internal'),
  'event.event': c('behavioral', 'internal'),
  'event.name': c('behavioral', 'internal'),
  'event.category': c('behavioral', 'internal'),
  'event.messageid': c('technical', 'internal'),
  'event.timestamp': c('behavioral', 'internal'),
  'event.originaltimestamp': c('behavioral', 'internal'),
  'event.sentat': c('technical', 'internal'),
  'event.receivedat': c('technical', 'internal'),
  'event.channel': c('technical', 'internal'),
  'event.version': c('technical', 'internal'),
  'event.sourceid': c('technical', 'internal'),
  'event.integrations.*': c('technical', 'internal'),
  'event.userid': c('identifier', 'confidential'),
  'event.anonymousid': c('identifier', 'internal'),
  'event.previousid': c('identifier', 'confidential'),
  'event.groupid': c('identifier', 'internal'),
  'event.profileid': c('technical', 'internal'),
  'event.enrichment.useragent.*': c('device', 'internal'),
  'event.enrichment.campaign.*': c('behavioral', 'internal'),
  'event.enrichment.sessionid': c('behavioral', 'internal'),
  'event.enrichment.sessionstart': c('behavioral', 'internal'),
  // Profile metadata (counts and times)
  'profile.*': c('behavioral', 'internal'),
  'profile.id': c('technical', 'internal'),
  // Identifiers of the identity graph, by type
  'identities.email': c('contact', 'confidential'),
  'identities.phone': c('contact', 'confidential'),
  'identities.user_id': c('identifier', 'confidential'),
  'identities.anonymous_id': c('identifier', 'internal'),
  'identities.*': c('identifier', 'confidential'),
}

export const SAFE_DEFAULT: Classification = c('personal', 'confidential')

// Default_Ignorable_Code_Point covers zero-width spaces and joiners, soft hyphens, variation selectors, tags.
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cc}]/gu

/** The form a field name is matched in: NFKC, invisible characters removed, lower case. */
export function normalizeFieldName(name: string): string {
  return name.normalize('NFKC').replace(INVISIBLE, '').toLowerCase()
}

export function normalizePath(path: string): string {
  return path.split('.').map(normalizeFieldName).join('.')
}

export interface Classifier {
  /** Classification of a rooted, dotted path (raw names; normalised here). */
  classify(path: string): Classification
}

export function validateClassification(value: unknown, field: string): Classification {
  const v = value as Classification
  if (typeof v !== 'object' || v === null || !(DATA_CATEGORIES as readonly string[]).includes(v.category)) {
    throw new ConfigError(`config ${field}.category: must be one of ${DATA_CATEGORIES.join(', ')}`, `${field}.category`)
  }
  if (!(SENSITIVITIES as readonly string[]).includes(v.sensitivity)) {
    throw new ConfigError(`config ${field}.sensitivity: must be one of ${SENSITIVITIES.join(', ')}`, `${field}.sensitivity`)
  }
  return { category: v.category, sensitivity: v.sensitivity }
}

export function createClassifier(config: ClassificationConfig): Classifier {
  if (config.default.sensitivity === 'public') {
    throw new ConfigError('config governance.classification.default.sensitivity: an unknown field must not be public (use internal or higher)', 'governance.classification.default.sensitivity')
  }
  const exact = new Map<string, Classification>()
  const prefix = new Map<string, Classification>()
  const add = (key: string, value: Classification): void => {
    const path = normalizePath(key)
    if (path.endsWith('.*')) prefix.set(path.slice(0, -2), value)
    else exact.set(path, value)
  }
  for (const [k, v] of Object.entries(DEFAULT_CLASSIFICATION)) add(k, v)
  for (const [k, v] of Object.entries(config.fields)) add(k, v)
  const cache = new Map<string, Classification>()
  return {
    classify(path) {
      const hit = cache.get(path)
      if (hit) return hit
      const norm = normalizePath(path)
      // `context.traits.x` is a trait carried in the context.
      const key = norm.startsWith('context.traits.') ? norm.slice('context.'.length) : norm
      let found = exact.get(key)
      if (!found) {
        const parts = key.split('.')
        for (let n = parts.length; n > 0 && !found; n--) {
          const head = parts.slice(0, n).join('.')
          found = prefix.get(head) ?? (n < parts.length ? exact.get(head) : undefined)
        }
      }
      const result = found ?? config.default
      if (cache.size < 10_000) cache.set(path, result)
      return result
    },
  }
}
