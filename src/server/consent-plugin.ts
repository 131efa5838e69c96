/**
 * @module The consent API. `POST /v1/consent` records a person's choices per purpose, or the TCF / GPP string
 * or CMP categories a consent management platform produced, for one or more identifiers; it is authenticated
 * with a source's **write key** (like the tracking API): a CMP backend or preference centre is a source of
 * signals that writes and never reads, and an admin token would give it read access to personal data it does
 * not need. `governance.consent.apiSources` can restrict it to given sources. `GET /v1/consent` is an admin
 * read: it states a purpose, looking up by an identifier needs clear access to that identifier's category, the
 * profile's row-level rule applies, every field of the answer (`profile.consent.*`) goes through the access
 * policies, and the read is audited like every other admin read.
 */
import type { FastifyPluginAsync } from 'fastify'
import { TesseraError, ValidationError } from '../core/errors.js'
import type { JsonObject, JsonValue } from '../core/event.js'
import type { AccessControl } from '../governance/access-control.js'
import type { AuditLog } from '../governance/audit-log.js'
import type { ConsentLedger } from '../governance/consent/consent-ledger.js'
import type { ConsentSignal, StoredConsentRecord } from '../governance/consent/consent-record.js'
import { gpcSignal, isGpcHeader, refusalsWin, segmentSignal, usPrivacySignal } from '../governance/consent/consent-signals.js'
import { googleConsentModeSignal } from '../governance/consent/google-consent-mode.js'
import { assertPurpose, jurisdictionOf } from '../governance/consent/effective-consent.js'
import { decodeGppSignals } from '../governance/consent/gpp-signal.js'
import { decodeTcfSignal } from '../governance/consent/tcf-signal.js'
import type { SourceRegistry } from '../ingest/source-registry.js'
import { UnauthorizedError } from '../ingest/ingest-errors.js'
import { authenticate as authenticateWriteKey } from '../ingest/write-key.js'
import type { ProfileReader } from '../profiles/profile-reader.js'
import type { AdminPrincipal } from './admin-auth.js'
import { auditedRead, purposeHeaderSchema } from './admin-plugin.js'
import { errorBodySchema } from './error-handler.js'

export interface ConsentPluginOptions {
  readonly ledger: ConsentLedger
  readonly sources: SourceRegistry
  readonly authenticate: (header: string | undefined) => AdminPrincipal
  readonly access: AccessControl
  readonly audit: AuditLog
  readonly reader: ProfileReader
  /** Normalises an identifier value as the pipeline does; null = not a valid value of that type. */
  readonly normalize: (type: string, value: string) => string | null
  /** Configured identifier types. */
  readonly identifierTypes: readonly string[]
}

interface ConsentBody {
  identifiers: string[]
  purposes?: Record<string, boolean>
  categoryPreferences?: Record<string, unknown>
  tcf?: string
  gpp?: string
  usPrivacy?: string
  googleConsentMode?: Record<string, unknown>
  jurisdiction?: string
  writeKey?: string
}

const IDENTIFIER = { type: 'string', pattern: '^[a-z][a-z0-9_]*:.+$', maxLength: 500, description: 'type:value, e.g. email:ann@example.com' } as const
const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema }

/** Field types are not fixed: a policy may mask any of them (a hash is a string). */
const recordSchema = { type: 'object', additionalProperties: true } as const

