/**
 * @module Typed configuration: defaults, `tessera.config.json`, then environment overrides, validated once.
 * The composition root (src/app/) is the only reader; everything else receives the frozen parts it needs.
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { ConfigError } from '../core/errors.js'
import { DEFAULT_IDENTIFIER_TYPES, NORMALIZERS, parseWindow, type IdentifierTypeConfig } from './identity-types.js'
import { SAFE_DEFAULT, validateClassification, type Classification } from '../governance/classification.js'
import { DEFAULT_RESIDENCY, type ResidencyConfig } from '../governance/residency.js'
import type { Pkcs11Config } from '../governance/crypto/pkcs11-kms.js'
import { DEFAULT_CONSENT, validateConsentConfig, type ConsentConfig } from '../governance/consent/consent-config.js'
import { validateLogRetention } from '../governance/retention/log-retention.js'
import { DEFAULT_DP, DEFAULT_DSAR, DEFAULT_RETENTION, validatePrivacyConfig, type DpConfig, type DsarConfig, type RetentionConfig } from '../governance/privacy-config.js'
import { DEFAULT_WORKLOAD, validateWorkloadConfig, type WorkloadConfig } from '../workload/workload-config.js'

export interface SourceConfig {
  /** Stable id recorded on every event (`web`, `ios`, `crm`). */
  readonly id: string
  readonly name: string
  readonly writeKeys: readonly string[]
}

export interface AdminTokenConfig {
  readonly name: string
  readonly token: string
  /**
   * Roles for the access policies (admin, analyst, marketer, support, privacy_officer, or your own). A token
   * without `roles` is an admin token bound to the purpose `administration` (how tokens worked before roles).
   */
  readonly roles?: readonly string[]
  /** Attributes the policies can test, e.g. `{ "region": "EU", "team": "growth" }`. */
  readonly attributes?: { readonly region?: string; readonly team?: string }
  /** Binds the token to one purpose: X-Tessera-Purpose may then be left out, and may not differ. */
  readonly purpose?: string
}

export interface GovernanceConfig {
  readonly policies: {
    /** Load the policies shipped in Tessera's `policies/` folder (default true). */
    readonly includeDefaults: boolean
    /** A directory of your own `*.cedar` policies, loaded after the shipped ones (TESSERA_POLICY_DIR). */
    readonly dir?: string
  }
  /** The purposes an admin read may state, each with the legal basis recorded in the audit log. */
  readonly purposes: Readonly<Record<string, { readonly legalBasis: string; readonly description?: string }>>
  readonly classification: {
    /** Extra or overriding rules: rooted dotted path (`traits.diagnosis`, `properties.cart.*`) → category and sensitivity. */
    readonly fields: Readonly<Record<string, Classification>>
    /** What a field no rule matches is (never public). */
    readonly default: Classification
  }
  /** Where a profile's residency region comes from (for row-level rules). */
  readonly residency: ResidencyConfig
  readonly audit: {
    /** Sign a checkpoint once this many entries are not covered by one... */
    readonly checkpointEvery: number
    /** ... or this many seconds after the first uncovered entry. */
    readonly checkpointIntervalSeconds: number
    /** The log's name in its checkpoints (no spaces). */
    readonly origin: string
    /** The Ed25519 signing key (PEM); default `<dataDir>/audit-signing-key.pem`, created on first start. */
    readonly signingKeyFile?: string
    /**
     * How often the process running the pipeline moves queued merges, scored matches and quarantines into the audit
     * log (seconds between drains once caught up; src/identity/identity-audit-relay.ts). Default 1.
     */
    readonly identityRelayIntervalSeconds: number
  }
  /** The consent ledger: purposes, enforcement at ingest, defaults per jurisdiction, TCF/CMP mappings (docs/privacy.md). */
  readonly consent: ConsentConfig
  /** Differentially private counts: the ε budget per token and period (docs/privacy.md). */
  readonly dp: DpConfig
  /** Retention schedule per data category, and how often `tessera up` enforces it. */
  readonly retention: RetentionConfig
  /** Data-subject requests (access, erasure, opt-out, correction). */
  readonly dsar: DsarConfig
  /** Encryption at rest of the event log with per-subject data keys, and crypto-shredding (docs/privacy.md). */
  readonly encryption: EncryptionConfig
}

