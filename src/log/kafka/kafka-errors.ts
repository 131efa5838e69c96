/**
 * @module Maps Kafka client failures to Tessera's error codes: unknown topics are TESSERA_NOT_FOUND, anything that
 * goes away when the cluster recovers (broker down, no leader, timeouts) is TESSERA_BACKPRESSURE so that the ingest
 * API answers 429 + Retry-After, and the rest is TESSERA_LOG_UNAVAILABLE.
 */
import { TesseraError } from '../../core/errors.js'

/** Kafka protocol error types (kafkajs `error.type`) that mean "this topic or partition does not exist". */
const NOT_FOUND_TYPES = new Set(['UNKNOWN_TOPIC_OR_PARTITION'])

/** kafkajs error classes that are transient by nature, whatever their `retriable` flag says. */
const TRANSIENT_NAMES = new Set([
  'KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError', 'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError', 'KafkaJSLockTimeout', 'KafkaJSMetadataNotLoaded', 'KafkaJSTimeout',
])

interface ErrorFields {
  readonly name?: unknown
  readonly type?: unknown
  readonly retriable?: unknown
  readonly cause?: unknown
  readonly originalError?: unknown
}

/** The error and the errors it wraps (kafkajs nests them in `cause` or `originalError` after retries). */
function chain(error: unknown): ErrorFields[] {
  const found: ErrorFields[] = []
  let current: unknown = error
  while (typeof current === 'object' && current !== null && found.length < 8) {
    const fields = current as ErrorFields
    found.push(fields)
    current = fields.cause ?? fields.originalError
  }
  return found
}

export type KafkaFailure = 'not-found' | 'transient' | 'fatal'

export function classifyKafkaError(error: unknown): KafkaFailure {
  const errors = chain(error)
  if (errors.some((e) => typeof e.type === 'string' && NOT_FOUND_TYPES.has(e.type))) return 'not-found'
  if (errors.some((e) => e.retriable === true || (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)))) {
    return 'transient'
  }
  return 'fatal'
}

/** Wraps a Kafka client error into the TesseraError the port promises, keeping it as `cause`. */
export function toTesseraError(error: unknown, what: string, topic: string, retryAfterSeconds: number): TesseraError {
  if (error instanceof TesseraError) return error
  const detail = error instanceof Error ? error.message : String(error)
  switch (classifyKafkaError(error)) {
    case 'not-found':
      return new TesseraError('TESSERA_NOT_FOUND', `topic ${topic} does not exist; call ensureTopic first`, { cause: error })
    case 'transient':
      return new TesseraError('TESSERA_BACKPRESSURE', `Kafka is unavailable (${what} ${topic}): ${detail}`,
        { cause: error, retryAfterSeconds })
    default:
      return new TesseraError('TESSERA_LOG_UNAVAILABLE', `Kafka ${what} ${topic} failed: ${detail}`, { cause: error })
  }
}
