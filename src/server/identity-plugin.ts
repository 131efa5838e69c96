/**
 * @module Identity admin API: unmerge a profile (`POST /v1/profiles/{id}/unmerge`, Cedar action `unmergeProfile`,
 * admin and privacy_officer by default, audited) and the quarantined supernode identifiers
 * (`GET /v1/identity/quarantine`, needs `readAudit`). It writes through its own state backend connection, opened
 * on first use: on SQLite a `BEGIN IMMEDIATE` transaction that pipeline batches wait for, on PostgreSQL the
 * identity advisory locks (see src/identity/unmerge.ts). Quarantines made by the pipeline are reported here, in the
 * API process: a warn log line for each new one and the gauge `tessera_identity_quarantined_identifiers`, checked
 * every 30 s, on every scrape of /metrics and on every read of the list. The real-time matcher's review queue:
 * `GET /v1/identity/review` (both profiles' traits, masked by the access policy; Cedar `readMatchReview`) and
 * `POST /v1/identity/review/{seq}/accept|reject|reopen` (Cedar `decideMatchReview`: admin, privacy_officer), audited.
 * With partitioned profile updates, unmerge and accept change the identity graph at once and queue notices for the
 * profile owners, who rebuild the profile rows in order with their partitions (the answer says `rebuild: queued`).
 */
import { revealKeys } from '../profiles/revealing-profile-reader.js'
import type { FastifyPluginAsync } from 'fastify'
import type { Logger } from 'pino'
import { Gauge } from 'prom-client'
import { TesseraError, ValidationError } from '../core/errors.js'
import type { AccessControl } from '../governance/access-control.js'
import type { AuditLog } from '../governance/audit-log.js'
import type { PolicyEngine } from '../governance/policy-engine.js'
import type { IdentityRules } from '../identity/identity-rules.js'
import { splitIdentifierKey, type IdentifierKey } from '../identity/identity-store.js'
import { unmergeProfile, type UnmergeOutcome, type UnmergeTarget } from '../identity/unmerge.js'
import { decideReviewItem, type ReviewOutcome } from '../identity/review.js'
import { REVIEW_STATUSES, type ReviewStatus } from '../identity/identity-store.js'
import type { JsonObject } from '../core/event.js'
import type { ProfileReader } from '../profiles/profile-reader.js'
import type { StateBackend } from '../storage/state-backend.js'
import type { AdminPrincipal } from './admin-auth.js'
import { auditedRead, purposeHeaderSchema, PURPOSE_HEADER } from './admin-plugin.js'
import { errorBodySchema } from './error-handler.js'
import type { Metrics } from './metrics.js'

export interface IdentityPluginOptions {
  readonly reader: ProfileReader
  readonly authenticate: (header: string | undefined) => AdminPrincipal
  readonly normalize: (type: string, value: string) => string | null
  readonly access: AccessControl
  readonly engine: PolicyEngine
  readonly audit: AuditLog
  readonly rules: IdentityRules
  /** Opens the state backend the plugin writes through (once, on first use; closed with the app). */
  readonly openState: () => Promise<StateBackend>
  /** Where profile rows are written: by the identity transaction (inline) or by the partition owners (partitioned). */
  readonly profileUpdates: 'inline' | 'partitioned'
  readonly metrics: Metrics
  readonly logger: Logger
  /** How often new quarantines are looked for (ms); default 30 s. */
  readonly reportEveryMs?: number
}

const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema }
const keyPattern = '^[a-z][a-z0-9_]*:.+$'

interface UnmergeBody {
  identifier?: string
  edge?: { from: string; to: string }
  reason?: string
}