export interface EncryptionConfig {
  /** Seal new event-log records (default true; TESSERA_ENCRYPTION=off|on). Sealed records stay readable when turned off. */
  readonly enabled: boolean
  /** The master key file; default `<dataDir>/master.key`, created (0600) on the first start. TESSERA_MASTER_KEY replaces it. */
  readonly keyFile?: string
  /** How long an unwrapped data key is reused without reading the key store (a shred by another process applies after this). */
  readonly cacheTtlSeconds: number
  /** Master keys in an HSM through PKCS#11 instead of the key file (src/governance/crypto/pkcs11-kms.ts). */
  readonly pkcs11?: Pkcs11Config
}

export const DEFAULT_ENCRYPTION: EncryptionConfig = { enabled: true, cacheTtlSeconds: 60 }

export const DEFAULT_PURPOSES: GovernanceConfig['purposes'] = {
  administration: { legalBasis: 'legitimate_interest', description: 'operating and troubleshooting Tessera' },
  analytics: { legalBasis: 'legitimate_interest', description: 'product and marketing analytics' },
  marketing: { legalBasis: 'consent', description: 'campaigns and personalisation' },
  support: { legalBasis: 'contract', description: 'helping a customer who contacted us' },
  privacy_request: { legalBasis: 'legal_obligation', description: 'answering a data-subject request (GDPR Art. 15-22, CCPA)' },
  audit: { legalBasis: 'legal_obligation', description: 'reviewing who accessed personal data' },
  security: { legalBasis: 'legitimate_interest', description: 'investigating abuse and incidents' },
}

export const LOG_KINDS = ['embedded', 'memory', 'kafka'] as const
export type LogKind = (typeof LOG_KINDS)[number]
export const STORE_KINDS = ['sqlite', 'postgres'] as const
export type StoreKind = (typeof STORE_KINDS)[number]
export const SYNC_MODES = ['full', 'normal'] as const
export type SyncMode = (typeof SYNC_MODES)[number]

export const PROFILE_UPDATES_MODES = ['auto', 'inline', 'partitioned'] as const
export type ProfileUpdatesMode = (typeof PROFILE_UPDATES_MODES)[number]

/** The profile-update mode in effect: `auto` resolved by the log kind. */
export function profileUpdatesMode(config: TesseraConfig): 'inline' | 'partitioned' {
  const mode = config.pipeline.profileUpdates
  if (mode !== 'auto') return mode
  return config.log.kind === 'kafka' ? 'partitioned' : 'inline'
}

export interface TesseraConfig {
  readonly host: string
  readonly port: number
  readonly dataDir: string
  readonly logLevel: string
  readonly sources: readonly SourceConfig[]
  readonly adminTokens: readonly AdminTokenConfig[]
  readonly log: {
    readonly kind: LogKind
    /** Partitions of `events.raw` (fixed at topic creation). */
    readonly partitions: number
    /** `full` fsyncs every group commit (power-loss safe); `normal` is crash safe (kill -9) but not power-loss safe. */
    readonly sync: SyncMode
    /** Bytes waiting for a group commit beyond which ingest answers 429. */
    readonly maxPendingBytes: number
    /** Kafka bootstrap brokers (`host:port`), when kind is `kafka`. */
    readonly brokers: readonly string[]
    /** Kafka client id prefix (the role is appended). */
    readonly clientId: string
    /**
     * `retention.ms` of the Kafka topics Tessera creates; default the events' retention schedule (docs/operations.md).
     * At most that schedule. The embedded log is cut by the retention job instead.
     */
    readonly retentionMs?: number
  }
  readonly store: {
    readonly kind: StoreKind
    /** PostgreSQL connection URL (`postgres://user:password@host:5432/db`); required when kind is `postgres`. */
    readonly url?: string
    /** PostgreSQL schema of Tessera's tables (created on start). */
    readonly schema: string
    /** Connections of each PostgreSQL pool (pipeline; the admin API's reader uses up to 4 more). */
    readonly poolSize: number
  }
  readonly ingest: {
    /** Segment: 32 KB per event. */
    readonly maxEventBytes: number
    /** Segment: 500 KB per batch request. */
    readonly maxBatchBytes: number
    /** Origins allowed by CORS (`*` for any). */
    readonly corsOrigins: readonly string[]
  }
  readonly pipeline: {
    readonly batchSize: number
    readonly maxWaitMs: number
    /** How long a messageId is remembered for deduplication (Segment: at least 24 h). */
    readonly dedupeWindowHours: number
    /** Inactivity that ends a session. */
    readonly sessionTimeoutMinutes: number
    /** Events kept per profile in the timeline (oldest dropped first); 0 keeps all. */
    readonly timelineLimit: number
    /** Publish resolved, profile-keyed events to `events.resolved` for downstream consumers. */
    readonly publishResolved: boolean
    /** Run the pipeline in a worker thread (default) or on the main thread. */
    readonly worker: boolean
    /**
     * Where profiles are updated. `inline`: in the identity transaction (one stage; the embedded default).
     * `partitioned`: by the owner of the profile's partition of `events.resolved`, a second consumer group, with
     * merges sent as messages (the scale-out default). `auto` picks `partitioned` on Kafka, `inline` otherwise.
     */
    readonly profileUpdates: ProfileUpdatesMode
  }
  readonly identity: {
    readonly types: readonly IdentifierTypeConfig[]
    /** Region used to read phone numbers without a country code (ISO 3166 alpha-2). */
    readonly defaultPhoneRegion: string
    /**
     * Global size cap of a profile's identity graph: a link that would give a profile more identifiers than this is
     * refused (`component_cap`), whatever the types' own maxProfileIdentifiers allow.
     */
    readonly maxProfileSize: number
    /** Real-time probabilistic matching in the identity stage (docs/identity.md, "Real-time matching"). */
    readonly matching: MatchingConfig
  }
  readonly governance: GovernanceConfig
  /** The Spark workload advisor (docs/workload.md). */
  readonly workload: WorkloadConfig
}

