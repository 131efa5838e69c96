/**
 * End to end in the scale-out mode: Kafka (librdkafka's mock cluster, three brokers) for the event log and
 * PostgreSQL for the state, with the same profile scenarios as the embedded mode. Skipped with a message
 * when either is missing, unless TESSERA_REQUIRE_SERVICES=1.
 */
import { afterAll, beforeAll } from 'vitest'
import { TOPICS } from '../../src/log/event-log.js'
import { requirePostgres } from '../support/services.js'
import { skipWithoutKafkaMock, startKafkaMock, type KafkaMock } from '../support/kafka-mock.js'
import { startPostgresHarness } from '../support/tessera-harness.js'
import { runProfileScenarios } from './profile-scenarios.js'

const url = await requirePostgres()
const kafka = !skipWithoutKafkaMock()

if (url && kafka) {
  let mock: KafkaMock
  beforeAll(async () => {
    // The mock cannot serve CreateTopics (it reports controller 0): the fixture creates the topics.
    mock = await startKafkaMock({ topics: { [TOPICS.raw]: 4, [TOPICS.resolved]: 4, [TOPICS.deadLetter]: 1 } })
  }, 30_000)
  afterAll(async () => {
    await mock?.stop()
  })
  runProfileScenarios('Kafka + PostgreSQL', () => startPostgresHarness(url, {
    overrides: { log: { kind: 'kafka', brokers: mock.brokers }, pipeline: { maxWaitMs: 20 } },
  }))
}
