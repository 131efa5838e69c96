/**
 * @module Admin API (profiles read side), an encapsulated Fastify plugin behind bearer-token auth.
 * After a merge, a lookup by any identifier returns the surviving profile, and the old id answers with a
 * pointer to it (`status: merged`), or the surviving profile itself with `?follow=true`.
 * Every read states a purpose and goes through the access policies (src/governance/): the profile must be
 * visible to the token (row level, else 403), each field is shown in clear, masked or left out, and the read
 * is written to the audit log before the response leaves. Unknown query parameters are refused, so nothing
 * can filter or sort by a field the token may not read in clear; a lookup by identifier needs clear access to
 * that identifier's category, and answers 404 alike for "no such profile" and "not yours to see".
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { TesseraError, ValidationError, isTesseraError } from '../core/errors.js'
import type { AccessControl, AccessScope, ProfileTarget } from '../governance/access-control.js'
import type { AuditLog } from '../governance/audit-log.js'
import type { ProfileReader, TimelineCursor } from '../profiles/profile-reader.js'
import { errorBodySchema } from './error-handler.js'
import { identitiesView, iso, profileSchema, profileView } from './profile-views.js'
import type { AdminPrincipal } from './admin-auth.js'

export interface AdminPluginOptions {
  readonly reader: ProfileReader
  readonly authenticate: (header: string | undefined) => AdminPrincipal
  /** Normalises an identifier value as the pipeline does (e-mail lower case, phone E.164). */
  readonly normalize: (type: string, value: string) => string | null
  readonly access: AccessControl
  readonly audit: AuditLog
  /**
   * Consent hook: the person's consent for what a read purpose needs (`granted`, `refused`, `unknown`,
   * `not_required`), carried into the Cedar context of the profile's reads. Given the profile id, the read's
   * purpose and the profile's residency region.
   */
  readonly consentOf?: (profileId: string, purpose: string, region: string) => Promise<string | undefined>
}

/** Header carrying the purpose of an admin read. */
export const PURPOSE_HEADER = 'x-tessera-purpose'

export const purposeHeaderSchema = {
  type: 'object',
  properties: {
    [PURPOSE_HEADER]: { type: 'string', description: 'Why you read this data: one of governance.purposes (analytics, marketing, support, privacy_request, audit, ...). Optional for a token bound to a purpose.' },
  },
} as const

/**
 * Runs an admin read in an access scope and writes its audit entry (also for a denied or failed read)
 * before the response is sent. The audit entry's sequence number is returned in `X-Tessera-Audit-Seq`.
 */
export async function auditedRead<T>(
  access: AccessControl, audit: AuditLog, request: FastifyRequest, reply: FastifyReply, kind: string,
  work: (scope: AccessScope) => Promise<T>,
): Promise<T> {
  const principal = request.admin!
  const action = `${request.method} ${request.routeOptions.url ?? request.url}`
  const actor = { type: 'token' as const, id: principal.name, roles: [...principal.roles] }
  const header = request.headers[PURPOSE_HEADER]
  let scope: AccessScope
  try {
    scope = access.scope(principal, Array.isArray(header) ? header[0] : header)
  } catch (error) {
    await audit.record({ kind, actor, action, decision: 'deny', reason: (error as Error).message.slice(0, 300), detail: { status: isTesseraError(error) && error.code === 'TESSERA_FORBIDDEN' ? 403 : 400 } })
    throw error
  }
  const base = { kind, actor, action, purpose: scope.purpose, legalBasis: scope.legalBasis }
  try {
    const result = await work(scope)
    const seq = await audit.record({ ...base, subjects: scope.subjects, decision: scope.outcome(), fields: scope.fields(), policyIds: scope.policyIds })
    void reply.header('x-tessera-purpose', scope.purpose)
      .header('x-tessera-access', `${scope.outcome()}; masked=${scope.masked}; removed=${scope.removed}`)
      .header('x-tessera-audit-seq', String(seq))
    return result
  } catch (error) {
    const denied = isTesseraError(error) && error.code === 'TESSERA_FORBIDDEN'
    const seq = await audit.record({
      ...base, subjects: scope.subjects, decision: denied ? 'deny' : 'error', fields: scope.fields(), policyIds: scope.policyIds,
      reason: (denied ? scope.reason ?? (error as Error).message : (error as Error).message).slice(0, 300),
    })
    void reply.header('x-tessera-audit-seq', String(seq))
    throw error
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    admin?: AdminPrincipal
  }
}

const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema }
const idParam = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] } as const