/** identity.maxProfileSize by default: twice the types' default cap, a ceiling for types configured above it. */
export const DEFAULT_MAX_PROFILE_SIZE = 1000

/** identity.matching: off by default; a trained model file (`tessera match-train`) and the pipeline's thresholds. */
export interface MatchingConfig {
  readonly enabled: boolean
  /** Path of the trained model (`model.json`), relative to the working directory. */
  readonly model: string
  /** Merge at or above this match probability (written as a scored `probabilistic` edge). */
  readonly autoMerge: number
  /** Queue for review from this probability up to `autoMerge`. */
  readonly review: number
  /** Blocking keys shared by more profiles than this are not used for lookups. */
  readonly maxBlockSize: number
  /**
   * Opt-in: a key shared by more profiles than this (a date of birth alone at a million profiles) is used only when
   * none of the event's other keys, each shared by at most this many, holds any profile. Fewer reads, fewer matches
   * found (docs/identity.md, "Speed"); null (the default): every key under maxBlockSize is used.
   */
  readonly preferBlockSize: number | null
  /**
   * The consent purpose that training the matcher on stored profiles (`tessera match-train --from-profiles`) rests
   * on: a profile whose effective consent refuses it is left out of the training data.
   */
  readonly trainingPurpose: string
}

export const DEFAULT_MATCHING: MatchingConfig = { enabled: false, model: '', autoMerge: 0.99, review: 0.8, maxBlockSize: 100, preferBlockSize: null, trainingPurpose: 'analytics' }

export const CONFIG_FILE = 'tessera.config.json'

export function defaultConfig(): TesseraConfig {
  return {
    host: '0.0.0.0',
    port: 3000,
    dataDir: './data',
    logLevel: 'info',
    sources: [],
    adminTokens: [],
    log: { kind: 'embedded', partitions: 4, sync: 'full', maxPendingBytes: 64 * 1024 * 1024, brokers: [], clientId: 'tessera' },
    store: { kind: 'sqlite', schema: 'tessera', poolSize: 10 },
    ingest: { maxEventBytes: 32 * 1024, maxBatchBytes: 500 * 1024, corsOrigins: ['*'] },
    pipeline: {
      batchSize: 2000, maxWaitMs: 50, dedupeWindowHours: 7 * 24, sessionTimeoutMinutes: 30,
      timelineLimit: 1000, publishResolved: true, worker: true, profileUpdates: 'auto',
    },
    identity: { types: DEFAULT_IDENTIFIER_TYPES, defaultPhoneRegion: 'US', maxProfileSize: DEFAULT_MAX_PROFILE_SIZE, matching: DEFAULT_MATCHING },
    governance: {
      policies: { includeDefaults: true },
      purposes: DEFAULT_PURPOSES,
      classification: { fields: {}, default: SAFE_DEFAULT },
      residency: DEFAULT_RESIDENCY,
      audit: { checkpointEvery: 1000, checkpointIntervalSeconds: 10, origin: 'tessera/audit', identityRelayIntervalSeconds: 1 },
      consent: DEFAULT_CONSENT,
      dp: DEFAULT_DP,
      retention: DEFAULT_RETENTION,
      dsar: DEFAULT_DSAR,
      encryption: DEFAULT_ENCRYPTION,
    },
    workload: DEFAULT_WORKLOAD,
  }
}

type Env = Readonly<Record<string, string | undefined>>

