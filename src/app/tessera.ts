/**
 * @module The composition root: reads the config, picks the adapters, wires ingest, pipeline and API.
 * `tessera up` and the end-to-end tests start Tessera through `startTessera`.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { profileUpdatesMode, type TesseraConfig } from '../config/config.js'
import { effectiveAuth, ensureCredentials, readCredentials, type EffectiveAuth } from '../config/credentials.js'
import { systemClock, type Clock } from '../core/clock.js'
import { ConfigError } from '../core/errors.js'
import { compileIdentityRules } from '../identity/identity-rules.js'
import { TOPICS, type EventLog } from '../log/event-log.js'
import { MemoryEventLog } from '../log/memory/memory-event-log.js'
import { SealedEventLog } from '../log/sealed/sealed-event-log.js'
import { openExistingKeyring, openKeyring } from '../governance/crypto/open-keyring.js'
import type { IdentifierCodec } from '../identity/identifier-codec.js'
import { identifierKey, splitIdentifierKey } from '../identity/identity-store.js'
import { revealingReader } from '../profiles/revealing-profile-reader.js'
import { sealedReader, sealedState } from '../profiles/sealed-profiles.js'
import { openProfileSealing } from './profile-sealing.js'
import { openIdentifierCodec } from './identifier-scheme.js'
import { startInProcessPipeline, startWorkerPipeline, type BatchReport, type PipelineHandle } from '../pipeline/pipeline-host.js'
import type { ProfileReader } from '../profiles/profile-reader.js'
import { buildApp } from '../server/app.js'
import { openGovernance } from '../governance/open-governance.js'
import { openConsent } from '../governance/consent/open-consent.js'
import { PrivateCounter } from '../governance/dp/private-count.js'
import { startRetentionJob } from '../governance/retention/open-retention.js'
import { DsarService } from '../governance/dsar/dsar-service.js'
import { SuppressionList, loadOrCreateSuppressionKey, suppressionKeyPath } from '../governance/dsar/suppression.js'
import { openWorkloadStore } from '../workload/open-workload.js'
import { WorkloadService } from '../workload/workload-service.js'
import { httpFetchJson } from '../workload/eventlog/history-server.js'
import { openErasureStore, openPrivacyStore, openVerificationStore, verificationChannel } from '../governance/open-privacy.js'
import { RequesterVerification } from '../governance/dsar/requester-verification.js'
import { ValidationError } from '../core/errors.js'
import { extractIdentifiers } from '../identity/extract-identifiers.js'
import { createMetrics, type Metrics } from '../server/metrics.js'
import type { StateBackend } from '../storage/state-backend.js'
import { dataLayout, type DataLayout } from './data-layout.js'
import { createLogger } from './logger.js'
import { openLog } from './open-log.js'
import { openIdentityAuditOutbox, openReader, openState } from './open-state.js'
import { startIdentityAuditRelay } from '../identity/identity-audit-relay.js'
import { openRetentionLogs } from './retention-logs.js'
import { logTopicSettings } from '../governance/retention/log-retention.js'
import { acquireProcessLock, type ProcessLock } from './process-lock.js'

/** What this process runs: everything (default), only the HTTP ingest + admin API, or only the pipeline. */
export const ROLES = ['all', 'ingest', 'pipeline'] as const
export type Role = (typeof ROLES)[number]

export interface StartOptions {
  /** Default `all`. `ingest` and `pipeline` need the scale-out adapters (Kafka log, PostgreSQL store). */
  readonly role?: Role
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly logger?: Logger
  readonly clock?: Clock
  /** Listen on the configured port (default true); false for `inject()`-only tests. */
  readonly listen?: boolean
}

export interface RunningTessera {
  readonly app: FastifyInstance
  readonly url: string
  readonly auth: EffectiveAuth
  readonly credentialsCreated: boolean
  readonly layout: DataLayout
  /** Null in the `ingest` role. */
  readonly pipeline: PipelineHandle | null
  readonly metrics: Metrics
  close(): Promise<void>
}

export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return '0.0.0' // running from an unusual layout; the version is informational only
  }
}

