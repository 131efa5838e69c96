/** @module Picks the EventLog adapter from config (the only place that names a log adapter). */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { TesseraConfig } from '../config/config.js'
import { TesseraError } from '../core/errors.js'
import type { EventLog } from '../log/event-log.js'
import { openEmbeddedEventLog } from '../log/embedded/embedded-event-log.js'
import { MemoryEventLog } from '../log/memory/memory-event-log.js'
import type { KafkaClientLogEntry } from '../log/kafka/kafka-client.js'
import { openKafkaEventLog } from '../log/kafka/kafka-event-log.js'
import { SealedEventLog } from '../log/sealed/sealed-event-log.js'
import type { Keyring } from '../governance/crypto/keyring.js'
import { openExistingKeyring, openKeyring, type OpenedKeyring } from '../governance/crypto/open-keyring.js'
import { dataLayout } from './data-layout.js'

export interface OpenLogOptions {
  /** File of the embedded log (ignored by Kafka, where every topic lives in the cluster). */
  readonly path: string
  /** Names this client towards Kafka (`ingest`, `pipeline`). */
  readonly role?: string
  /** Open for consuming only (another thread or process appends). */
  readonly readOnly?: boolean
  /** Receives the Kafka client's own warnings and errors (connections, rebalances, crashes). */
  readonly logger?: ClientLogger
  /** A keyring to share (one cache per process); null: no keyring (encryption off and never on). */
  readonly keyring?: Keyring | null
}

export interface ClientLogger {
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

/**
 * Opens the configured adapter behind the sealing decorator (src/log/sealed/): records are sealed per subject when
 * governance.encryption.enabled, and sealed records still open when it is off but a keyring exists. The log opens
 * its own keyring (closed with it) unless `options.keyring` shares one.
 */
export async function openLog(config: TesseraConfig, options: OpenLogOptions): Promise<EventLog> {
  const dataDir = dataLayout(config.dataDir).dataDir
  const shared = options.keyring
  const opened = shared === undefined ? await openLogKeyring(config, dataDir) : null
  const keyring = shared ?? opened?.keyring ?? null
  let inner: EventLog
  try {
    inner = await openAdapter(config, options)
  } catch (error) {
    await opened?.close()
    throw error
  }
  return new SealedEventLog(inner, { keyring, seal: config.governance.encryption.enabled, ...(opened ? { onClose: () => opened.close() } : {}) })
}

/** The keyring a log needs: always when encryption is on; when off, only one that already holds keys. */
async function openLogKeyring(config: TesseraConfig, dataDir: string): Promise<OpenedKeyring | null> {
  return config.governance.encryption.enabled ? openKeyring(config, dataDir) : openExistingKeyring(config, dataDir)
}

async function openAdapter(config: TesseraConfig, options: OpenLogOptions): Promise<EventLog> {
  switch (config.log.kind) {
    case 'embedded':
      if (!options.readOnly) mkdirSync(dirname(options.path), { recursive: true })
      return openEmbeddedEventLog({
        path: options.path, sync: config.log.sync, maxPendingBytes: config.log.maxPendingBytes,
        ...(options.readOnly ? { readOnly: true } : {}),
      })
    case 'kafka':
      return openKafkaEventLog({
        brokers: config.log.brokers, clientId: `${config.log.clientId}-${options.role ?? 'main'}`,
        maxPendingBytes: config.log.maxPendingBytes,
        ...(options.logger ? { onClientLog: forwardClientLog(options.logger) } : {}),
      })
    case 'memory':
      if (options.readOnly) throw new TesseraError('TESSERA_CONFIG', 'the memory log cannot be shared with another thread; set pipeline.worker to false')
      return new MemoryEventLog()
  }
}

/** Kafka client lines at warn and error go to Tessera's log (info is the client's chatter: joins, connects). */
function forwardClientLog(logger: ClientLogger): (entry: KafkaClientLogEntry) => void {
  return (entry) => {
    if (entry.level !== 'warn' && entry.level !== 'error') return
    logger[entry.level]({ kafka: entry.namespace, ...pickSafe(entry.extra) }, `kafka: ${entry.message}`)
  }
}

/** Keeps the client's descriptive fields (group, member, broker, error text); drops payloads and anything else. */
function pickSafe(extra: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of ['groupId', 'memberId', 'broker', 'topic', 'partition', 'error', 'retryCount', 'retryTime']) {
    if (extra[key] !== undefined) out[key] = extra[key]
  }
  return out
}
