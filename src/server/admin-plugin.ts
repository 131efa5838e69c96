/**
 * @module Admin API (profiles read side), an encapsulated Fastify plugin behind bearer-token auth.
 * After a merge, a lookup by any identifier returns the surviving profile, and the old id answers with a
 * pointer to it (`status: merged`), or the surviving profile itself with `?follow=true`.
 */
import type { FastifyPluginAsync } from 'fastify'
import { TesseraError, ValidationError } from '../core/errors.js'
import type { ProfileReader, TimelineCursor } from '../profiles/profile-reader.js'
import { errorBodySchema } from './error-handler.js'
import { iso, profileSchema, profileView } from './profile-views.js'
import type { AdminPrincipal } from './admin-auth.js'

export interface AdminPluginOptions {
  readonly reader: ProfileReader
  readonly authenticate: (header: string | undefined) => AdminPrincipal
  /** Normalises an identifier value as the pipeline does (e-mail lower case, phone E.164). */
  readonly normalize: (type: string, value: string) => string | null
}

declare module 'fastify' {
  interface FastifyRequest {
    admin?: AdminPrincipal
  }
}

const errors = { 400: errorBodySchema, 401: errorBodySchema, 404: errorBodySchema }
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

export const adminPlugin: FastifyPluginAsync<AdminPluginOptions> = async (app, { reader, authenticate, normalize }) => {
  app.addHook('onRequest', async (request) => {
    request.admin = authenticate(request.headers.authorization)
  })

  /** The surviving profile for an id, or throws 404. */
  async function canonical(id: string): Promise<string> {
    const found = await reader.canonicalId(id)
    if (found === null) throw notFound(`profile ${id}`)
    return found
  }

  async function view(id: string): Promise<Record<string, unknown>> {
    const profile = await reader.profile(id)
    if (!profile) throw notFound(`profile ${id}`)
    return profileView(profile, await reader.identities(id))
  }

  app.get<{ Querystring: { identifier: string } }>('/v1/profiles', {
    schema: {
      summary: 'Find the profile that holds an identifier',
      description: 'identifier is `type:value`, e.g. `email:ann@example.com` or `user_id:u-42`. Values are normalised as at ingest (e-mail lower-cased, phone E.164).',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      querystring: {
        type: 'object',
        properties: { identifier: { type: 'string', pattern: '^[a-z][a-z0-9_]*:.+$', description: 'type:value' } },
        required: ['identifier'],
      },
      response: { 200: profileSchema, ...errors },
    },
  }, async (request) => {
    const raw = request.query.identifier
    const at = raw.indexOf(':')
    const type = raw.slice(0, at)
    const value = normalize(type, raw.slice(at + 1))
    const id = value === null ? null : await reader.profileIdByIdentifier(type, value)
    if (id === null) throw notFound(`no profile holds identifier ${type}:…`)
    return view(await canonical(id))
  })

  app.get<{ Params: { id: string }; Querystring: { follow?: boolean } }>('/v1/profiles/:id', {
    schema: {
      summary: 'Get a profile by id',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      params: idParam,
      querystring: { type: 'object', properties: { follow: { type: 'boolean', default: false } } },
      response: { 200: profileSchema, ...errors },
    },
  }, async (request) => {
    const { id } = request.params
    const target = await canonical(id)
    if (target !== id && !request.query.follow) {
      return { id, status: 'merged', mergedInto: target, href: `/v1/profiles/${encodeURIComponent(target)}` }
    }
    return view(target)
  })

  app.get<{ Params: { id: string }; Querystring: { limit: number; cursor?: string } }>('/v1/profiles/:id/events', {
    schema: {
      summary: 'The event timeline of a profile, newest first',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      params: idParam,
      querystring: {
        type: 'object',
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          cursor: { type: 'string', description: 'Continue after this position: the `next` value of the previous page' },
        },
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
  }, async (request) => {
    const id = await canonical(request.params.id)
    const after = request.query.cursor === undefined ? undefined : decodeCursor(request.query.cursor)
    const page = await reader.events(id, { limit: request.query.limit, ...(after ? { after } : {}) })
    return {
      profileId: id,
      events: page.events.map((e) => ({ ...e, timestamp: iso(e.timestamp) })),
      next: page.next === null ? null : encodeCursor(page.next),
    }
  })

  app.get<{ Params: { id: string } }>('/v1/profiles/:id/identities', {
    schema: {
      summary: 'Identifiers of a profile, with the links (edges), merges and refused identifiers behind them',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      params: idParam,
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
  }, async (request) => {
    const id = await canonical(request.params.id)
    const [identities, edges, merges, rejected] = await Promise.all([
      reader.identities(id), reader.edges(id), reader.merges(id), reader.rejections(id),
    ])
    return {
      profileId: id,
      identities: identities.map((i) => ({ type: i.type, value: i.value, firstSeen: iso(i.firstSeen) })),
      edges: edges.map((e) => ({ ...e, eventTime: iso(e.eventTime) })),
      merges: merges.map((m) => ({ ...m, eventTime: iso(m.eventTime) })),
      rejected: rejected.map((r) => ({ ...r, eventTime: iso(r.eventTime) })),
    }
  })

  app.get('/v1/stats', {
    schema: {
      summary: 'Counts of profiles, identifiers, timeline events and merges',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      response: {
        200: { type: 'object', properties: { profiles: { type: 'integer' }, identifiers: { type: 'integer' }, events: { type: 'integer' }, merges: { type: 'integer' } } },
        ...errors,
      },
    },
  }, async () => reader.stats())
}