export async function startTessera(config: TesseraConfig, options: StartOptions = {}): Promise<RunningTessera> {
  const env = options.env ?? process.env
  const logger = options.logger ?? createLogger(config.logLevel)
  const clock = options.clock ?? systemClock
  const role: Role = options.role ?? 'all'
  const embedded = config.log.kind === 'embedded' || config.store.kind === 'sqlite'
  if (role !== 'all' && (embedded || config.log.kind === 'memory')) {
    throw new ConfigError(`--role ${role} splits Tessera across processes, which needs the scale-out mode: set log.kind=kafka (TESSERA_LOG=kafka) and store.kind=postgres (TESSERA_STORE=postgres)`)
  }
  const layout = dataLayout(config.dataDir)
  mkdirSync(layout.dataDir, { recursive: true })
  const closers: (() => Promise<void> | void)[] = []
  // Embedded files have one writer; in the scale-out mode any number of processes share the servers.
  if (embedded) {
    const lock: ProcessLock = acquireProcessLock(layout.lock, 'tessera up')
    closers.push(() => lock.release())
  }
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) {
      try {
        await c()
      } catch (error) {
        logger.error({ err: { message: (error as Error).message } }, 'error while shutting down')
      }
    }
  }
  try {
    // Credentials: configured ones, plus generated defaults unless both write key and token come from env.
    const needGenerated = !(env.TESSERA_WRITE_KEY && env.TESSERA_ADMIN_TOKEN) && config.adminTokens.length === 0
    const ensured = needGenerated ? ensureCredentials(layout.dataDir) : { stored: readCredentials(layout.dataDir), created: false }
    const auth = effectiveAuth({ sources: config.sources, adminTokens: config.adminTokens }, ensured.stored, env)

    const metrics = createMetrics()
    const inWorker = config.pipeline.worker && config.log.kind !== 'memory'
    // One keyring (one cache of unwrapped data keys) for every log of this process and for erasure's shredding.
    const keys = config.governance.encryption.enabled ? await openKeyring(config, layout.dataDir) : await openExistingKeyring(config, layout.dataDir)
    if (keys) closers.push(() => keys.close())
    const keyring = keys?.keyring ?? null
    const log: EventLog = await openLog(config, { path: layout.rawLog, role, logger, keyring })
    closers.push(() => log.close())
    const topicSettings = logTopicSettings(config)
    await log.ensureTopic(TOPICS.raw, config.log.partitions, topicSettings)

    // Profile traits and timelines are sealed per profile under the same keyring (src/profiles/profile-sealing.ts).
    const sealing = openProfileSealing(config, keyring)
    const state: StateBackend = sealedState(await openState(config, layout.state), sealing)
    let identifiers: IdentifierCodec
    try {
      await state.migrate()
      const opened = await openIdentifierCodec(config, state, keyring)
      identifiers = opened.codec
      if (opened.warning) logger.warn({}, opened.warning)
    } catch (error) {
      await state.close()
      throw error
    }
    let pipeline: PipelineHandle | null = null
    /** The output log this process has open (in-process pipeline), for the retention job. */
    let outputLog: EventLog | undefined
    const onBatch = (r: BatchReport): void => {
      for (const [stage, n] of Object.entries(r.stageErrors)) metrics.stageErrors.inc({ stage }, n)
      if (r.topic !== TOPICS.raw) {
        // The profile owners (partitioned profile updates): records applied to profiles, and their own redeliveries.
        metrics.pipelineEvents.inc({ outcome: 'applied_to_profile' }, r.processed)
        if (r.lost > 0) metrics.pipelineEvents.inc({ outcome: 'lost' }, r.lost)
        if (r.shredded > 0) metrics.pipelineEvents.inc({ outcome: 'shredded' }, r.shredded)
        return
      }
      metrics.pipelineEvents.inc({ outcome: 'processed' }, r.processed)
      if (r.duplicates > 0) metrics.pipelineEvents.inc({ outcome: 'duplicate' }, r.duplicates)
      if (r.lost > 0) metrics.pipelineEvents.inc({ outcome: 'lost' }, r.lost)
      if (r.shredded > 0) metrics.pipelineEvents.inc({ outcome: 'shredded' }, r.shredded)
      if (r.merges > 0) metrics.profileMerges.inc(r.merges)
      metrics.pipelineBatchSeconds.observe(r.ms / 1000)
    }
    const pipelineLogger = logger.child({ component: 'pipeline' })
    if (role === 'ingest') {
      await state.close()
    } else if (inWorker) {
      await state.close() // the worker opens its own connection
      // With partitioned profile updates the host also watches events.resolved: in the same cluster on Kafka,
      // in the output log file (read-only here, the worker appends) in the embedded mode.
      let output: EventLog | undefined
      if (profileUpdatesMode(config) === 'partitioned') {
        if (config.log.kind === 'kafka') output = log
        else {
          const opened = await openLog(config, { path: layout.outputLog, readOnly: true, keyring })
          await opened.ensureTopic(TOPICS.resolved, config.log.partitions, topicSettings)
          closers.push(() => opened.close())
          output = opened
        }
      }
      pipeline = startWorkerPipeline({
        config, paths: { rawLog: layout.rawLog, outputLog: layout.outputLog, state: layout.state },
        input: log, ...(output ? { output } : {}), logger: pipelineLogger, onBatch,
      })
    } else {
      const output: EventLog = config.log.kind === 'memory'
        ? new SealedEventLog(new MemoryEventLog(), { keyring, seal: config.governance.encryption.enabled })
        : await openLog(config, { path: layout.outputLog, role: 'pipeline-out', logger, keyring })
      await output.ensureTopic(TOPICS.resolved, config.log.partitions, topicSettings)
      await output.ensureTopic(TOPICS.deadLetter, 1, topicSettings)
      outputLog = output
      closers.push(() => output.close(), () => state.close())
      pipeline = startInProcessPipeline({ config, input: log, output, state, logger: pipelineLogger, onBatch, identifiers })
    }
    const running = pipeline
    // Stopped once, by whichever closer comes first (the identity audit relay's stops it before its last drain).
    let stopping: Promise<void> | undefined
    const stopPipeline = (): Promise<void> => (stopping ??= running ? running.stop() : Promise.resolve())
    if (running) closers.push(stopPipeline)

    // Admin reads, exports and DSARs see identifiers in clear (where the policies allow); the store holds pseudonyms.
    const reader: ProfileReader = revealingReader(sealedReader(await openReader(config, layout.state), sealing), identifiers)
    closers.push(() => reader.close())
    const governance = await openGovernance(config, layout.dataDir, clock, (e) => logger.error({ err: { message: e.message } }, 'audit log write failed'))
    closers.push(() => governance.close())
    if (running) {
      // The identity audit relay runs where the pipeline runs (embedded, or each `--role pipeline` worker; on
      // PostgreSQL one at a time, by its lease). On shutdown it stops after the pipeline, with a last drain, so the
      // merges of the last batches are in the audit log before it closes (anything left is relayed on next start).
      const outbox = await openIdentityAuditOutbox(config, layout.state)
      const relayLogger = logger.child({ component: 'identity-audit-relay' })
      const relay = startIdentityAuditRelay({
        outbox, audit: governance.audit, intervalMs: config.governance.audit.identityRelayIntervalSeconds * 1000,
        onRound: (t) => relayLogger.debug({ rows: t.rows, recorded: t.recorded, alreadyAudited: t.alreadyAudited }, 'identity changes relayed to the audit log'),
        onError: (e) => relayLogger.error({ err: { message: e.message } }, 'identity audit relay failed; the changes stay queued and are retried'),
      })
      closers.push(async () => {
        try {
          await stopPipeline()
          await relay.stop()
        } finally {
          await outbox.close()
        }
      })
    }
    if (!governance.engine.status.ok) logger.error({ errors: governance.engine.status.errors }, 'access policies failed to load: every admin read is denied until they are fixed and reloaded')
    // SIGHUP reloads the access policies (as does POST /v1/admin/policies/reload).
    const onHangup = (): void => {
      governance.reloadPolicies({ type: 'system', id: 'SIGHUP' }, 'SIGHUP').then((s) => {
        if (s.ok) logger.info({ version: s.version, hash: s.hash }, 'access policies reloaded')
        else logger.error({ errors: s.errors }, 'access policies failed to reload: every admin read is denied until they are fixed')
      }, (e: unknown) => logger.error({ err: { message: (e as Error).message } }, 'policy reload failed'))
    }
    process.on('SIGHUP', onHangup)
    closers.push(() => void process.off('SIGHUP', onHangup))
    const consent = await openConsent(config, layout.dataDir, governance.audit, clock, identifiers)
    closers.push(() => consent.close())
    const privacyStore = await openPrivacyStore(config, layout.dataDir)
    closers.push(() => privacyStore.close())
    const counter = new PrivateCounter({
      reader, store: privacyStore, config: config.governance.dp, clock, ledger: consent.ledger,
      ...(sealing ? { assertCountable: (filter) => sealing.assertCountable(filter) } : {}),
    })
    // Retention runs in the main process of a process that owns the state (not in the ingest-only role).
    if (role !== 'ingest') {
      const stopRetention = startRetentionJob({
        config, statePath: layout.state, audit: governance.audit, clock, sealing,
        openLogTopics: () => openRetentionLogs(config, layout, { raw: log, ...(outputLog ? { output: outputLog } : {}) }),
        onReport: (r) => logger.info({ events: r.events, traits: r.traits, profiles: r.profilesChanged, log: r.log }, 'retention run'),
        onError: (e) => logger.error({ err: { message: e.message } }, 'retention run failed'),
      })
      closers.push(stopRetention)
    }
    const rules = compileIdentityRules(config.identity.types, config.identity.defaultPhoneRegion, config.identity.maxProfileSize, identifiers)
    const normalizeIdentifier = (type: string, value: string): string | null => {
      const rule = rules.byName(type)
      return rule ? rule.normalize(value) : value
    }
    const verificationStore = await openVerificationStore(config, layout.dataDir)
    closers.push(() => verificationStore.close())
    const channel = verificationChannel(config, clock)
    const verification = new RequesterVerification({
      store: verificationStore, channel, audit: governance.audit, clock, config: config.governance.dsar.verification,
    })
    const dsar = new DsarService({
      store: privacyStore, reader, ledger: consent.ledger, audit: governance.audit, clock, verification, channel,
      suppression: new SuppressionList(privacyStore, loadOrCreateSuppressionKey(suppressionKeyPath(config))),
      openErasure: () => openErasureStore(config, layout.state),
      shred: keyring === null ? null : (subjects) => keyring.shred(subjects),
      storedKey: (key) => {
        const { type, value } = splitIdentifierKey(key)
        return identifiers.storedKey(type, value)
      },
      identifierOf: (text, field) => {
        const at = text.indexOf(':')
        const type = text.slice(0, at)
        if (at < 1 || !rules.byName(type)) throw new ValidationError(field, `${JSON.stringify(type.slice(0, 40))} is not a configured identifier type (one of: ${rules.types.map((t) => t.name).join(', ')})`)
        const value = normalizeIdentifier(type, text.slice(at + 1))
        if (value === null || value === '') throw new ValidationError(field, `is not a valid ${type} value`)
        return { type, value, key: `${type}:${value}` }
      },
      appendRaw: async (events) => {
        await log.append(TOPICS.raw, events.map((e) => ({ key: String(e.userId ?? e.anonymousId ?? e.messageId), value: JSON.stringify(e), timestamp: clock.now() })))
      },
    })
    const workloadStore = await openWorkloadStore(config, layout.dataDir)
    closers.push(() => workloadStore.close())
    const app = await buildApp({
      config, sources: auth.sources, adminTokens: auth.adminTokens, log, reader, pipeline, metrics, clock, logger,
      ingest: role !== 'pipeline',
      // As the pipeline: a value its type's normaliser rejects is never an identifier (null = not found).
      normalizeIdentifier: (type, value) => {
        const rule = rules.byName(type)
        return rule ? rule.normalize(value) : value
      },
      version: packageVersion(),
      identifiers,
      profileSealing: sealing,
      governance,
      consent: {
        ledger: consent.ledger, identifierTypes: rules.types.map((t) => t.name),
        // The ledger is given clear keys, as every other caller gives it (it keys them itself).
        identifiersOf: (event) => extractIdentifiers(event, rules).identifiers.map((i) => identifierKey(i.type, i.clear)),
      },
      privacy: { counter, dsar },
      workload: {
        service: new WorkloadService(workloadStore, config.workload, clock),
        maxUploadBytes: Math.round(config.workload.maxUploadMb * 1024 * 1024), fetchJson: httpFetchJson(),
      },
    })
    closers.push(() => app.close())
    let url = ''
    if (options.listen ?? true) {
      url = await app.listen({ port: config.port, host: config.host })
      url = url.replace('://0.0.0.0', '://127.0.0.1').replace('://[::]', '://127.0.0.1')
    }
    return { app, url, auth, credentialsCreated: ensured.created, layout, pipeline, metrics, close }
  } catch (error) {
    await close()
    throw error
  }
}