const identitySchema = {
  type: 'object',
  properties: { type: { type: 'string' }, value: { type: 'string' }, firstSeen: { type: 'string', format: 'date-time' } },
} as const
const edgeSchema = {
  type: 'object',
  description: 'A link between two identifiers (type:value), with the event and rule that created it.',
  properties: {
    from: { type: 'string' }, to: { type: 'string' }, rule: { type: 'string' }, messageId: { type: 'string' },
    sourceId: { type: 'string' }, eventTime: { type: 'string', format: 'date-time' }, confidence: { type: 'number' },
  },
} as const
const mergeSchema = {
  type: 'object',
  properties: {
    winner: { type: 'string' }, loser: { type: 'string' }, messageId: { type: 'string' }, rule: { type: 'string' },
    eventTime: { type: 'string', format: 'date-time' },
  },
} as const
const rejectionSchema = {
  type: 'object',
  description: 'An identifier an event carried that was not linked: a blocked placeholder, or dropped by merge protection.',
  properties: {
    key: { type: 'string' }, messageId: { type: 'string' }, reason: { type: 'string', enum: ['blocked_value', 'merge_protection', 'limit_exceeded'] },
    profileId: { type: 'string' }, eventTime: { type: 'string', format: 'date-time' },
  },
} as const

function encodeCursor(c: TimelineCursor): string {
  return Buffer.from(`${c.timestamp}:${c.messageId}`).toString('base64url')
}

function decodeCursor(text: string): TimelineCursor {
  const decoded = Buffer.from(text, 'base64url').toString()
  const at = decoded.indexOf(':')
  const timestamp = Number(decoded.slice(0, at))
  if (at < 1 || !Number.isSafeInteger(timestamp)) {
    throw new ValidationError('.cursor', 'is not a cursor returned by this endpoint (use the `next` value of the previous page)')
  }
  return { timestamp, messageId: decoded.slice(at + 1) }
}

function notFound(what: string): TesseraError {
  return new TesseraError('TESSERA_NOT_FOUND', `${what} not found`)
}

