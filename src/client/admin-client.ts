/**
 * @module Small client for the admin API's profile reads (`GET /v1/profiles...`, bearer token). Answers are
 * checked for the fields the CLI relies on and otherwise passed through.
 */
import type { JsonObject, JsonValue } from '../core/event.js'
import { parseErrorAnswer } from './batch-problems.js'
import { ClientError, describeFetchFailure } from './client-error.js'
import { endpointUrl, type FetchLike } from './tracking-client.js'

export interface ProfileIdentity {
  readonly type: string
  readonly value: string
}

/** A unified profile as the admin API returns it. */
export interface AdminProfile {
  readonly id: string
  readonly traits: JsonObject
  /** Event time of the first and last event; ms or ISO 8601, as the server sends it. */
  readonly firstSeen: number | string | null
  readonly lastSeen: number | string | null
  readonly eventCount: number
  /** Events per source id. */
  readonly sourceCounts: Readonly<Record<string, number>>
  /** Events per event name. */
  readonly eventCounts: Readonly<Record<string, number>>
  readonly identities: readonly ProfileIdentity[]
  /** The whole answer, for fields this client does not model. */
  readonly raw: JsonObject
}

export interface ProfileEventsPage {
  /** Newest first: `{ messageId, sourceId, type, name, timestamp, event }`. */
  readonly events: readonly JsonObject[]
  /** Pass as `cursor` for the next (older) page; null when there is none. */
  readonly next: string | null
}

/** `GET /v1/stats`: totals of the profile store. */
export interface AdminStats {
  readonly profiles: number
  readonly identifiers: number
  /** Events in profile timelines (each distinct event once). */
  readonly events: number
  readonly merges: number
}

export interface AdminClientOptions {
  /** Base URL of the Tessera server. @example 'http://127.0.0.1:3000' */
  readonly url: string
  /** Admin token, sent as `Authorization: Bearer <token>`. */
  readonly token: string
  readonly fetch?: FetchLike
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number
}

function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function counts(value: JsonValue | undefined): Record<string, number> {
  const out: Record<string, number> = {}
  if (isRecord(value)) for (const [k, v] of Object.entries(value)) if (typeof v === 'number') out[k] = v
  return out
}

function time(value: JsonValue | undefined): number | string | null {
  return typeof value === 'number' || typeof value === 'string' ? value : null
}

/** Identities as `[{type, value}]`; entries that lack either are skipped. */
export function parseIdentities(value: unknown): ProfileIdentity[] {
  const list = isRecord(value) ? value.identities : value
  if (!Array.isArray(list)) return []
  const out: ProfileIdentity[] = []
  for (const entry of list) {
    if (isRecord(entry) && typeof entry.type === 'string' && (typeof entry.value === 'string' || typeof entry.value === 'number')) {
      out.push({ type: entry.type, value: String(entry.value) })
    }
  }
  return out
}

/** Checks an answer is a profile (it has an `id`) and reads the fields the CLI shows. */
export function parseProfile(value: unknown): AdminProfile {
  if (!isRecord(value) || typeof value.id !== 'string') {
    throw new ClientError('CLIENT_BAD_RESPONSE', 'the admin API answered with something that is not a profile (no "id")')
  }
  return {
    id: value.id,
    traits: isRecord(value.traits) ? value.traits : {},
    firstSeen: time(value.firstSeen),
    lastSeen: time(value.lastSeen),
    eventCount: typeof value.eventCount === 'number' ? value.eventCount : 0,
    sourceCounts: counts(value.sourceCounts),
    eventCounts: counts(value.eventCounts),
    identities: parseIdentities(value.identities),
    raw: value,
  }
}

/**
 * Reads profiles from a Tessera admin API. Not-found answers (404) are `null`; a refused token, an unreachable
 * server or an unexpected status throw a {@link ClientError}.
 *
 * @example
 * const admin = new AdminClient({ url: 'http://127.0.0.1:3000', token })
 * const profile = await admin.profileByIdentifier('email', 'ann@example.com')
 */
