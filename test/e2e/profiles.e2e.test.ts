/**
 * End to end through the public HTTP API: events in through the tracking API, unified profiles out of the
 * admin API, with the pipeline running in its worker thread on the embedded SQLite log and store.
 */
import { startHarness } from '../support/tessera-harness.js'
import { runProfileScenarios } from './profile-scenarios.js'

runProfileScenarios('embedded mode', () => startHarness())

// The scale-out default (profiles owned by partitions of events.resolved, merges sent as messages), on the same log.
runProfileScenarios('embedded mode, profiles updated by partition', () => startHarness({ pipeline: { profileUpdates: 'partitioned' } }))
