/**
 * @module The audit API: the signed checkpoint of the audit log, inclusion and consistency proofs (RFC 6962)
 * that let anyone holding a checkpoint check that entries were not edited, removed, reordered or truncated,
 * the entries themselves searchable per person, principal, kind and time (policy-gated: `readAudit`, and
 * audited in turn), and the policy reload. Checkpoint and proofs carry only hashes and need any valid token.
 */
import type { FastifyPluginAsync } from 'fastify'
import { TesseraError } from '../core/errors.js'
import type { Governance } from '../governance/open-governance.js'
import { formatLoadError } from '../governance/policy-engine.js'
import type { AdminPrincipal } from './admin-auth.js'
import { auditedRead, purposeHeaderSchema } from './admin-plugin.js'
import { errorBodySchema } from './error-handler.js'

export interface AuditPluginOptions {
  readonly authenticate: (header: string | undefined) => AdminPrincipal
  readonly governance: Governance
}

const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema }
const hex = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const
const size = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const

export const auditPlugin: FastifyPluginAsync<AuditPluginOptions> = async (app, { authenticate, governance }) => {
  const { audit, access, engine } = governance
  app.addHook('onRequest', async (request) => {
    request.admin = authenticate(request.headers.authorization)
  })

  app.get('/v1/audit/checkpoint', {
    schema: {
      summary: 'The latest signed checkpoint of the audit log',
      description: 'A C2SP tlog-checkpoint signed with Ed25519 (`note`), for the whole log (a new one is signed if entries are not covered yet). ' +
        'Keep copies elsewhere: `tessera audit verify --checkpoint FILE` proves the log still contains everything they cover.',
      tags: ['audit'],
      security: [{ adminToken: [] }],
      response: {
        200: {
          type: 'object',
          properties: {
            origin: { type: 'string' }, treeSize: { type: 'integer' }, rootHash: hex, timestamp: { type: 'integer', description: 'ms since epoch' },
            note: { type: 'string' }, publicKey: { type: 'string', description: 'Raw Ed25519 public key, base64' },
          },
        },
        ...errors,
      },
    },
  }, async () => {
    const cp = await audit.latestCheckpoint()
    return { origin: cp.origin, treeSize: cp.size, rootHash: cp.rootHash.toString('hex'), timestamp: cp.time, note: cp.note, publicKey: audit.publicKey }
  })

  app.get<{ Querystring: { index: number; treeSize: number } }>('/v1/audit/proof/inclusion', {
    schema: {
      summary: 'Proof that entry `index` is in the log of `treeSize` entries',
      description: 'Verify with RFC 9162 §2.1.3.2: hash the entry text as a leaf (SHA-256(0x00 || text)) and fold in the proof; the result must equal the root of a signed checkpoint of that size.',
      tags: ['audit'],
      security: [{ adminToken: [] }],
      querystring: { type: 'object', properties: { index: size, treeSize: size }, required: ['index', 'treeSize'], additionalProperties: false },
      response: {
        200: { type: 'object', properties: { index: { type: 'integer' }, treeSize: { type: 'integer' }, leafHash: hex, rootHash: hex, proof: { type: 'array', items: hex } } },
        ...errors,
      },
    },
  }, async (request) => {
    const { index, treeSize } = request.query
    const p = await audit.inclusionProof(index, treeSize)
    return { index, treeSize, leafHash: p.leafHash.toString('hex'), rootHash: p.rootHash.toString('hex'), proof: p.proof.map((h) => h.toString('hex')) }
  })

  app.get<{ Querystring: { from: number; to: number } }>('/v1/audit/proof/consistency', {
    schema: {
      summary: 'Proof that the log of `from` entries is a prefix of the log of `to` entries',
      description: 'Verify with RFC 9162 §2.1.4.2 against the roots of two signed checkpoints: nothing before `from` was changed since.',
      tags: ['audit'],
      security: [{ adminToken: [] }],
      querystring: { type: 'object', properties: { from: size, to: size }, required: ['from', 'to'], additionalProperties: false },
      response: {
        200: { type: 'object', properties: { from: { type: 'integer' }, to: { type: 'integer' }, fromRoot: hex, toRoot: hex, proof: { type: 'array', items: hex } } },
        ...errors,
      },
    },
  }, async (request) => {
    const { from, to } = request.query
    const p = await audit.consistencyProof(from, to)
    return { from, to, fromRoot: p.fromRoot.toString('hex'), toRoot: p.toRoot.toString('hex'), proof: p.proof.map((h) => h.toString('hex')) }
  })

  app.get<{ Querystring: { profileId?: string; principal?: string; kind?: string; since?: string; until?: string; after?: number; limit: number } }>('/v1/audit/entries', {
    schema: {
      summary: 'Audit entries: who read what, for which purpose, and what the policies decided',
      description: 'Filter by person (`profileId`), by token (`principal`, its name), by `kind` (admin.read, audit.read, policy.reload, identity.merge, identity.match, identity.quarantine, ...) and by time. ' +
        'Needs the readAudit permission (privacy_officer or admin) and a purpose; the search is itself audited. `text` is exactly what the Merkle leaf commits to.',
      tags: ['audit'],
      security: [{ adminToken: [] }],
      headers: purposeHeaderSchema,
      querystring: {
        type: 'object',
        properties: {
          profileId: { type: 'string', minLength: 1, maxLength: 200 },
          principal: { type: 'string', minLength: 1, maxLength: 100, description: 'Token name' },
          kind: { type: 'string', pattern: '^[a-z][a-z0-9_.]*$', maxLength: 60 },
          since: { type: 'string', format: 'date-time' },
          until: { type: 'string', format: 'date-time' },
          after: { type: 'integer', minimum: -1, description: 'Continue after this seq (the `next` value of the previous page)' },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
        },
        additionalProperties: false,
      },
      response: {
        200: {
          type: 'object',
          properties: {
            entries: {
              type: 'array',
              items: { type: 'object', properties: { seq: { type: 'integer' }, leafHash: hex, text: { type: 'string' }, entry: { type: 'object', additionalProperties: true } } },
            },
            next: { type: ['integer', 'null'] },
          },
        },
        ...errors,
      },
    },
  }, (request, reply) => auditedRead(access, audit, request, reply, 'audit.read', async (scope) => {
    scope.requireSystem('readAudit', 'audit')
    const q = request.query
    await audit.flush()
    const rows = await audit.search({
      limit: q.limit,
      ...(q.profileId === undefined ? {} : { profileId: q.profileId }),
      ...(q.principal === undefined ? {} : { actor: `token:${q.principal}` }),
      ...(q.kind === undefined ? {} : { kind: q.kind }),
      ...(q.since === undefined ? {} : { since: Date.parse(q.since) }),
      ...(q.until === undefined ? {} : { until: Date.parse(q.until) }),
      ...(q.after === undefined ? {} : { afterSeq: q.after }),
    })
    return {
      entries: rows.map((r) => ({ seq: r.seq, leafHash: r.leafHash.toString('hex'), text: r.text, entry: JSON.parse(r.text) as Record<string, unknown> })),
      next: rows.length === q.limit ? rows[rows.length - 1]!.seq : null,
    }
  }))

  app.post('/v1/admin/policies/reload', {
    schema: {
      summary: 'Reload the access policies from their files',
      description: 'Parses and validates every policy file again. On success the new set applies to the next request; on failure every read is denied ' +
        '(fail closed) until a reload succeeds, and the answer lists each error with file and line. Needs the reloadPolicies permission; while the set is broken, ' +
        'tokens with the admin role may reload. Also done on SIGHUP. Audited.',
      tags: ['audit'],
      security: [{ adminToken: [] }],
      response: {
        200: {
          type: 'object',
          properties: { ok: { type: 'boolean' }, version: { type: 'integer' }, hash: { type: 'string' }, policies: { type: 'array', items: { type: 'string' } }, files: { type: 'array', items: { type: 'string' } } },
        },
        ...errors,
      },
    },
  }, async (request) => {
    const principal = request.admin!
    const actor = { type: 'token' as const, id: principal.name, roles: [...principal.roles] }
    if (engine.status.ok) {
      const decision = engine.authorize(principal, 'reloadPolicies', { type: 'System', id: 'policies' }, { purpose: principal.purpose ?? 'administration', legalBasis: 'legitimate_interest' })
      if (!decision.allow) {
        await audit.record({ kind: 'policy.reload', actor, action: 'POST /v1/admin/policies/reload', decision: 'deny', policyIds: decision.policyIds, reason: 'no policy permits reloadPolicies' })
        throw new TesseraError('TESSERA_FORBIDDEN', 'reloading the policies needs the reloadPolicies permission (roles admin or privacy_officer by default)')
      }
    } else if (!principal.roles.includes('admin')) {
      throw new TesseraError('TESSERA_FORBIDDEN', 'the policy set is broken, so only a token with the admin role may reload it')
    }
    const status = await governance.reloadPolicies(actor, 'POST /v1/admin/policies/reload')
    if (!status.ok) {
      const problems = status.errors.map((e) => ({ field: e.line > 0 ? `${e.file}:${e.line}:${e.column}` : e.file, message: e.message }))
      throw new TesseraError('TESSERA_VALIDATION', `the policy set did not load, so every read is denied until it does: ${status.errors.map(formatLoadError).join('; ')}`, { problems })
    }
    return { ok: true, version: status.version, hash: status.hash, policies: [...status.policyIds], files: [...status.files] }
  })
}
