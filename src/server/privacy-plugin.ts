/**
 * @module The privacy API (admin tokens): `GET /v1/stats/count`, a differentially private count of the profiles
 * matching a filter, spending ε from the token's budget. Every call states a purpose, goes through the access
 * policies (stats access, and clear access to every field the filter names) and is written to the audit log
 * with the ε spent and the fields read (never the filter's values), also when it is refused.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { isTesseraError } from '../core/errors.js'
import type { JsonObject } from '../core/event.js'
import type { AccessControl, AccessScope } from '../governance/access-control.js'
import type { AuditLog } from '../governance/audit-log.js'
import type { PrivateCounter } from '../governance/dp/private-count.js'
import type { AdminPrincipal } from './admin-auth.js'
import { PURPOSE_HEADER, purposeHeaderSchema } from './admin-plugin.js'
import { errorBodySchema } from './error-handler.js'

export interface PrivacyPluginOptions {
  readonly authenticate: (header: string | undefined) => AdminPrincipal
  readonly access: AccessControl
  readonly audit: AuditLog
  readonly counter: PrivateCounter
}

const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema }

/** Like the admin reads' audit wrapper, with a `detail` the work fills in (ε, fields, request ids). */
export async function auditedAction<T>(
  access: AccessControl, audit: AuditLog, request: FastifyRequest, reply: FastifyReply, kind: string,
  work: (scope: AccessScope, detail: JsonObject) => Promise<T>,
): Promise<T> {
  const principal = request.admin!
  const action = `${request.method} ${request.routeOptions.url ?? request.url}`
  const actor = { type: 'token' as const, id: principal.name, roles: [...principal.roles] }
  const header = request.headers[PURPOSE_HEADER]
  let scope: AccessScope
  try {
    scope = access.scope(principal, Array.isArray(header) ? header[0] : header)
  } catch (error) {
    await audit.record({ kind, actor, action, decision: 'deny', reason: (error as Error).message.slice(0, 300) })
    throw error
  }
  const base = { kind, actor, action, purpose: scope.purpose, legalBasis: scope.legalBasis }
  const detail: JsonObject = {}
  try {
    const result = await work(scope, detail)
    const seq = await audit.record({ ...base, subjects: scope.subjects, decision: scope.outcome(), fields: scope.fields(), policyIds: scope.policyIds, detail })
    void reply.header('x-tessera-audit-seq', String(seq))
    return result
  } catch (error) {
    const denied = isTesseraError(error) && error.code === 'TESSERA_FORBIDDEN'
    const seq = await audit.record({
      ...base, subjects: scope.subjects, decision: denied ? 'deny' : 'error', fields: scope.fields(), policyIds: scope.policyIds, detail,
      reason: (error as Error).message.slice(0, 300),
    })
    void reply.header('x-tessera-audit-seq', String(seq))
    throw error
  }
}

const budgetSchema = {
  type: 'object',
  properties: {
    total: { type: 'number' }, spent: { type: 'number' }, remaining: { type: 'number' },
    periodStart: { type: 'string', format: 'date-time' }, periodEnd: { type: 'string', format: 'date-time' },
  },
} as const

export const privacyPlugin: FastifyPluginAsync<PrivacyPluginOptions> = async (app, opts) => {
  const { access, audit, counter } = opts
  app.addHook('onRequest', async (request) => {
    request.admin = opts.authenticate(request.headers.authorization)
  })

  app.get<{ Querystring: { filter?: string; epsilon: string } }>('/v1/stats/count', {
    schema: {
      summary: 'A differentially private count of profiles matching a filter',
      description: 'Counts surviving profiles that match `filter` (e.g. `traits.plan = "pro" and events["Order Completed"] > 0`; grammar in docs/privacy.md) ' +
        'and adds discrete Laplace noise of scale 1/ε (each person counts once: sensitivity 1). ε is spent from the token\'s budget for the period ' +
        '(governance.dp); an invalid ε (<= 0, not a number, above governance.dp.maxEpsilon) answers 400, an exhausted budget 403. Needs stats access for the ' +
        'stated purpose and clear read access to the category of every field the filter names. Audited with ε and the fields read.',
      tags: ['privacy'],
      security: [{ adminToken: [] }],
      headers: purposeHeaderSchema,
      querystring: {
        type: 'object',
        required: ['epsilon'],
        additionalProperties: false,
        properties: {
          filter: { type: 'string', maxLength: 1000, default: '' },
          epsilon: { type: 'string', maxLength: 20, description: 'the privacy loss this count spends, e.g. 0.1' },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            count: { type: 'integer' }, epsilon: { type: 'number' }, mechanism: { type: 'string' }, sensitivity: { type: 'integer' },
            fields: { type: 'array', items: { type: 'string' } }, budget: budgetSchema,
          },
        },
        ...errors,
      },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'stats.count', async (scope, detail) => {
    detail.epsilon = request.query.epsilon.slice(0, 20)
    const result = await counter.count(scope, request.query.filter ?? '', request.query.epsilon)
    detail.fields = [...result.fields]
    detail.budgetRemaining = result.budget.remaining
    return result
  }))
}