export const adminPlugin: FastifyPluginAsync<AdminPluginOptions> = async (app, { reader, authenticate, normalize, access, audit, consentOf }) => {
  app.addHook('onRequest', async (request) => {
    request.admin = authenticate(request.headers.authorization)
  })
  const read = <T>(request: FastifyRequest, reply: FastifyReply, work: (scope: AccessScope) => Promise<T>): Promise<T> =>
    auditedRead(access, audit, request, reply, 'admin.read', work)

  /** The surviving profile for an id, or throws 404. */
  async function canonical(id: string): Promise<string> {
    const found = await reader.canonicalId(id)
    if (found === null) throw notFound(`profile ${id}`)
    return found
  }

  /** The profile as a policy resource: its residency from its traits, its consent from the ledger. */
  async function targetOf(scope: AccessScope, id: string, traits: Parameters<AccessScope['target']>[1]): Promise<ProfileTarget> {
    const plain = scope.target(id, traits)
    const consent = consentOf === undefined ? undefined : await consentOf(id, scope.purpose, plain.region)
    return consent === undefined ? plain : scope.target(id, traits, consent)
  }

  /** The profile as a policy resource (its residency from its traits), after the row-level check. */
  async function visible(scope: AccessScope, id: string): Promise<ProfileTarget> {
    const profile = await reader.profile(id)
    if (!profile) throw notFound(`profile ${id}`)
    const target = await targetOf(scope, id, profile.traits)
    scope.requireProfile(target)
    return target
  }

  async function view(scope: AccessScope, id: string): Promise<Record<string, unknown>> {
    const profile = await reader.profile(id)
    if (!profile) throw notFound(`profile ${id}`)
    const target = await targetOf(scope, id, profile.traits)
    scope.requireProfile(target)
    return profileView(scope, target, profile, await reader.identities(id))
  }

  app.get<{ Querystring: { identifier: string } }>('/v1/profiles', {
    schema: {
      summary: 'Find the profile that holds an identifier',
      description: 'identifier is `type:value`, e.g. `email:ann@example.com` or `user_id:u-42`. Values are normalised as at ingest (e-mail lower-cased, phone E.164).',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      headers: purposeHeaderSchema,
      querystring: {
        type: 'object',
        properties: { identifier: { type: 'string', pattern: '^[a-z][a-z0-9_]*:.+$', description: 'type:value' } },
        required: ['identifier'],
        additionalProperties: false,
      },
      response: { 200: profileSchema, ...errors },
    },
  }, (request, reply) => read(request, reply, async (scope) => {
    const raw = request.query.identifier
    const at = raw.indexOf(':')
    const type = raw.slice(0, at)
    const path = `identities.${type}`
    // Searching by a value is reading it: only with clear access to its category, checked before the lookup
    // so that the answer says nothing about whether the value exists.
    scope.requireClearField({ id: '(lookup)', region: scope.principal.attributes.region ?? 'UNKNOWN' }, path, `looking profiles up by ${type}`)
    const value = normalize(type, raw.slice(at + 1))
    const id = value === null ? null : await reader.profileIdByIdentifier(type, value)
    const missing = (): TesseraError => notFound(`no profile holds identifier ${type}:…`)
    if (id === null) throw missing()
    const target = await canonical(id)
    const profile = await reader.profile(target)
    if (!profile) throw missing()
    const resource = await targetOf(scope, target, profile.traits)
    // A profile the token may not see answers exactly like one that does not exist.
    if (!scope.mayViewProfile(resource)) throw missing()
    try {
      scope.requireClearField(resource, path, `looking profiles up by ${type}`)
    } catch {
      throw missing()
    }
    return profileView(scope, resource, profile, await reader.identities(target))
  }))

  app.get<{ Params: { id: string }; Querystring: { follow?: boolean } }>('/v1/profiles/:id', {
    schema: {
      summary: 'Get a profile by id',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      params: idParam,
      headers: purposeHeaderSchema,
      querystring: { type: 'object', properties: { follow: { type: 'boolean', default: false } }, additionalProperties: false },
      response: { 200: profileSchema, ...errors },
    },
  }, (request, reply) => read(request, reply, async (scope) => {
    const { id } = request.params
    const target = await canonical(id)
    if (target !== id && !request.query.follow) {
      await visible(scope, target)
      return { id, status: 'merged', mergedInto: target, href: `/v1/profiles/${encodeURIComponent(target)}` }
    }
    return view(scope, target)
  }))

  app.get<{ Params: { id: string }; Querystring: { limit: number; cursor?: string } }>('/v1/profiles/:id/events', {
    schema: {
      summary: 'The event timeline of a profile, newest first',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      params: idParam,
      headers: purposeHeaderSchema,
      querystring: {
        type: 'object',
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          cursor: { type: 'string', description: 'Continue after this position: the `next` value of the previous page' },
        },
        additionalProperties: false,
      },
      response: {
        200: {
          type: 'object',
          properties: {
            profileId: { type: 'string' },
            events: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  messageId: { type: 'string' }, sourceId: { type: 'string' }, type: { type: 'string' },
                  name: { type: ['string', 'null'] }, timestamp: { type: 'string' }, event: { type: 'object', additionalProperties: true },
                },
              },
            },
            next: { type: ['string', 'null'] },
          },
        },
        ...errors,
      },
    },
  }, (request, reply) => read(request, reply, async (scope) => {
    const id = await canonical(request.params.id)
    const target = await visible(scope, id)
    const after = request.query.cursor === undefined ? undefined : decodeCursor(request.query.cursor)
    const page = await reader.events(id, { limit: request.query.limit, ...(after ? { after } : {}) })
    return {
      profileId: id,
      events: page.events.map((e) => {
        const out: Record<string, unknown> = {}
        const fields = { messageId: e.messageId, sourceId: e.sourceId, type: e.type, timestamp: iso(e.timestamp) }
        for (const [k, v] of Object.entries(fields)) {
          const kept = scope.typedLeaf(target, `event.${k}`, v)
          if (kept !== undefined) out[k] = kept
        }
        const name = e.name === null ? null : scope.leaf(target, 'event.name', e.name)
        if (name !== undefined) out.name = name
        out.event = scope.filterEvent(target, e.event)
        return out
      }),
      next: page.next === null ? null : encodeCursor(page.next),
    }
  }))

  app.get<{ Params: { id: string } }>('/v1/profiles/:id/identities', {
    schema: {
      summary: 'Identifiers of a profile, with the links (edges), merges and refused identifiers behind them',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      params: idParam,
      headers: purposeHeaderSchema,
      querystring: { type: 'object', additionalProperties: false },
      response: {
        200: {
          type: 'object',
          properties: {
            profileId: { type: 'string' },
            identities: { type: 'array', items: identitySchema },
            edges: { type: 'array', items: edgeSchema },
            merges: { type: 'array', items: mergeSchema },
            rejected: { type: 'array', items: rejectionSchema },
          },
        },
        ...errors,
      },
    },
  }, (request, reply) => read(request, reply, async (scope) => {
    const id = await canonical(request.params.id)
    const target = await visible(scope, id)
    const [identities, edges, merges, rejected] = await Promise.all([
      reader.identities(id), reader.edges(id), reader.merges(id), reader.rejections(id),
    ])
    return {
      profileId: id,
      identities: identitiesView(scope, target, identities),
      // An edge or a refused identifier whose identifier the token may not read is left out entirely.
      edges: edges.flatMap((e) => {
        const [from, to] = [scope.identifierKey(target, e.from), scope.identifierKey(target, e.to)]
        return from === null || to === null ? [] : [{ ...e, from, to, eventTime: iso(e.eventTime) }]
      }),
      merges: merges.map((m) => ({ ...m, eventTime: iso(m.eventTime) })),
      rejected: rejected.flatMap((r) => {
        const key = scope.identifierKey(target, r.key)
        return key === null ? [] : [{ ...r, key, eventTime: iso(r.eventTime) }]
      }),
    }
  }))

  app.get('/v1/stats', {
    schema: {
      summary: 'Counts of profiles, identifiers, timeline events and merges',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      headers: purposeHeaderSchema,
      querystring: { type: 'object', additionalProperties: false },
      response: {
        200: { type: 'object', properties: { profiles: { type: 'integer' }, identifiers: { type: 'integer' }, events: { type: 'integer' }, merges: { type: 'integer' } } },
        ...errors,
      },
    },
  }, (request, reply) => read(request, reply, async (scope) => {
    scope.requireSystem('readStats', 'stats')
    return reader.stats()
  }))
}
