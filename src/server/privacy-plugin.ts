/**
 * @module The privacy API (admin tokens): `GET /v1/stats/count`, a differentially private count of the profiles
 * matching a filter, spending ε from the token's budget; and data-subject requests (`/v1/privacy/requests`:
 * create, status with the legal deadline, list, verification of the requester by one-time code or a privacy
 * officer's attestation, run), which only privacy officers and admins may handle (Cedar actions
 * `handlePrivacyRequest`, and `attestPrivacyRequester` for privacy officers only). Every call states a purpose, goes through the access policies and is
 * written to the audit log, also when it is refused; counts log the ε spent and the fields read, never values.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { isTesseraError } from '../core/errors.js'
import type { JsonObject } from '../core/event.js'
import type { AccessControl, AccessScope } from '../governance/access-control.js'
import type { AuditLog } from '../governance/audit-log.js'
import type { PrivateCounter } from '../governance/dp/private-count.js'
import type { DsarService } from '../governance/dsar/dsar-service.js'
import type { DsarRecord } from '../governance/privacy-store.js'
import type { Clock } from '../core/clock.js'
import type { AdminPrincipal } from './admin-auth.js'
import { PURPOSE_HEADER, purposeHeaderSchema } from './admin-plugin.js'
import { errorBodySchema } from './error-handler.js'

export interface PrivacyPluginOptions {
  readonly authenticate: (header: string | undefined) => AdminPrincipal
  readonly access: AccessControl
  readonly audit: AuditLog
  readonly counter: PrivateCounter
  readonly dsar?: DsarService
  readonly clock: Clock
}

const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema }

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
            consentPurposes: { type: 'array', items: { type: 'string' }, description: 'consent purposes the stated purpose needs: people refusing them are not counted' },
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

  const dsar = opts.dsar
  if (!dsar) return
  const requestSchema = {
    type: 'object',
    properties: {
      id: { type: 'string' }, type: { type: 'string' }, identifier: { type: 'string' }, jurisdiction: { type: 'string' }, regime: { type: 'string' },
      status: { type: 'string' }, receivedAt: { type: 'string', format: 'date-time' }, dueAt: { type: 'string', format: 'date-time' },
      basis: { type: 'string' }, overdue: { type: 'boolean' }, daysLeft: { type: 'integer' }, requestedBy: { type: 'string' },
      completedAt: { type: ['string', 'null'] }, result: { type: ['object', 'null'], additionalProperties: true },
      verification: {
        type: 'object',
        description: 'Whether the requester is verified: pending, code_sent, locked (too many wrong codes), verified, or not_required (opt-outs)',
        properties: {
          status: { type: 'string', enum: ['pending', 'code_sent', 'locked', 'verified', 'not_required'] }, method: { type: ['string', 'null'] },
          verifiedAt: { type: ['string', 'null'] }, verifiedBy: { type: ['string', 'null'] }, codeExpiresAt: { type: ['string', 'null'] },
          attemptsLeft: { type: ['integer', 'null'] }, codesLeft: { type: 'integer' }, channel: { type: ['string', 'null'] },
        },
      },
      acknowledgeBy: { type: ['string', 'null'], description: 'CCPA (access, erasure, correct): confirm receipt by then (10 business days); null when the law sets no such step' },
      acknowledgement: {
        type: ['object', 'null'], description: 'When and how receipt was confirmed to the person; late when after acknowledgeBy',
        properties: { at: { type: 'string', format: 'date-time' }, via: { type: 'string' }, late: { type: 'boolean' } },
      },
      acknowledgementOverdue: { type: 'boolean', description: 'acknowledgeBy has passed without an acknowledgement' },
      extension: {
        type: ['object', 'null'], description: 'The one extension of the deadline (dueAt is the extended one): when, the first deadline, the legal basis, the reason told to the person, how',
        properties: {
          at: { type: 'string', format: 'date-time' }, firstDueAt: { type: 'string', format: 'date-time' }, basis: { type: 'string' }, reason: { type: 'string' },
          via: { type: 'string' },
        },
      },
    },
  } as const
  const view = async (r: DsarRecord): Promise<JsonObject> => {
    const now = opts.clock.now()
    return {
      verification: { ...(await dsar.verificationOf(r)) },
      id: r.id, type: r.type, identifier: r.identifier, jurisdiction: r.jurisdiction, regime: r.regime, status: r.status,
      receivedAt: new Date(r.receivedAt).toISOString(), dueAt: new Date(r.dueAt).toISOString(), basis: r.basis,
      overdue: r.status !== 'completed' && now > r.dueAt, daysLeft: Math.ceil((r.dueAt - now) / 86_400_000), requestedBy: r.requestedBy,
      completedAt: r.completedAt === null ? null : new Date(r.completedAt).toISOString(), result: r.result,
      acknowledgeBy: r.acknowledgeBy === null ? null : new Date(r.acknowledgeBy).toISOString(),
      acknowledgement: r.acknowledgement === null ? null
        : { at: new Date(r.acknowledgement.at).toISOString(), via: r.acknowledgement.via, late: r.acknowledgeBy !== null && r.acknowledgement.at > r.acknowledgeBy },
      acknowledgementOverdue: r.acknowledgement === null && r.acknowledgeBy !== null && r.status !== 'completed' && now > r.acknowledgeBy,
      extension: r.extension === null ? null : {
        at: new Date(r.extension.at).toISOString(), firstDueAt: new Date(r.extension.firstDueAt).toISOString(), basis: r.extension.basis,
        reason: r.extension.reason, via: r.extension.via,
      },
    }
  }
  const actorOf = (request: FastifyRequest): { type: 'token'; id: string; roles: string[] } =>
    ({ type: 'token', id: request.admin!.name, roles: [...request.admin!.roles] })
  const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } } } as const
  const handle = (scope: AccessScope): void => scope.requireSystem('handlePrivacyRequest', 'privacy_requests')

  app.post<{ Body: { type: string; identifier: string; jurisdiction: string; traits?: JsonObject } }>('/v1/privacy/requests', {
    schema: {
      summary: 'Record a data-subject request (access, erasure, opt_out, correct) and compute its legal deadline',
      description: 'GDPR: one month; CCPA: 45 days; CCPA opt-out of sale/sharing: 15 business days (from receipt). Run it with POST /v1/privacy/requests/{id}/run. ' +
        'Privacy officers (purpose privacy_request) and admins only.',
      tags: ['privacy'], security: [{ adminToken: [] }], headers: purposeHeaderSchema,
      body: {
        type: 'object', required: ['type', 'identifier', 'jurisdiction'], additionalProperties: false,
        properties: {
          type: { type: 'string', enum: ['access', 'erasure', 'opt_out', 'correct'] },
          identifier: { type: 'string', pattern: '^[a-z][a-z0-9_]*:.+$', maxLength: 500, description: 'type:value, e.g. email:ann@example.com' },
          jurisdiction: { type: 'string', maxLength: 10, description: 'EU, EEA, UK (GDPR) or US-CA (CCPA)' },
          traits: { type: 'object', additionalProperties: true, description: 'the corrected traits (correct only)' },
        },
      },
      response: { 200: requestSchema, ...errors },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'dsar.request', async (scope, detail) => {
    handle(scope)
    const r = await dsar.create(request.body, actorOf(request))
    detail.requestId = r.id
    return await view(r)
  }))

  app.get<{ Querystring: { limit: number } }>('/v1/privacy/requests', {
    schema: {
      summary: 'Data-subject requests, newest first, with status and deadline', tags: ['privacy'], security: [{ adminToken: [] }], headers: purposeHeaderSchema,
      querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } },
      response: { 200: { type: 'object', properties: { requests: { type: 'array', items: requestSchema } } }, ...errors },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'dsar.list', async (scope) => {
    handle(scope)
    return { requests: await Promise.all((await dsar.list(request.query.limit)).map(view)) }
  }))

  app.get<{ Params: { id: string } }>('/v1/privacy/requests/:id', {
    schema: {
      summary: 'Status and legal deadline of a data-subject request', tags: ['privacy'], security: [{ adminToken: [] }], headers: purposeHeaderSchema,
      params: idParam, response: { 200: requestSchema, ...errors },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'dsar.status', async (scope, detail) => {
    handle(scope)
    detail.requestId = request.params.id
    return await view(await dsar.get(request.params.id))
  }))

  app.post<{ Params: { id: string } }>('/v1/privacy/requests/:id/run', {
    schema: {
      summary: 'Carry out a data-subject request',
      description: 'Refused (403) until the requester is verified (POST .../verification/code and .../confirm, or .../attest), except opt_out, which ' +
        'needs no verification. access answers the complete export (profile, identities, links, merges, events, consent records, audit entries of reads of ' +
        'this person). erasure suppresses the identifiers (the pipeline drops new and replayed events carrying them), appends consent tombstones, ' +
        'and deletes the person from every state table; the event log keeps the raw events (see `notice`). opt_out refuses sale_share and ' +
        'advertising in the consent ledger; correct sends the corrected traits as an identify through the pipeline.',
      tags: ['privacy'], security: [{ adminToken: [] }], headers: purposeHeaderSchema, params: idParam,
      response: {
        200: { type: 'object', properties: { request: requestSchema, export: { type: 'object', additionalProperties: true }, notice: { type: 'string' } } },
        ...errors,
      },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'dsar.run', async (scope, detail) => {
    handle(scope)
    detail.requestId = request.params.id
    const out = await dsar.run(request.params.id, actorOf(request))
    return { request: await view(out.request), ...(out.export ? { export: out.export } : {}), ...(out.notice ? { notice: out.notice } : {}) }
  }))

  const viaSchema = {
    type: 'string', minLength: 1, maxLength: 300,
    description: 'How you told the person yourself (e.g. "e-mail from privacy@example.com"); leave out to have Tessera send the notice through the verification webhook',
  } as const

  app.post<{ Params: { id: string }; Body: { via?: string } }>('/v1/privacy/requests/:id/acknowledge', {
    schema: {
      summary: 'Confirm to the person that their request was received',
      description: 'The CCPA wants requests to know, delete or correct acknowledged within 10 business days (acknowledgeBy). Without `via`, Tessera sends ' +
        'a signed tessera.dsar.acknowledgement notice (with the deadline) through the verification webhook (409 when none is configured, 502 when it fails); ' +
        'with `via`, it records how you did it. Once per request (409 after); a late one is recorded as late. Audited.',
      tags: ['privacy'], security: [{ adminToken: [] }], headers: purposeHeaderSchema, params: idParam,
      body: { type: 'object', additionalProperties: false, properties: { via: viaSchema } },
      response: { 200: requestSchema, ...errors, 502: errorBodySchema },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'dsar.acknowledge', async (scope, detail) => {
    handle(scope)
    detail.requestId = request.params.id
    return await view(await dsar.acknowledge(request.params.id, request.body ?? {}, actorOf(request)))
  }))

  app.post<{ Params: { id: string }; Body: { reason: string; via?: string } }>('/v1/privacy/requests/:id/extend', {
    schema: {
      summary: 'Extend the deadline once, telling the person why',
      description: 'GDPR: by two further months; CCPA: by 45 days (90 in all). Only before the first deadline passes, once, and never for a CCPA opt-out ' +
        '(409). The reason (10-1000 characters) is told to the person: without `via` Tessera sends a signed tessera.dsar.extension notice with the new ' +
        'deadline and the reason through the verification webhook; with `via`, it records how you told them. The reason is kept with the request ' +
        '(blanked if the person is erased); the audit entry holds its SHA-256.',
      tags: ['privacy'], security: [{ adminToken: [] }], headers: purposeHeaderSchema, params: idParam,
      body: {
        type: 'object', required: ['reason'], additionalProperties: false,
        properties: { reason: { type: 'string', maxLength: 1000 }, via: viaSchema },
      },
      response: { 200: requestSchema, ...errors, 502: errorBodySchema },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'dsar.extend', async (scope, detail) => {
    handle(scope)
    detail.requestId = request.params.id
    return await view(await dsar.extend(request.params.id, request.body, actorOf(request)))
  }))

  app.post<{ Params: { id: string } }>('/v1/privacy/requests/:id/verification/code', {
    schema: {
      summary: 'Send the requester a one-time code',
      description: 'Generates an 8-digit code, valid for governance.dsar.verification.codeTtlMinutes, and delivers it through the configured channel ' +
        '(an HMAC-signed webhook) to the identifier the request names. At most maxCodes codes per request; 409 without a channel (attest instead), ' +
        '502 when the channel fails (the code is withdrawn). Privacy officers (purpose privacy_request) and admins; audited, never the code.',
      tags: ['privacy'], security: [{ adminToken: [] }], headers: purposeHeaderSchema, params: idParam, response: { 200: requestSchema, ...errors, 502: errorBodySchema },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'dsar.verify', async (scope, detail) => {
    handle(scope)
    detail.requestId = request.params.id
    detail.step = 'send_code'
    return await view(await dsar.sendVerificationCode(request.params.id, actorOf(request)))
  }))

  app.post<{ Params: { id: string }; Body: { code: string } }>('/v1/privacy/requests/:id/verification/confirm', {
    schema: {
      summary: 'Check the one-time code the requester gave back',
      description: 'Verifies the requester when the code matches and has not expired. Each try counts; after maxAttempts wrong tries the code is ' +
        'locked (send a new one, or attest). 403 for a wrong or expired code (with the attempts left), 409 when no code is out. Audited.',
      tags: ['privacy'], security: [{ adminToken: [] }], headers: purposeHeaderSchema, params: idParam,
      body: { type: 'object', required: ['code'], additionalProperties: false, properties: { code: { type: 'string', maxLength: 20 } } },
      response: { 200: requestSchema, ...errors },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'dsar.verify', async (scope, detail) => {
    handle(scope)
    detail.requestId = request.params.id
    detail.step = 'confirm_code'
    return await view(await dsar.confirmVerificationCode(request.params.id, request.body.code, actorOf(request)))
  }))

  app.post<{ Params: { id: string }; Body: { basis: string; evidence: string } }>('/v1/privacy/requests/:id/verification/attest', {
    schema: {
      summary: 'Attest that the requester was verified by other means',
      description: 'A privacy officer records how the person was verified (basis: account, documents, callback, in_person, other) and what was ' +
        'checked (evidence, 10-2000 characters; kept with the request and blanked if the person is erased; the audit entry holds its SHA-256). ' +
        'Cedar action attestPrivacyRequester: privacy officers only, purpose privacy_request (a guardrail refuses every other role).',
      tags: ['privacy'], security: [{ adminToken: [] }], headers: purposeHeaderSchema, params: idParam,
      body: {
        type: 'object', required: ['basis', 'evidence'], additionalProperties: false,
        properties: { basis: { type: 'string', enum: ['account', 'documents', 'callback', 'in_person', 'other'] }, evidence: { type: 'string', maxLength: 2000 } },
      },
      response: { 200: requestSchema, ...errors },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'dsar.verify', async (scope, detail) => {
    scope.requireSystem('attestPrivacyRequester', 'privacy_requests')
    detail.requestId = request.params.id
    detail.step = 'attest'
    return await view(await dsar.attestRequester(request.params.id, request.body, actorOf(request)))
  }))
}
