/**
 * @module Builds the Fastify application: tracking API, admin API, health, metrics and OpenAPI docs.
 * Takes ready-made ports; choosing adapters is the composition root's job (src/app/).
 */
import type { IdentifierCodec } from '../identity/identifier-codec.js'
import type { ProfileSealing } from '../profiles/profile-sealing.js'
import { sealedState } from '../profiles/sealed-profiles.js'
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { Logger } from 'pino'
import type { TesseraConfig } from '../config/config.js'
import type { Clock } from '../core/clock.js'
import { TOPICS, type EventLog } from '../log/event-log.js'
import type { PipelineHandle } from '../pipeline/pipeline-host.js'
import type { ProfileReader } from '../profiles/profile-reader.js'
import { createSourceRegistry } from '../ingest/source-registry.js'
import { createAdminAuthenticator } from './admin-auth.js'
import { adminPlugin } from './admin-plugin.js'
import { auditPlugin } from './audit-plugin.js'
import { identityPlugin } from './identity-plugin.js'
import { profileUpdatesMode } from '../config/config.js'
import { compileIdentityRules } from '../identity/identity-rules.js'
import { openState } from '../app/open-state.js'
import { dataLayout } from '../app/data-layout.js'
import { consentPlugin } from './consent-plugin.js'
import { privacyPlugin } from './privacy-plugin.js'
import { workloadPlugin, type WorkloadPluginOptions } from './workload-plugin.js'
import type { PrivateCounter } from '../governance/dp/private-count.js'
import type { DsarService } from '../governance/dsar/dsar-service.js'
import type { ConsentLedger } from '../governance/consent/consent-ledger.js'
import type { RawEvent } from '../core/event.js'
import type { Governance } from '../governance/open-governance.js'
import { errorHandler } from './error-handler.js'
import { ingestPlugin } from './ingest-plugin.js'
import type { Metrics } from './metrics.js'
import { registerHealthRoutes } from './health-routes.js'
import type { SourceConfig, AdminTokenConfig } from '../config/config.js'

export interface AppPorts {
  readonly config: TesseraConfig
  readonly sources: readonly SourceConfig[]
  readonly adminTokens: readonly AdminTokenConfig[]
  readonly log: EventLog
  readonly reader: ProfileReader
  /** Null when this process does not run the pipeline (`--role ingest`). */
  readonly pipeline: PipelineHandle | null
  /** Serve the tracking API (false for `--role pipeline`). */
  readonly ingest: boolean
  readonly metrics: Metrics
  readonly clock: Clock
  readonly logger: Logger
  readonly normalizeIdentifier: (type: string, value: string) => string | null
  /** The state's identifier codec (src/app/identifier-scheme.ts): how the identity routes key what they are given. */
  readonly identifiers: IdentifierCodec
  /** How profiles are sealed in the state (null: in clear); the unmerge's own state connection writes through it. */
  readonly profileSealing?: ProfileSealing | null
  readonly version: string
  /** Access policies and the audit log of every admin read. */
  readonly governance: Governance
  /**
   * The consent ledger: fed by the tracking API and `POST /v1/consent`, read by `GET /v1/consent`.
   * `identifiersOf` gives an event's identifiers (`type:value`) as identity resolution reads them.
   */
  readonly consent?: { readonly ledger: ConsentLedger; readonly identifiersOf: (event: RawEvent) => readonly string[]; readonly identifierTypes: readonly string[] }
  /** Privacy operations: differentially private counts (src/server/privacy-plugin.ts). */
  readonly privacy?: { readonly counter: PrivateCounter; readonly dsar?: DsarService }
  /** The Spark workload advisor (src/server/workload-plugin.ts). */
  readonly workload?: Pick<WorkloadPluginOptions, 'service' | 'maxUploadBytes' | 'fetchJson'>
}