export class AdminClient {
  readonly #url: string
  readonly #authorization: string
  readonly #fetch: FetchLike
  readonly #timeoutMs: number

  constructor(options: AdminClientOptions) {
    this.#url = options.url
    this.#authorization = `Bearer ${options.token}`
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init))
    this.#timeoutMs = options.timeoutMs ?? 10_000
  }

  /** `GET /v1/profiles?identifier=<type>:<value>`: the profile holding this identifier. */
  async profileByIdentifier(type: string, value: string): Promise<AdminProfile | null> {
    const body = await this.#get(`/v1/profiles?identifier=${encodeURIComponent(`${type}:${value}`)}`)
    return body === null ? null : parseProfile(body)
  }

  /** `GET /v1/profiles/{id}`. */
  async profile(id: string): Promise<AdminProfile | null> {
    const body = await this.#get(`/v1/profiles/${encodeURIComponent(id)}`)
    return body === null ? null : parseProfile(body)
  }

  /** `GET /v1/profiles/{id}/identities`. */
  async identities(id: string): Promise<ProfileIdentity[] | null> {
    const body = await this.#get(`/v1/profiles/${encodeURIComponent(id)}/identities`)
    return body === null ? null : parseIdentities(body)
  }

  /** `GET /v1/profiles/{id}/events`: the profile's timeline, newest first, a page at a time. */
  async events(id: string, options: { readonly limit?: number; readonly cursor?: string } = {}): Promise<ProfileEventsPage | null> {
    const query = new URLSearchParams()
    if (options.limit !== undefined) query.set('limit', String(options.limit))
    if (options.cursor !== undefined) query.set('cursor', options.cursor)
    const suffix = query.toString() === '' ? '' : `?${query.toString()}`
    const body = await this.#get(`/v1/profiles/${encodeURIComponent(id)}/events${suffix}`)
    if (body === null) return null
    const list = isRecord(body) ? body.events : body
    const events = Array.isArray(list) ? list.filter(isRecord) : []
    const next = isRecord(body) && typeof body.next === 'string' ? body.next : null
    return { events, next }
  }

  /** `GET /v1/stats`; null if the server does not have this endpoint. */
  async stats(): Promise<AdminStats | null> {
    const body = await this.#get('/v1/stats')
    if (body === null) return null
    if (!isRecord(body) || typeof body.events !== 'number') throw new ClientError('CLIENT_BAD_RESPONSE', 'GET /v1/stats answered without an "events" count')
    const n = (v: JsonValue | undefined): number => (typeof v === 'number' ? v : 0)
    return { profiles: n(body.profiles), identifiers: n(body.identifiers), events: body.events, merges: n(body.merges) }
  }

  async #get(path: string): Promise<JsonValue | null> {
    const url = endpointUrl(this.#url, path)
    let response: Response
    try {
      response = await this.#fetch(url, {
        method: 'GET',
        headers: { accept: 'application/json', authorization: this.#authorization },
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch (error) {
      throw new ClientError('CLIENT_UNREACHABLE', `cannot reach the admin API at ${url}: ${describeFetchFailure(error)}`, { cause: error })
    }
    const text = await response.text()
    if (response.status === 404) return null
    if (response.status === 401 || response.status === 403) {
      throw new ClientError('CLIENT_UNAUTHORIZED', `the admin API refused the token (HTTP ${response.status})`, { status: response.status })
    }
    if (response.status < 200 || response.status >= 300) {
      throw new ClientError('CLIENT_HTTP', `admin API ${path}: HTTP ${response.status}: ${parseErrorAnswer(text, response.status).message}`, { status: response.status })
    }
    try {
      return JSON.parse(text) as JsonValue
    } catch (cause) {
      throw new ClientError('CLIENT_BAD_RESPONSE', `admin API ${path} answered with invalid JSON`, { cause, status: response.status })
    }
  }
}