export const consentPlugin: FastifyPluginAsync<ConsentPluginOptions> = async (app, opts) => {
  const { ledger, sources, access, audit, reader, normalize } = opts
  const config = ledger.config

  /** `type:value` → the normalised identifier key, or a 400 naming the field. */
  function identifierOf(text: string, field: string): { type: string; key: string } {
    const at = text.indexOf(':')
    const type = text.slice(0, at)
    if (!opts.identifierTypes.includes(type)) throw new ValidationError(field, `${JSON.stringify(type)} is not a configured identifier type (one of: ${opts.identifierTypes.join(', ')})`)
    const value = normalize(type, text.slice(at + 1))
    if (value === null || value === '') throw new ValidationError(field, `is not a valid ${type} value`)
    return { type, key: `${type}:${value}` }
  }

  app.post<{ Body: ConsentBody }>('/v1/consent', {
    schema: {
      summary: 'Record consent choices for identifiers (CMP backends, preference centres)',
      description: 'Authenticated with a source write key (HTTP Basic user name, or `writeKey` in the body). Give explicit choices per purpose ' +
        '(`purposes`), and/or the evidence a CMP produced: a TCF v2.2+ TC string (`tcf`), a GPP string (`gpp`), a US Privacy string (`usPrivacy`), ' +
        'Google Consent Mode types (`googleConsentMode`), Segment-style `categoryPreferences`. A `Sec-GPC: 1` header also records an opt-out of ' +
        'sale/sharing and advertising. Undecodable strings are recorded as invalid evidence and grant nothing; a refusal in one signal wins over a grant in another.',
      tags: ['consent'],
      security: [{ writeKey: [] }],
      body: {
        type: 'object',
        required: ['identifiers'],
        additionalProperties: false,
        properties: {
          identifiers: { type: 'array', items: IDENTIFIER, minItems: 1, maxItems: 20 },
          purposes: { type: 'object', additionalProperties: { type: 'boolean' }, description: 'purpose → true (granted) / false (refused)' },
          categoryPreferences: { type: 'object', additionalProperties: true },
          tcf: { type: 'string', maxLength: 16384 },
          gpp: { type: 'string', maxLength: 16384 },
          usPrivacy: { type: 'string', maxLength: 10, description: 'US Privacy string, e.g. 1YYN' },
          googleConsentMode: { type: 'object', additionalProperties: true, description: 'consent type → "granted" / "denied", e.g. { "ad_storage": "denied" }' },
          jurisdiction: { type: 'string', maxLength: 10, description: 'EU, US, US-CA, ... or a country code; default from the signals' },
          writeKey: { type: 'string' },
        },
      },
      response: {
        200: { type: 'object', properties: { success: { type: 'boolean' }, recorded: { type: 'integer' } } },
        ...errors,
      },
    },
  }, async (request) => {
    const body = request.body
    const auth = authenticateWriteKey(sources, { authorization: request.headers.authorization, body })
    if (!auth.ok) throw new UnauthorizedError(auth.reason === 'unknown' ? 'the write key is not valid' : 'a write key is required: as the HTTP Basic user name, or as "writeKey" in the body')
    if (config.apiSources.length > 0 && !config.apiSources.includes(auth.source.id)) {
      throw new TesseraError('TESSERA_FORBIDDEN', `source ${auth.source.id} may not record consent through the API (governance.consent.apiSources)`)
    }
    const identifiers = [...new Set(body.identifiers.map((t, i) => identifierOf(t, `.identifiers[${i}]`).key))]
    const jurisdiction = body.jurisdiction === undefined ? null : jurisdictionOf(body.jurisdiction, config)
    if (body.jurisdiction !== undefined && jurisdiction === null) {
      throw new ValidationError('.jurisdiction', `${JSON.stringify(body.jurisdiction)} is not a configured jurisdiction or one of its countries (${Object.keys(config.jurisdictions).join(', ')})`)
    }
    const signals: ConsentSignal[] = []
    if (body.purposes !== undefined) {
      const decisions = new Map<string, 'granted' | 'denied'>()
      for (const [purpose, granted] of Object.entries(body.purposes)) {
        assertPurpose(purpose, config, `.purposes.${purpose}`)
        decisions.set(purpose, granted ? 'granted' : 'denied')
      }
      signals.push({ source: 'api', jurisdiction, decisions, evidence: { valid: true, raw: JSON.stringify(body.purposes).slice(0, 4096) } })
    }
    if (body.categoryPreferences !== undefined) signals.push(segmentSignal(body.categoryPreferences, config))
    if (body.tcf !== undefined) signals.push(decodeTcfSignal(body.tcf, config))
    if (body.gpp !== undefined) signals.push(...decodeGppSignals(body.gpp, config))
    if (body.usPrivacy !== undefined) signals.push(usPrivacySignal(body.usPrivacy, config))
    if (body.googleConsentMode !== undefined) {
      const gcm = googleConsentModeSignal({ consent: { googleConsentMode: body.googleConsentMode } }, config)
      if (gcm !== null) signals.push(gcm)
    }
    if (isGpcHeader(request.headers['sec-gpc'])) signals.push(gpcSignal(config))
    if (signals.length === 0) throw new ValidationError('(body)', 'holds no consent: give "purposes", "categoryPreferences", "tcf", "gpp", "usPrivacy" or "googleConsentMode" (or send Sec-GPC: 1)')
    const stored = await ledger.record(identifiers, refusalsWin(signals), {
      actor: { type: 'system', id: `source:${auth.source.id}` }, action: 'POST /v1/consent', sourceId: auth.source.id, jurisdictionHint: jurisdiction,
    })
    return { success: true, recorded: stored.length }
  })

  app.register(async (admin) => {
    admin.addHook('onRequest', async (request) => {
      request.admin = opts.authenticate(request.headers.authorization)
    })
    admin.get<{ Querystring: { identifier: string; limit: number; after?: number } }>('/v1/consent', {
      schema: {
        summary: 'The consent ledger of an identifier, and the effective consent of its profile',
        description: 'An admin read: states a purpose (X-Tessera-Purpose), needs clear access to the identifier\'s category to search by it, and is ' +
          'filtered by the access policies (the ledger is `profile.consent.*`, unclassified personal data by default) and audited. `effective` is computed ' +
          'over every identifier of the profile (a refusal on any of them wins); `records` are this identifier\'s own, oldest first.',
        tags: ['consent'],
        security: [{ adminToken: [] }],
        headers: purposeHeaderSchema,
        querystring: {
          type: 'object',
          required: ['identifier'],
          additionalProperties: false,
          properties: {
            identifier: IDENTIFIER,
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            after: { type: 'integer', minimum: 0, description: 'records after this seq (the last `seq` of the previous page)' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              identifier: { type: 'string' }, profileId: { type: ['string', 'null'] },
              effective: { type: 'object', additionalProperties: true },
              records: { type: 'array', items: recordSchema },
            },
          },
          ...errors,
        },
      },
    }, (request, reply) => auditedRead(access, audit, request, reply, 'consent.read', async (scope) => {
      const { type, key } = identifierOf(request.query.identifier, '.identifier')
      // Searching by a value is reading it: only with clear access to its category, checked before any lookup.
      scope.requireClearField({ id: '(lookup)', region: scope.principal.attributes.region ?? 'UNKNOWN' }, `identities.${type}`, `looking consent up by ${type}`)
      const found = await reader.profileIdByIdentifier(type, key.slice(type.length + 1))
      const profileId = found === null ? null : await reader.canonicalId(found)
      let target = { id: '(no profile)', region: 'UNKNOWN' }
      let identifiers = [key]
      let residence: string | null = null
      if (profileId !== null) {
        const profile = await reader.profile(profileId)
        if (profile) {
          target = scope.target(profileId, profile.traits)
          scope.requireProfile(target)
          residence = target.region
          identifiers = [...new Set([key, ...(await reader.identities(profileId)).map((i) => `${i.type}:${i.value}`)])]
        }
      }
      const effective: JsonObject = {}
      for (const d of await ledger.effectiveAll(identifiers, residence)) {
        effective[d.purpose] = { state: d.state, explicit: d.explicit }
      }
      const records = await ledger.history(key, { limit: request.query.limit, ...(request.query.after === undefined ? {} : { afterSeq: request.query.after }) })
      const filtered = (root: string, value: JsonValue): JsonValue | undefined => scope.filter(target, root, value)
      return {
        identifier: key,
        profileId,
        effective: (filtered('profile.consent.effective', effective) ?? {}) as JsonObject,
        records: records.flatMap((r) => {
          const v = filtered('profile.consent.records', recordJson(r))
          return v === undefined ? [] : [v]
        }),
      }
    }))
  })
}

function recordJson(r: StoredConsentRecord): JsonObject {
  return {
    seq: r.seq, purpose: r.purpose, state: r.state, source: r.source, legalBasis: r.legalBasis, jurisdiction: r.jurisdiction,
    time: new Date(r.time).toISOString(), evidence: r.evidence as unknown as JsonObject,
  }
}