export async function buildApp(ports: AppPorts): Promise<FastifyInstance> {
  // Typed as the default instance: the pino logger is passed in, nothing needs its narrower type.
  const app: FastifyInstance = Fastify({
    loggerInstance: ports.logger,
    // Request logs carry method, route and status only: URLs may hold a write key (beacon ?writeKey=).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ports.config.ingest.maxBatchBytes,
    trustProxy: true,
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: true } },
  }) as unknown as FastifyInstance
  app.setErrorHandler(errorHandler)
  app.addHook('onResponse', async (request, reply) => {
    ports.metrics.requests.inc({ route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode) })
    if (reply.statusCode >= 500) request.log.warn({ method: request.method, route: request.routeOptions.url, status: reply.statusCode }, 'request failed')
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tessera API',
        version: ports.version,
        description: 'Segment-compatible tracking API (write keys) and the admin API (bearer tokens) of Tessera, an open-source CDP.',
      },
      components: {
        securitySchemes: {
          writeKey: { type: 'http', scheme: 'basic', description: 'Write key as the Basic username, empty password (or `writeKey` in the body).' },
          adminToken: { type: 'http', scheme: 'bearer', description: 'Admin token (TESSERA_ADMIN_TOKEN or <dataDir>/credentials.json).' },
        },
      },
      tags: [
        { name: 'tracking', description: 'Segment HTTP Tracking API' },
        { name: 'profiles', description: 'Unified profiles (admin); every read states a purpose and is filtered by the access policies' },
        { name: 'audit', description: 'Tamper-evident audit log (signed checkpoints, RFC 6962 proofs) and policy reload' },
        { name: 'consent', description: 'The consent ledger per identifier and purpose (write key to record, admin token to read)' },
        { name: 'privacy', description: 'Differentially private counts with a per-token ε budget, and data-subject requests' },
        { name: 'workload', description: 'Spark workload advisor: run history from event logs, recommendations, feedback and evaluation' },
        { name: 'operations', description: 'Health and metrics' },
      ],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  const sources = createSourceRegistry(ports.sources)
  const consent = ports.consent
  if (ports.ingest) await app.register(ingestPlugin, {
    log: ports.log,
    sources,
    limits: { maxEventBytes: ports.config.ingest.maxEventBytes, maxBatchBytes: ports.config.ingest.maxBatchBytes },
    corsOrigins: ports.config.ingest.corsOrigins,
    metrics: ports.metrics,
    clock: ports.clock,
    ...(consent ? {
      consent: {
        govern: (events, request) => consent.ledger.governEvents(events.map((event) => ({ event, identifiers: consent.identifiersOf(event) })), request),
      },
    } : {}),
  })
  const authenticate = createAdminAuthenticator(ports.adminTokens)
  await app.register(adminPlugin, {
    reader: ports.reader,
    authenticate,
    normalize: ports.normalizeIdentifier,
    access: ports.governance.access,
    audit: ports.governance.audit,
    ...(consent ? {
      consentOf: async (profileId: string, purpose: string, region: string) => !consent.ledger.needsConsent(purpose) ? undefined :
        consent.ledger.readConsentState((await ports.reader.identities(profileId)).map((i) => `${i.type}:${i.value}`), purpose, region),
    } : {}),
  })
  await app.register(auditPlugin, { authenticate, governance: ports.governance })
  await app.register(identityPlugin, {
    reader: ports.reader,
    authenticate,
    normalize: ports.normalizeIdentifier,
    access: ports.governance.access,
    engine: ports.governance.engine,
    audit: ports.governance.audit,
    rules: compileIdentityRules(ports.config.identity.types, ports.config.identity.defaultPhoneRegion, ports.config.identity.maxProfileSize, ports.identifiers),
    // The unmerge writes through its own connection to the state (SQLite: the file the pipeline uses).
    openState: async () => sealedState(await openState(ports.config, dataLayout(ports.config.dataDir).state), ports.profileSealing ?? null),
    profileUpdates: profileUpdatesMode(ports.config),
    metrics: ports.metrics,
    logger: ports.logger,
  })
  if (consent) {
    await app.register(consentPlugin, {
      ledger: consent.ledger, sources, authenticate, access: ports.governance.access, audit: ports.governance.audit,
      reader: ports.reader, normalize: ports.normalizeIdentifier, identifierTypes: consent.identifierTypes,
    })
  }
  if (ports.privacy) {
    await app.register(privacyPlugin, {
      authenticate, access: ports.governance.access, audit: ports.governance.audit, counter: ports.privacy.counter, clock: ports.clock,
      ...(ports.privacy.dsar ? { dsar: ports.privacy.dsar } : {}),
    })
  }
  if (ports.workload) await app.register(workloadPlugin, { authenticate, access: ports.governance.access, audit: ports.governance.audit, ...ports.workload })
  registerHealthRoutes(app, { log: ports.log, pipeline: ports.pipeline, metrics: ports.metrics, rawTopic: TOPICS.raw })
  return app
}
