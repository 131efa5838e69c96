/**
 * @module Admin API (profiles read side), an encapsulated Fastify plugin behind bearer-token auth.
 * After a merge, a lookup by any identifier returns the surviving profile, and the old id answers with a
 * pointer to it (`status: merged`), or the surviving profile itself with `?follow=true`.
 */
import type { FastifyPluginAsync } from 'fastify'
import { TesseraError } from '../core/errors.js'
import type { ProfileReader } from '../profiles/profile-reader.js'
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

  app.get<{ Params: { id: string }; Querystring: { limit: number; before?: string } }>('/v1/profiles/:id/events', {
    schema: {
      summary: 'The event timeline of a profile, newest first',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      params: idParam,
      querystring: {
        type: 'object',
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          before: { type: 'string', format: 'date-time', description: 'Only events older than this (use `next` of the previous page)' },
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
    const before = request.query.before === undefined ? undefined : Date.parse(request.query.before)
    const page = await reader.events(id, { limit: request.query.limit, ...(before === undefined ? {} : { before }) })
    return {
      profileId: id,
      events: page.events.map((e) => ({ ...e, timestamp: iso(e.timestamp) })),
      next: page.nextBefore === null ? null : iso(page.nextBefore),
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
            identities: { type: 'array', items: { type: 'object', additionalProperties: true } },
            edges: { type: 'array', items: { type: 'object', additionalProperties: true } },
            merges: { type: 'array', items: { type: 'object', additionalProperties: true } },
            rejected: { type: 'array', items: { type: 'object', additionalProperties: true } },
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