export const identityPlugin: FastifyPluginAsync<IdentityPluginOptions> = async (app, options) => {
  const { reader, authenticate, normalize, access, engine, audit, rules, logger } = options
  let opened: Promise<StateBackend> | undefined
  const state = (): Promise<StateBackend> => (opened ??= options.openState())

  // Reporting of quarantines: a warn line per new one, and the gauge.
  let lastSeq = 0
  let total = 0
  let reporting: Promise<void> | undefined
  const report = (): Promise<void> => (reporting ??= (async () => {
    try {
      const fresh = await (await state()).transaction((tx) => tx.identity.quarantineList({ limit: 10_000, afterSeq: lastSeq }))
      for (const q of [...fresh].reverse()) {
        logger.warn({ identifierType: splitIdentifierKey(q.key).type, profiles: q.profiles, threshold: q.threshold, windowMs: q.windowMs, messageId: q.messageId, cause: q.cause },
          'identifier quarantined: it linked too many profiles and no longer links (GET /v1/identity/quarantine)')
        lastSeq = Math.max(lastSeq, q.seq)
      }
      total += fresh.length
    } finally {
      reporting = undefined
    }
  })())
  const gaugeName = 'tessera_identity_quarantined_identifiers'
  new Gauge({
    name: gaugeName,
    help: 'Identifier values quarantined by the supernode guard (they linked more profiles than their type allows)',
    registers: [options.metrics.registry],
    async collect() {
      await report().catch((e: unknown) => logger.error({ err: { message: (e as Error).message } }, 'could not read quarantined identifiers'))
      this.set(total)
    },
  })
  const timer = setInterval(() => {
    report().catch((e: unknown) => logger.error({ err: { message: (e as Error).message } }, 'could not read quarantined identifiers'))
  }, options.reportEveryMs ?? 30_000)
  timer.unref()
  app.addHook('onClose', async () => {
    clearInterval(timer)
    options.metrics.registry.removeSingleMetric(gaugeName)
    if (opened) await (await opened).close()
  })

  app.addHook('onRequest', async (request) => {
    request.admin = authenticate(request.headers.authorization)
  })

  /**
   * A `type:value` key as the pipeline stores it (value normalised, then pseudonymised in a pseudonymous state), or a
   * 400 saying what is wrong. `named` (when given) remembers stored → normalised clear key, for messages back.
   */
  function keyOf(raw: string, field: string, named?: Map<IdentifierKey, IdentifierKey>): IdentifierKey {
    const { type, value } = splitIdentifierKey(raw)
    if (!rules.byName(type)) {
      throw new ValidationError(field, `${JSON.stringify(type)} is not a configured identifier type (one of: ${rules.types.map((t) => t.name).join(', ')})`)
    }
    const normalized = normalize(type, value)
    if (normalized === null) throw new ValidationError(field, `${JSON.stringify(raw)} is not a valid ${type}`)
    const stored = rules.codec.storedKey(type, normalized)
    named?.set(stored, `${type}:${normalized}`)
    return stored
  }

  app.post<{ Params: { id: string }; Body: UnmergeBody }>('/v1/profiles/:id/unmerge', {
    schema: {
      summary: 'Split a profile: detach an identifier, or remove a link (edge), and rebuild each part from its own events',
      description: 'Give exactly one of `identifier` (`type:value`: it is detached into a profile of its own and never links this ' +
        'profile\'s identifiers again) or `edge` (`{from, to}` as listed by GET /v1/profiles/{id}/identities: refused with 409 if ' +
        'other links still connect the two sides). The component is recomputed from the edge log; each part gets its identifiers, ' +
        'and its traits and counters are rebuilt from its timeline events. `complete: false` means the timeline had been trimmed ' +
        '(pipeline.timelineLimit): `unattributedEvents` older events stay counted on the part that keeps the id. With profiles ' +
        'updated by partition (pipeline.profileUpdates partitioned) the identity graph is split at once (lookups by identifier ' +
        'answer with the new parts) and the parts are rebuilt by the profile owners moments later: `rebuild` is `queued` and ' +
        '`eventCount`, `complete` and `unattributedEvents` are null. Needs the unmergeProfile permission (admin, privacy_officer) ' +
        'and a purpose; audited.',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] },
      headers: purposeHeaderSchema,
      body: {
        type: 'object',
        properties: {
          identifier: { type: 'string', pattern: keyPattern, maxLength: 1000, description: 'type:value, e.g. email:ann@example.com' },
          edge: {
            type: 'object',
            properties: { from: { type: 'string', pattern: keyPattern, maxLength: 1000 }, to: { type: 'string', pattern: keyPattern, maxLength: 1000 } },
            required: ['from', 'to'],
            additionalProperties: false,
          },
          reason: { type: 'string', maxLength: 500, description: 'Why (recorded with the unmerge and in the audit log)' },
        },
        additionalProperties: false,
      },
      response: {
        200: {
          type: 'object',
          properties: {
            profileId: { type: 'string' },
            unmergeSeq: { type: 'integer' },
            rebuild: { type: 'string', enum: ['done', 'queued'], description: 'queued: the profile owners rebuild the parts (partitioned profile updates)' },
            complete: { type: ['boolean', 'null'] },
            unattributedEvents: { type: ['integer', 'null'] },
            profiles: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  profileId: { type: 'string' }, kept: { type: 'boolean' }, eventCount: { type: ['integer', 'null'] },
                  identifiers: { type: 'array', items: { type: 'string' } },
                },
              },
            },
          },
        },
        ...errors,
      },
    },
  }, async (request, reply) => {
    const principal = request.admin!
    const actor = { type: 'token' as const, id: principal.name, roles: [...principal.roles] }
    const action = 'POST /v1/profiles/:id/unmerge'
    const body = request.body ?? {}
    if ((body.identifier === undefined) === (body.edge === undefined)) {
      throw new ValidationError('.body', 'give exactly one of "identifier" (type:value) or "edge" ({"from": type:value, "to": type:value})')
    }
    const named = new Map<IdentifierKey, IdentifierKey>()
    const target: UnmergeTarget = body.identifier !== undefined
      ? { identifier: keyOf(body.identifier, '.body.identifier', named) }
      : { edge: { from: keyOf(body.edge!.from, '.body.edge.from', named), to: keyOf(body.edge!.to, '.body.edge.to', named) } }
    const header = request.headers[PURPOSE_HEADER]
    const scope = access.scope(principal, Array.isArray(header) ? header[0] : header)
    const base = { kind: 'identity.unmerge', actor, action, purpose: scope.purpose, legalBasis: scope.legalBasis }
    const targetType = 'identifier' in target ? splitIdentifierKey(target.identifier).type : 'edge'
    const profileId = (await reader.canonicalId(request.params.id)) ?? request.params.id
    const profile = await reader.profile(profileId)
    if (!profile) throw new TesseraError('TESSERA_NOT_FOUND', `profile ${request.params.id} not found`)
    const resource = scope.target(profileId, profile.traits)
    const decision = engine.authorize(principal, 'unmergeProfile', { type: 'Profile', id: profileId, region: resource.region },
      { purpose: scope.purpose, legalBasis: scope.legalBasis })
    if (!decision.allow) {
      const seq = await audit.record({ ...base, subjects: [profileId], decision: 'deny', policyIds: decision.policyIds, reason: 'no policy permits unmergeProfile' })
      void reply.header('x-tessera-audit-seq', String(seq))
      throw new TesseraError('TESSERA_FORBIDDEN', `unmerging needs the unmergeProfile permission (roles admin or privacy_officer by default) for purpose ${scope.purpose}`)
    }
    let outcome: UnmergeOutcome
    try {
      outcome = await (await state()).transaction((tx) => unmergeProfile(tx, rules, {
        profileId, target, principal: `token:${principal.name}`, reason: body.reason ?? '', now: Date.now(),
      }, { profileUpdates: options.profileUpdates }))
    } catch (error) {
      const seq = await audit.record({ ...base, subjects: [profileId], decision: 'error', policyIds: decision.policyIds, reason: (error as Error).message.slice(0, 300), detail: { targetType } })
      void reply.header('x-tessera-audit-seq', String(seq))
      throw inClear(error, named)
    }
    // The audit entry names the profiles and the kind of identifier, never identifier values (the log is permanent).
    const seq = await audit.record({
      ...base, subjects: outcome.profiles.map((p) => p.profileId), decision: 'ok', policyIds: decision.policyIds,
      ...(body.reason ? { reason: body.reason.slice(0, 300) } : {}),
      detail: {
        targetType, unmergeSeq: outcome.seq, profiles: outcome.profiles.map((p) => p.profileId), rebuild: outcome.rebuild,
        complete: outcome.complete, unattributedEvents: outcome.unattributedEvents,
      },
    })
    void reply.header('x-tessera-audit-seq', String(seq))
    request.log.info({ profileId, parts: outcome.profiles.length, principal: principal.name, unmergeSeq: outcome.seq }, 'profile unmerged')
    const clear = await revealKeys(reader, rules.codec, outcome.profiles.flatMap((p) => p.identifiers))
    return {
      profileId: outcome.profileId, unmergeSeq: outcome.seq, rebuild: outcome.rebuild, complete: outcome.complete, unattributedEvents: outcome.unattributedEvents,
      profiles: outcome.profiles.map((p) => ({ profileId: p.profileId, kept: p.kept, eventCount: p.eventCount, identifiers: p.identifiers.map(clear) })),
    }
  })

  app.get<{ Querystring: { limit: number; after?: number } }>('/v1/identity/quarantine', {
    schema: {
      summary: 'Identifiers quarantined by the supernode guard, newest first',
      description: 'A value that linked more profiles than its type allows within the window (identity.types[].quarantine) stops linking: ' +
        'events carrying it resolve by their other identifiers. Each entry says what (key), when (event time), what caused it (cause, ' +
        'the event that crossed the threshold) and how many profiles it had reached. Needs the readAudit permission; audited.',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      headers: purposeHeaderSchema,
      querystring: {
        type: 'object',
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          after: { type: 'integer', minimum: 0, description: 'Only entries with a higher seq' },
        },
        additionalProperties: false,
      },
      response: {
        200: {
          type: 'object',
          properties: {
            quarantined: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  seq: { type: 'integer' }, key: { type: 'string' }, profiles: { type: 'integer' }, threshold: { type: 'integer' },
                  window: { type: 'string' }, cause: { type: 'string' }, messageId: { type: 'string' }, time: { type: 'string', format: 'date-time' },
                },
              },
            },
          },
        },
        ...errors,
      },
    },
  }, (request, reply) => auditedRead(access, audit, request, reply, 'identity.read', async (scope) => {
    scope.requireSystem('readAudit', 'audit')
    await report()
    const list = await (await state()).transaction((tx) => tx.identity.quarantineList({ limit: request.query.limit, ...(request.query.after === undefined ? {} : { afterSeq: request.query.after }) }))
    const clear = await revealKeys(reader, rules.codec, list.map((q) => q.key))
    return {
      quarantined: list.map((q) => ({
        seq: q.seq, key: clear(q.key), profiles: q.profiles, threshold: q.threshold,
        window: q.windowMs === 0 ? 'ever' : `${Math.round(q.windowMs / 3_600_000)}h`, cause: q.cause, messageId: q.messageId,
        time: new Date(q.time).toISOString(),
      })),
    }
  }))

  const reviewItemSchema = {
    type: 'object',
    properties: {
      seq: { type: 'integer' }, status: { type: 'string', enum: [...REVIEW_STATUSES] }, probability: { type: 'number' }, weight: { type: 'number' },
      messageId: { type: 'string' }, time: { type: 'string', format: 'date-time' },
      principal: { type: ['string', 'null'] }, decidedAt: { type: ['string', 'null'], format: 'date-time' },
      profiles: {
        type: 'array',
        items: {
          type: 'object',
          properties: { profileId: { type: 'string' }, exists: { type: 'boolean' }, traits: { type: ['object', 'null'], additionalProperties: true } },
        },
      },
    },
  } as const

  app.get<{ Querystring: { limit: number; after?: number; status?: ReviewStatus } }>('/v1/identity/review', {
    schema: {
      summary: 'Pairs of profiles the real-time matcher scored in the review band, oldest first',
      description: 'With identity.matching enabled, an event that links no profile but whose traits match an existing profile with a ' +
        'probability between identity.matching.review and autoMerge creates its own profile and queues the pair here. Each item shows ' +
        'both profiles\' traits as the access policy lets this token read them (masked or removed per field; null when the profile ' +
        'itself may not be read). Items whose profiles the token may not review (Cedar readMatchReview) are left out. Audited.',
      tags: ['profiles'],
      security: [{ adminToken: [] }],
      headers: purposeHeaderSchema,
      querystring: {
        type: 'object',
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
          after: { type: 'integer', minimum: 0, description: 'Only items with a higher seq' },
          status: { type: 'string', enum: [...REVIEW_STATUSES], default: 'open' },
        },
        additionalProperties: false,
      },
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: reviewItemSchema }, hidden: { type: 'integer' } } }, ...errors },
    },
  }, (request, reply) => auditedRead(access, audit, request, reply, 'identity.read', async (scope) => {
    // Deny by default: a token that may review no profile at all (asked for a profile of its own region, the widest
    // it could see) is refused, rather than answered an empty list with a count of the items it cannot see.
    const probe = engine.authorize(scope.principal, 'readMatchReview', { type: 'Profile', id: '', region: scope.principal.attributes.region ?? 'UNKNOWN' },
      { purpose: scope.purpose, legalBasis: scope.legalBasis })
    if (!probe.allow) {
      throw new TesseraError('TESSERA_FORBIDDEN', `reading the review queue needs the readMatchReview permission (roles admin, privacy_officer, support by default) for purpose ${scope.purpose}`)
    }
    const list = await (await state()).transaction((tx) => tx.identity.reviewList({
      limit: request.query.limit, status: request.query.status ?? 'open', ...(request.query.after === undefined ? {} : { afterSeq: request.query.after }),
    }))
    const items = []
    let hidden = 0
    for (const item of list) {
      const profiles: { profileId: string; exists: boolean; traits: JsonObject | null }[] = []
      let allowed = true
      for (const id of [item.profileA, item.profileB]) {
        const profile = await reader.profile(id)
        const target = scope.target(id, profile?.traits ?? {})
        const d = engine.authorize(scope.principal, 'readMatchReview', { type: 'Profile', id, region: target.region }, { purpose: scope.purpose, legalBasis: scope.legalBasis })
        if (!d.allow) allowed = false
        const traits = profile && scope.mayViewProfile(target) ? ((scope.filter(target, 'traits', profile.traits) ?? {}) as JsonObject) : null
        profiles.push({ profileId: id, exists: profile !== null && profile.mergedInto === null, traits })
      }
      if (!allowed) {
        hidden++
        continue
      }
      items.push({
        seq: item.seq, status: item.status, probability: item.probability, weight: item.weight, messageId: item.messageId,
        time: new Date(item.eventTime).toISOString(), principal: item.principal,
        decidedAt: item.decidedAt === null ? null : new Date(item.decidedAt).toISOString(), profiles,
      })
    }
    return { items, hidden }
  }))

  const summaries = {
    accept: 'Accept a review item: merge the two profiles',
    reject: 'Reject a review item: the two profiles never merge, not even through an identifier they share later',
    reopen: 'Reopen a rejected review item: remove its do-not-link pair and split rules',
  } as const
  const descriptions = {
    accept: 'Merges the younger profile into the older one in one transaction, as a pipeline merge: a scored `probabilistic` edge and ' +
      'a merge recorded with the principal, traits, counters and timelines merged (with partitioned profile updates the profile ' +
      'owners fold them moments later). Refused with 409 when the graph guards forbid it (two values of a unique identifier, a split ' +
      'rule, the size cap) or when a profile was merged since. ',
    reject: 'Records a do-not-link pair of the two profiles and split rules between their identifiers (as an unmerge does): a later ' +
      'event linking them (a shared e-mail, a device) is refused and recorded as a `split_rule` rejection, visible in ' +
      'GET /v1/profiles/{id}/identities, until the item is reopened. ',
    reopen: 'The item is open again (accept or reject it anew); its rules no longer stop links between the two profiles. ',
  } as const
  for (const decision of ['accept', 'reject', 'reopen'] as const) {
    app.post<{ Params: { seq: number } }>(`/v1/identity/review/:seq/${decision}`, {
      schema: {
        summary: summaries[decision],
        description: descriptions[decision] + 'Needs decideMatchReview on both profiles (admin, privacy_officer); audited.',
        tags: ['profiles'],
        security: [{ adminToken: [] }],
        headers: purposeHeaderSchema,
        params: { type: 'object', properties: { seq: { type: 'integer', minimum: 1 } }, required: ['seq'] },
        response: {
          200: {
            type: 'object',
            properties: { seq: { type: 'integer' }, status: { type: 'string' }, profileId: { type: ['string', 'null'] }, merged: { type: ['string', 'null'] } },
          },
          ...errors,
        },
      },
    }, async (request, reply) => {
      const principal = request.admin!
      const actor = { type: 'token' as const, id: principal.name, roles: [...principal.roles] }
      const header = request.headers[PURPOSE_HEADER]
      const scope = access.scope(principal, Array.isArray(header) ? header[0] : header)
      const base = { kind: 'identity.review', actor, action: `POST /v1/identity/review/:seq/${decision}`, purpose: scope.purpose, legalBasis: scope.legalBasis }
      const seq = request.params.seq
      const wanted = decision === 'reopen' ? 'rejected' : 'open'
      const [item] = await (await state()).transaction((tx) => tx.identity.reviewList({ limit: 1, afterSeq: seq - 1, status: wanted }))
      if (!item || item.seq !== seq) {
        throw new TesseraError('TESSERA_NOT_FOUND', `no ${wanted} review item ${seq} (GET /v1/identity/review?status=${wanted} lists them)`)
      }
      const subjects = [item.profileA, item.profileB]
      const policyIds: string[] = []
      for (const id of subjects) {
        const profile = await reader.profile(id)
        const target = scope.target(id, profile?.traits ?? {})
        const d = engine.authorize(principal, 'decideMatchReview', { type: 'Profile', id, region: target.region }, { purpose: scope.purpose, legalBasis: scope.legalBasis })
        policyIds.push(...d.policyIds)
        if (!d.allow) {
          const auditSeq = await audit.record({ ...base, subjects, decision: 'deny', policyIds: d.policyIds, reason: 'no policy permits decideMatchReview' })
          void reply.header('x-tessera-audit-seq', String(auditSeq))
          throw new TesseraError('TESSERA_FORBIDDEN', `deciding review items needs the decideMatchReview permission (roles admin or privacy_officer by default) for purpose ${scope.purpose}`)
        }
      }
      let outcome: ReviewOutcome
      try {
        outcome = await (await state()).transaction((tx) => decideReviewItem(tx, rules, { seq, decision, principal: `token:${principal.name}`, now: Date.now() },
          { profileUpdates: options.profileUpdates }))
      } catch (error) {
        const auditSeq = await audit.record({ ...base, subjects, decision: 'error', policyIds, reason: (error as Error).message.slice(0, 300) })
        void reply.header('x-tessera-audit-seq', String(auditSeq))
        throw error
      }
      const auditSeq = await audit.record({ ...base, subjects, decision: 'ok', policyIds, detail: { reviewSeq: seq, status: outcome.status, probability: item.probability, ...(outcome.profileId ? { profileId: outcome.profileId, merged: outcome.merged } : {}) } })
      void reply.header('x-tessera-audit-seq', String(auditSeq))
      request.log.info({ reviewSeq: seq, status: outcome.status, principal: principal.name }, 'match review decided')
      return { seq, status: outcome.status, profileId: outcome.profileId, merged: outcome.merged }
    })
  }
}

/** A refusal naming the stored keys of what the caller gave, reworded with the keys as the caller gave them. */
function inClear(error: unknown, named: ReadonlyMap<IdentifierKey, IdentifierKey>): unknown {
  if (!(error instanceof TesseraError)) return error
  let message = error.message
  for (const [stored, clear] of named) if (stored !== clear) message = message.split(stored).join(clear)
  return message === error.message ? error : new TesseraError(error.code, message, { cause: error })
}
