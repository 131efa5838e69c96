/** @module The `workload` section of the config: prices for event-log runs, the advisor's risk limit, uploads. */
import type { WorkloadSettings } from './workload-service.js'

export interface WorkloadConfig extends WorkloadSettings {
  /** Largest event log or runs table accepted by the admin API (MiB). */
  readonly maxUploadMb: number
}

export const DEFAULT_WORKLOAD: WorkloadConfig = { prices: {}, maxFailureRisk: 0.1, explorationTrials: 3, maxUploadMb: 256 }

export function validateWorkloadConfig(w: WorkloadConfig, need: (ok: boolean, field: string, message: string) => void): void {
  need(typeof w === 'object' && w !== null, 'workload', 'must be an object')
  need(typeof w.prices === 'object' && w.prices !== null && !Array.isArray(w.prices) && Object.values(w.prices).every((p) => typeof p === 'number' && p > 0),
    'workload.prices', 'must map instance types to a positive USD price per node-hour, e.g. { "m5.xlarge": 0.192 }')
  need(typeof w.maxFailureRisk === 'number' && w.maxFailureRisk > 0 && w.maxFailureRisk < 1, 'workload.maxFailureRisk', 'must be a probability between 0 and 1, e.g. 0.1')
  need(Number.isInteger(w.explorationTrials) && w.explorationTrials >= 0 && w.explorationTrials <= 20, 'workload.explorationTrials', 'must be an integer from 0 to 20')
  need(typeof w.maxUploadMb === 'number' && w.maxUploadMb >= 1 && w.maxUploadMb <= 4096, 'workload.maxUploadMb', 'must be a number of MiB from 1 to 4096')
}