export interface LoadOptions {
  /** Path of the config file; default `$TESSERA_CONFIG` or `./tessera.config.json` if it exists. */
  readonly file?: string
  readonly env?: Env
  /** Values that win over file and environment (CLI flags, tests). */
  readonly overrides?: DeepPartial<TesseraConfig>
}

export type DeepPartial<T> = { -readonly [K in keyof T]?: T[K] extends readonly (infer _)[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] }

export function loadConfig(options: LoadOptions = {}): TesseraConfig {
  const env = options.env ?? process.env
  let merged: unknown = defaultConfig()
  const file = options.file ?? env.TESSERA_CONFIG ?? (existsSync(CONFIG_FILE) ? CONFIG_FILE : undefined)
  if (file !== undefined) merged = deepMerge(merged, readConfigFile(file))
  merged = deepMerge(merged, envOverrides(env))
  if (options.overrides) merged = deepMerge(merged, options.overrides)
  return Object.freeze(validateConfig(merged))
}

function readConfigFile(file: string): unknown {
  const path = resolve(file)
  if (!existsSync(path)) throw new ConfigError(`config file ${path} does not exist (set TESSERA_CONFIG or create it)`)
  try {
    return JSON.parse(readFileSync(path, 'utf8'))
  } catch (cause) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(cause as Error).message}`)
  }
}

function envOverrides(env: Env): Record<string, unknown> {
  const out: Record<string, Record<string, unknown> | unknown> = {}
  const log: Record<string, unknown> = {}
  if (env.TESSERA_PORT !== undefined) out.port = parseIntEnv('TESSERA_PORT', env.TESSERA_PORT)
  if (env.TESSERA_HOST !== undefined) out.host = env.TESSERA_HOST
  if (env.TESSERA_DATA_DIR !== undefined) out.dataDir = env.TESSERA_DATA_DIR
  if (env.TESSERA_LOG_LEVEL !== undefined) out.logLevel = env.TESSERA_LOG_LEVEL
  if (env.TESSERA_LOG !== undefined) log.kind = env.TESSERA_LOG
  if (env.TESSERA_KAFKA_BROKERS !== undefined) log.brokers = env.TESSERA_KAFKA_BROKERS.split(',').map((b) => b.trim()).filter((b) => b !== '')
  if (env.TESSERA_LOG_SYNC !== undefined) log.sync = env.TESSERA_LOG_SYNC
  if (Object.keys(log).length > 0) out.log = log
  const store: Record<string, unknown> = {}
  if (env.TESSERA_STORE !== undefined) store.kind = env.TESSERA_STORE
  if (env.TESSERA_DATABASE_URL !== undefined) store.url = env.TESSERA_DATABASE_URL
  if (Object.keys(store).length > 0) out.store = store
  const governance: Record<string, unknown> = {}
  if (env.TESSERA_POLICY_DIR !== undefined) governance.policies = { dir: env.TESSERA_POLICY_DIR }
  if (env.TESSERA_ENCRYPTION !== undefined) governance.encryption = { enabled: parseOnOff('TESSERA_ENCRYPTION', env.TESSERA_ENCRYPTION) }
  if (Object.keys(governance).length > 0) out.governance = governance
  const pipeline: Record<string, unknown> = {}
  if (env.TESSERA_PIPELINE_WORKER !== undefined) pipeline.worker = env.TESSERA_PIPELINE_WORKER !== '0' && env.TESSERA_PIPELINE_WORKER !== 'false'
  if (env.TESSERA_PROFILE_UPDATES !== undefined) pipeline.profileUpdates = env.TESSERA_PROFILE_UPDATES
  if (Object.keys(pipeline).length > 0) out.pipeline = pipeline
  return out
}

function parseOnOff(name: string, value: string): boolean {
  const v = value.trim().toLowerCase()
  if (v === 'on' || v === 'true' || v === '1') return true
  if (v === 'off' || v === 'false' || v === '0') return false
  throw new ConfigError(`${name}=${JSON.stringify(value)} must be on or off`, name)
}

function parseIntEnv(name: string, value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n)) throw new ConfigError(`${name}=${JSON.stringify(value)} is not an integer`, name)
  return n
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch === undefined ? base : patch
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(patch)) out[k] = deepMerge(base[k], v)
  return out
}

function isPostgresUrl(text: string): boolean {
  if (!URL.canParse(text)) return false
  const url = new URL(text)
  return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname.length > 0
}

/** Checks every field and names the first bad one with how to fix it. */
export function validateConfig(value: unknown): TesseraConfig {
  const c = value as TesseraConfig
  const need = (ok: boolean, field: string, message: string): void => {
    if (!ok) throw new ConfigError(`config ${field}: ${message}`, field)
  }
  const isInt = (n: unknown, min: number): boolean => Number.isInteger(n) && (n as number) >= min
  need(isPlainObject(value), '(root)', 'must be a JSON object')
  need(isInt(c.port, 0) && c.port <= 65535, 'port', 'must be an integer between 0 and 65535')
  need(typeof c.host === 'string' && c.host.length > 0, 'host', 'must be a host name or address')
  need(typeof c.dataDir === 'string' && c.dataDir.length > 0, 'dataDir', 'must be a folder path')
  need(Array.isArray(c.sources), 'sources', 'must be an array of {id, name, writeKeys}')
  c.sources.forEach((s, i) => {
    need(typeof s.id === 'string' && /^[a-z0-9][a-z0-9_-]*$/i.test(s.id), `sources[${i}].id`, 'must be letters, digits, - or _')
    need(typeof s.name === 'string', `sources[${i}].name`, 'must be a string')
    need(Array.isArray(s.writeKeys) && s.writeKeys.length > 0 && s.writeKeys.every((k) => typeof k === 'string' && k.length >= 8),
      `sources[${i}].writeKeys`, 'must hold at least one write key of 8 or more characters')
  })
  const keys = c.sources.flatMap((s) => s.writeKeys)
  need(new Set(keys).size === keys.length, 'sources', 'a write key is used by two sources')
  need(Array.isArray(c.adminTokens), 'adminTokens', 'must be an array of {name, token}')
  c.adminTokens.forEach((t, i) => {
    need(typeof t.token === 'string' && t.token.length >= 16, `adminTokens[${i}].token`, 'must be at least 16 characters')
    need(typeof t.name === 'string' && t.name.length > 0 && t.name.length <= 100, `adminTokens[${i}].name`, 'must be a name of 1 to 100 characters (it identifies the token in policies and the audit log)')
    need(t.roles === undefined || (Array.isArray(t.roles) && t.roles.every((r) => typeof r === 'string' && /^[a-z][a-z0-9_]*$/.test(r))),
      `adminTokens[${i}].roles`, 'must be a list of role names (lower case, e.g. ["analyst"])')
    need(t.attributes === undefined || (isPlainObject(t.attributes) && Object.entries(t.attributes).every(([k, v]) => (k === 'region' || k === 'team') && typeof v === 'string')),
      `adminTokens[${i}].attributes`, 'may hold only "region" and "team", as strings')
    need(t.purpose === undefined || (typeof t.purpose === 'string' && Object.hasOwn(c.governance?.purposes ?? {}, t.purpose)),
      `adminTokens[${i}].purpose`, `must be one of the configured purposes (${Object.keys(c.governance?.purposes ?? {}).join(', ')})`)
  })
  const tokenNames = c.adminTokens.map((t) => t.name)
  need(new Set(tokenNames).size === tokenNames.length, 'adminTokens', 'two tokens have the same name (names identify tokens in policies and the audit log)')
  need((LOG_KINDS as readonly string[]).includes(c.log?.kind), 'log.kind', `must be one of ${LOG_KINDS.join(', ')}`)
  need(Array.isArray(c.log.brokers) && c.log.brokers.every((b) => typeof b === 'string' && /^[^\s:]+:\d+$/.test(b)), 'log.brokers', 'must be a list of host:port (TESSERA_KAFKA_BROKERS=host:port,host:port)')
  need(c.log.kind !== 'kafka' || c.log.brokers.length > 0, 'log.brokers', 'is required when log.kind is kafka (set TESSERA_KAFKA_BROKERS=host:port,...)')
  need(typeof c.log.clientId === 'string' && c.log.clientId.length > 0, 'log.clientId', 'must be a non-empty string')
  need(isInt(c.log.partitions, 1) && c.log.partitions <= 256, 'log.partitions', 'must be an integer from 1 to 256')
  need((SYNC_MODES as readonly string[]).includes(c.log.sync), 'log.sync', `must be one of ${SYNC_MODES.join(', ')}`)
  need(isInt(c.log.maxPendingBytes, 1024), 'log.maxPendingBytes', 'must be an integer >= 1024')
  need((STORE_KINDS as readonly string[]).includes(c.store?.kind), 'store.kind', `must be one of ${STORE_KINDS.join(', ')}`)
  if (c.store.kind === 'postgres') {
    need(typeof c.store.url === 'string' && isPostgresUrl(c.store.url), 'store.url',
      'must be a postgres://user:password@host:5432/database URL when store.kind is postgres (or set TESSERA_DATABASE_URL)')
  }
  need(typeof c.store.schema === 'string' && /^[a-z_][a-z0-9_]{0,62}$/.test(c.store.schema), 'store.schema',
    'must be a lower-case PostgreSQL identifier (letters, digits, _; at most 63)')
  need(isInt(c.store.poolSize, 1) && c.store.poolSize <= 1000, 'store.poolSize', 'must be an integer from 1 to 1000')
  need(isInt(c.ingest?.maxEventBytes, 1024), 'ingest.maxEventBytes', 'must be an integer >= 1024')
  need(isInt(c.ingest.maxBatchBytes, c.ingest.maxEventBytes), 'ingest.maxBatchBytes', 'must be an integer >= ingest.maxEventBytes')
  need(Array.isArray(c.ingest.corsOrigins), 'ingest.corsOrigins', 'must be an array of origins or ["*"]')
  need(isInt(c.pipeline?.batchSize, 1), 'pipeline.batchSize', 'must be a positive integer')
  need(isInt(c.pipeline.maxWaitMs, 1), 'pipeline.maxWaitMs', 'must be a positive integer')
  need(typeof c.pipeline.dedupeWindowHours === 'number' && c.pipeline.dedupeWindowHours >= 24, 'pipeline.dedupeWindowHours', 'must be at least 24 (Segment semantics)')
  need(typeof c.pipeline.sessionTimeoutMinutes === 'number' && c.pipeline.sessionTimeoutMinutes > 0, 'pipeline.sessionTimeoutMinutes', 'must be positive')
  need(isInt(c.pipeline.timelineLimit, 0), 'pipeline.timelineLimit', 'must be an integer >= 0')
  need((PROFILE_UPDATES_MODES as readonly unknown[]).includes(c.pipeline.profileUpdates), 'pipeline.profileUpdates',
    `must be one of ${PROFILE_UPDATES_MODES.join(', ')} (TESSERA_PROFILE_UPDATES)`)
  need(c.pipeline.publishResolved || profileUpdatesMode(c) === 'inline', 'pipeline.publishResolved',
    'must be true when profiles are updated by partition (pipeline.profileUpdates partitioned, the default on Kafka): the profile owners read events.resolved')
  need(Array.isArray(c.identity?.types) && c.identity.types.length > 0, 'identity.types', 'must list at least one identifier type')
  const names = new Set<string>()
  c.identity.types.forEach((t, i) => {
    const f = `identity.types[${i}]`
    need(typeof t.name === 'string' && /^[a-z][a-z0-9_]*$/.test(t.name), `${f}.name`, 'must be lower-case letters, digits and _')
    need(!names.has(t.name), `${f}.name`, `duplicate type ${t.name}`)
    names.add(t.name)
    need(isInt(t.priority, 1), `${f}.priority`, 'must be an integer >= 1 (1 is highest)')
    need(isInt(t.limit, 1), `${f}.limit`, 'must be an integer >= 1')
    need(typeof t.unique === 'boolean', `${f}.unique`, 'must be true or false')
    need((NORMALIZERS as readonly string[]).includes(t.normalize), `${f}.normalize`, `must be one of ${NORMALIZERS.join(', ')}`)
    need(Array.isArray(t.blocked), `${f}.blocked`, 'must be an array of strings')
    need(Array.isArray(t.blockedPatterns), `${f}.blockedPatterns`, 'must be an array of regular expressions')
    for (const p of t.blockedPatterns) {
      try {
        new RegExp(p)
      } catch (cause) {
        throw new ConfigError(`config ${f}.blockedPatterns: ${JSON.stringify(p)} is not a valid regular expression (${(cause as Error).message})`, `${f}.blockedPatterns`)
      }
    }
    need(Array.isArray(t.paths), `${f}.paths`, 'must be an array of dotted paths')
    need(t.window === undefined || (typeof t.window === 'string' && parseWindow(t.window) !== null), `${f}.window`,
      'must be a time window such as "7d", "12h", "2w" or "ever" (how far back values count towards limit)')
    need(t.quarantine === undefined || t.quarantine === null || (isPlainObject(t.quarantine) && isInt(t.quarantine.profiles, 1)
      && typeof t.quarantine.window === 'string' && parseWindow(t.quarantine.window) !== null), `${f}.quarantine`,
      'must be null or { "profiles": N >= 1, "window": "30d" } (quarantine a value that links more than N profiles within the window)')
    need(t.maxProfileIdentifiers === undefined || isInt(t.maxProfileIdentifiers, 2), `${f}.maxProfileIdentifiers`,
      'must be an integer >= 2 (the most identifiers a profile may reach through an identifier of this type)')
  })
  need(typeof c.identity.defaultPhoneRegion === 'string' && /^[A-Z]{2}$/.test(c.identity.defaultPhoneRegion), 'identity.defaultPhoneRegion', 'must be an ISO 3166 alpha-2 code such as US')
  need(isInt(c.identity.maxProfileSize, 2) && c.identity.maxProfileSize <= 1_000_000, 'identity.maxProfileSize', 'must be an integer from 2 to 1000000 (identifiers per profile), e.g. 1000')
  const mt = c.identity.matching
  need(isPlainObject(mt), 'identity.matching', 'must be an object such as { "enabled": true, "model": "model.json" }')
  need(typeof mt.enabled === 'boolean', 'identity.matching.enabled', 'must be true or false')
  need(typeof mt.model === 'string' && (!mt.enabled || mt.model.length > 0), 'identity.matching.model', 'must be the path of a model trained with `tessera match-train` when matching is enabled')
  need(typeof mt.review === 'number' && mt.review > 0 && mt.review < 1, 'identity.matching.review', 'must be a probability between 0 and 1, e.g. 0.8')
  need(typeof mt.autoMerge === 'number' && mt.autoMerge >= mt.review && mt.autoMerge < 1, 'identity.matching.autoMerge', 'must be a probability below 1 and at least identity.matching.review, e.g. 0.99')
  need(isInt(mt.maxBlockSize, 1) && mt.maxBlockSize <= 10_000, 'identity.matching.maxBlockSize', 'must be an integer from 1 to 10000')
  need(mt.preferBlockSize === null || (isInt(mt.preferBlockSize, 1) && mt.preferBlockSize <= mt.maxBlockSize), 'identity.matching.preferBlockSize',
    'must be null (off) or an integer from 1 to identity.matching.maxBlockSize, e.g. 20')
  const consentPurposes = Object.keys(c.governance?.consent?.purposes ?? {})
  need(typeof mt.trainingPurpose === 'string' && consentPurposes.includes(mt.trainingPurpose), 'identity.matching.trainingPurpose',
    `must be one of the consent purposes (${consentPurposes.join(', ')}): a profile that refuses it is not trained on`)
  validateGovernance(c.governance, need)
  validateWorkloadConfig(c.workload, need)
  validateLogRetention(c)
  return c
}

function validatePkcs11(p: Pkcs11Config, need: (ok: boolean, field: string, message: string) => void): void {
  const f = 'governance.encryption.pkcs11'
  const label = (v: unknown): boolean => typeof v === 'string' && v.length > 0 && v.length <= 64 && ![...v].some((ch) => ch === ':' || ch.charCodeAt(0) < 0x20)
  need(isPlainObject(p), f, 'must be an object such as { "library": "/usr/lib/softhsm/libsofthsm2.so", "token": "tessera", "keyLabel": "tessera-master-1" }')
  need(typeof p.library === 'string' && p.library.length > 0, `${f}.library`, 'must be the path of the HSM\'s PKCS#11 module (.so), e.g. /usr/lib/softhsm/libsofthsm2.so')
  need(typeof p.token === 'string' && p.token.length > 0 && p.token.length <= 32, `${f}.token`, 'must be the token\'s label (at most 32 characters)')
  need(label(p.keyLabel), `${f}.keyLabel`, 'must be the label of the AES master key (1 to 64 characters, no control characters or ":"), e.g. tessera-master-1')
  need(p.retiredKeyLabels === undefined || (Array.isArray(p.retiredKeyLabels) && p.retiredKeyLabels.every(label) && !p.retiredKeyLabels.includes(p.keyLabel)), `${f}.retiredKeyLabels`,
    'must list the labels of earlier master keys that still unwrap (a rotation in progress), not the current one; [] when none')
  need(p.pinEnv === undefined || typeof p.pinEnv === 'string' && /^[A-Z_][A-Z0-9_]*$/.test(p.pinEnv), `${f}.pinEnv`, 'must name the environment variable holding the token\'s PIN, e.g. TESSERA_PKCS11_PIN (the PIN is never in the config file)')
}

function validateGovernance(g: GovernanceConfig, need: (ok: boolean, field: string, message: string) => void): void {
  need(isPlainObject(g), 'governance', 'must be an object')
  need(isPlainObject(g.policies) && typeof g.policies.includeDefaults === 'boolean', 'governance.policies.includeDefaults', 'must be true or false')
  need(g.policies.dir === undefined || (typeof g.policies.dir === 'string' && g.policies.dir.length > 0), 'governance.policies.dir', 'must be a directory path')
  need(g.policies.includeDefaults || g.policies.dir !== undefined, 'governance.policies', 'with includeDefaults false, set dir to your own policies (otherwise every read is denied)')
  const e = g.encryption
  need(isPlainObject(e), 'governance.encryption', 'must be an object such as { "enabled": true }')
  need(typeof e.enabled === 'boolean', 'governance.encryption.enabled', 'must be true or false (or set TESSERA_ENCRYPTION=on|off)')
  need(e.keyFile === undefined || (typeof e.keyFile === 'string' && e.keyFile.length > 0), 'governance.encryption.keyFile', 'must be the path of the master key file, e.g. /etc/tessera/master.key')
  need(typeof e.cacheTtlSeconds === 'number' && Number.isFinite(e.cacheTtlSeconds) && e.cacheTtlSeconds >= 0 && e.cacheTtlSeconds <= 3600, 'governance.encryption.cacheTtlSeconds',
    'must be a number of seconds from 0 to 3600 (a shred made by another process takes up to this long to apply in this one), e.g. 60')
  if (e.pkcs11 !== undefined) validatePkcs11(e.pkcs11, need)
  need(isPlainObject(g.purposes) && Object.keys(g.purposes).length > 0, 'governance.purposes', 'must map purpose names to { "legalBasis": ... }')
  for (const [name, p] of Object.entries(g.purposes)) {
    need(/^[a-z][a-z0-9_]*$/.test(name), `governance.purposes.${name}`, 'purpose names are lower case letters, digits and _')
    need(isPlainObject(p) && typeof p.legalBasis === 'string' && p.legalBasis.length > 0, `governance.purposes.${name}.legalBasis`, 'must name the legal basis, e.g. consent, contract, legitimate_interest, legal_obligation')
  }
  need(isPlainObject(g.classification) && isPlainObject(g.classification.fields), 'governance.classification.fields', 'must map field paths to { "category", "sensitivity" }')
  for (const [path, cls] of Object.entries(g.classification.fields)) {
    need(/^(traits|properties|context|event|identities|profile)(\.[^.\s]+)+$/.test(path), `governance.classification.fields.${path}`,
      'must be a dotted path under traits, properties, context, event, identities or profile (optionally ending in .*)')
    validateClassification(cls, `governance.classification.fields.${path}`)
  }
  validateClassification(g.classification.default, 'governance.classification.default')
  need(g.classification.default.sensitivity !== 'public', 'governance.classification.default.sensitivity', 'an unknown field must not be public (use internal or higher)')
  need(isPlainObject(g.residency) && Array.isArray(g.residency.paths) && g.residency.paths.every((p) => typeof p === 'string' && p.startsWith('traits.')),
    'governance.residency.paths', 'must be a list of trait paths such as traits.address.country')
  need(isPlainObject(g.residency.regions) && Object.values(g.residency.regions).every((l) => Array.isArray(l) && l.every((x) => typeof x === 'string' && /^[A-Za-z]{2}$/.test(x))),
    'governance.residency.regions', 'must map region names to lists of ISO 3166 alpha-2 country codes')
  const a = g.audit
  need(isPlainObject(a) && Number.isInteger(a.checkpointEvery) && a.checkpointEvery >= 1, 'governance.audit.checkpointEvery', 'must be an integer >= 1')
  need(typeof a.checkpointIntervalSeconds === 'number' && a.checkpointIntervalSeconds > 0, 'governance.audit.checkpointIntervalSeconds', 'must be a positive number of seconds')
  need(typeof a.origin === 'string' && /^[^\s]{1,200}$/.test(a.origin), 'governance.audit.origin', 'must be a name without spaces, e.g. tessera/audit')
  need(a.signingKeyFile === undefined || (typeof a.signingKeyFile === 'string' && a.signingKeyFile.length > 0), 'governance.audit.signingKeyFile', 'must be a file path')
  need(typeof a.identityRelayIntervalSeconds === 'number' && Number.isFinite(a.identityRelayIntervalSeconds) && a.identityRelayIntervalSeconds >= 0.01 && a.identityRelayIntervalSeconds <= 3600,
    'governance.audit.identityRelayIntervalSeconds', 'must be a number of seconds between 0.01 and 3600 (how often merges reach the audit log; default 1)')
  validateConsentConfig(g.consent, Object.keys(g.purposes))
  validatePrivacyConfig(g, need)
}
