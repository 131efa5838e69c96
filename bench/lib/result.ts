/**
 * @module The benchmark result format. `bench/results/latest.json` is read by other tools and dashboards, so its
 * shape is stable: `{ machine, scenarios: [{ name, events_per_s, p50_ms, p99_ms, rss_mb, ... }] }` with the
 * scenario names in {@link SCENARIO_NAMES}; a scenario that failed or was not run keeps its name and says why in
 * `error` (its numbers are then absent, never zero).
 */
import type { MachineInfo } from './machine.js'

export const SCENARIO_NAMES = [
  'baseline-raw-limit', 'ingest-http', 'e2e-embedded', 'resolve-100k', 'resolve-1m', 'baseline-sql-stitching',
  'e2e-scaleout-1w', 'e2e-scaleout-2w', 'match-realtime-1m',
] as const
export type ScenarioName = (typeof SCENARIO_NAMES)[number]

/** One scenario's figures. The four headline fields are absent (not 0) when the scenario does not measure them. */
export interface ScenarioResult {
  readonly name: string
  readonly events_per_s?: number
  readonly p50_ms?: number
  readonly p99_ms?: number
  readonly rss_mb?: number
  /** Set when the scenario failed, timed out or was not run; the message says which and why. */
  readonly error?: string
  /** What exactly was measured (one sentence, printed under the table). */
  readonly measures?: string
  readonly [field: string]: unknown
}

export interface RunInfo {
  readonly mode: 'quick' | 'full'
  readonly started_at: string
  readonly seconds: number
  readonly command: string
}

export interface BenchResult {
  readonly machine: MachineInfo
  readonly run: RunInfo
  readonly scenarios: readonly ScenarioResult[]
}

/** Fills in each Tessera scenario's ratio to the baselines measured in the same run. */
export function withRatios(scenarios: readonly ScenarioResult[]): ScenarioResult[] {
  const rate = (name: string): number | undefined => {
    const s = scenarios.find((x) => x.name === name)
    return s?.error === undefined && typeof s?.events_per_s === 'number' && s.events_per_s > 0 ? s.events_per_s : undefined
  }
  const raw = rate('baseline-raw-limit')
  const sql = rate('baseline-sql-stitching')
  return scenarios.map((s) => {
    if (s.error !== undefined || typeof s.events_per_s !== 'number' || s.name.startsWith('baseline-')) return s
    const out: Record<string, unknown> = { ...s }
    if (raw !== undefined) out.ratio_to_raw_limit = Math.round((s.events_per_s / raw) * 1000) / 1000
    if (sql !== undefined && s.name.startsWith('resolve-')) out.ratio_to_sql_stitching = Math.round((s.events_per_s / sql) * 1000) / 1000
    return out as ScenarioResult
  })
}
