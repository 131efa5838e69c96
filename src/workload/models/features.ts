/**
 * @module Turns runs (and candidate configurations) into numeric feature vectors: cluster shape on a log scale
 * (nodes, vCPUs and memory per node and in total, input per vCPU), the instance family, the job (one-hot, for
 * jobs seen in training), and the table's further columns (numeric as log1p, categorical one-hot). Outcome and
 * bookkeeping columns are never features.
 */
import { META_COLUMNS, OUTCOME_COLUMNS, type RunRow } from '../runs/runs-table.js'

/** What a prediction is asked about: a job on a configuration with an input size (and optional settings). */
export interface Scenario {
  readonly job: string
  readonly inputBytes: number | null
  readonly instanceType: string
  readonly nodes: number
  readonly vcpusPerNode: number
  readonly memoryGbPerNode: number
  readonly extra: Readonly<Record<string, string>>
}

export function familyOf(instanceType: string): string {
  return instanceType.split(/[.-]/)[0] ?? instanceType
}

const NOT_FEATURES = new Set<string>([...OUTCOME_COLUMNS, ...META_COLUMNS])
const MAX_LEVELS = 20

export interface FeatureEncoderState {
  readonly jobs: readonly string[]
  readonly families: readonly string[]
  readonly numeric: readonly string[]
  readonly categorical: readonly { readonly column: string; readonly levels: readonly string[] }[]
  readonly inputFill: number
  readonly numericFill: readonly number[]
}

export class FeatureEncoder {
  readonly state: FeatureEncoderState
  readonly names: readonly string[]
  readonly #jobIndex: Map<string, number>

  constructor(state: FeatureEncoderState) {
    this.state = state
    this.#jobIndex = new Map(state.jobs.map((j, i) => [j, i]))
    this.names = [
      'log_nodes', 'log_vcpus_per_node', 'log_memory_per_node', 'log_total_vcpus', 'log_total_memory', 'log_input', 'log_input_per_vcpu', 'log_input_per_gb',
      ...state.families.map((f) => `family=${f}`), ...state.jobs.map((j) => `job=${j}`), ...state.numeric,
      ...state.categorical.flatMap((c) => c.levels.map((l) => `${c.column}=${l}`)),
    ]
  }

  /** Learns the vocabulary (jobs, families, further columns) from training rows. */
  static fit(rows: readonly RunRow[], extraColumns: readonly string[]): FeatureEncoder {
    const jobs = [...new Set(rows.map((r) => r.job))].sort()
    const families = [...new Set(rows.map((r) => familyOf(r.instanceType)))].sort()
    const numeric: string[] = []
    const categorical: { column: string; levels: string[] }[] = []
    for (const c of extraColumns) {
      if (NOT_FEATURES.has(c)) continue
      const values = rows.map((r) => r.extra[c] ?? '').filter((v) => v !== '')
      if (values.length === 0) continue
      if (values.every((v) => Number.isFinite(Number(v)))) numeric.push(c)
      else {
        const counts = new Map<string, number>()
        for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
        const levels = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, MAX_LEVELS).map(([v]) => v)
        if (levels.length > 1) categorical.push({ column: c, levels })
      }
    }
    const inputs = rows.map((r) => r.inputBytes).filter((v): v is number => v !== null).sort((a, b) => a - b)
    const inputFill = inputs.length > 0 ? inputs[Math.floor(inputs.length / 2)]! : 0
    const numericFill = numeric.map((c) => {
      const v = rows.map((r) => Number(r.extra[c])).filter((n) => r0(n)).sort((a, b) => a - b)
      return v.length > 0 ? v[Math.floor(v.length / 2)]! : 0
    })
    return new FeatureEncoder({ jobs, families, numeric, categorical, inputFill, numericFill })
  }

  hasJob(job: string): boolean {
    return this.#jobIndex.has(job)
  }

  /** The vector of a scenario; `asJob` encodes it as if it were that (training) job, `null` as no known job. */
  encode(s: Scenario, asJob: string | null = s.job): number[] {
    const st = this.state
    const input = s.inputBytes ?? st.inputFill
    const vcpus = s.nodes * s.vcpusPerNode
    const memory = s.nodes * s.memoryGbPerNode
    const v: number[] = [
      Math.log(s.nodes), Math.log(s.vcpusPerNode), Math.log1p(s.memoryGbPerNode), Math.log(vcpus), Math.log1p(memory),
      Math.log1p(input / 1e6), Math.log1p(input / 1e6 / vcpus), Math.log1p(input / 1e9 / Math.max(1, memory)),
    ]
    const fam = familyOf(s.instanceType)
    for (const f of st.families) v.push(f === fam ? 1 : 0)
    const j = asJob === null ? -1 : (this.#jobIndex.get(asJob) ?? -1)
    for (let i = 0; i < st.jobs.length; i++) v.push(i === j ? 1 : 0)
    st.numeric.forEach((c, i) => {
      const n = Number(s.extra[c])
      const x = s.extra[c] !== undefined && s.extra[c] !== '' && Number.isFinite(n) ? n : st.numericFill[i]!
      v.push(x >= 0 ? Math.log1p(x) : x)
    })
    for (const c of st.categorical) for (const l of c.levels) v.push(s.extra[c.column] === l ? 1 : 0)
    return v
  }

  /** Indices of the cluster-shape and input features (what k-NN measures distance on, besides the job). */
  get shapeFeatures(): number {
    return 8 + this.state.families.length
  }
}

function r0(n: number): boolean {
  return Number.isFinite(n)
}

export function scenarioOf(r: RunRow): Scenario {
  return { job: r.job, inputBytes: r.inputBytes, instanceType: r.instanceType, nodes: r.nodes, vcpusPerNode: r.vcpusPerNode, memoryGbPerNode: r.memoryGbPerNode, extra: r.extra }
}

/** The configuration group of a run: every column but the runtime (repetitions share it; splits never cut one). */
export function groupKey(r: RunRow, extraColumns: readonly string[]): string {
  return JSON.stringify([r.job, r.inputBytes, r.instanceType, r.nodes, r.vcpusPerNode, r.memoryGbPerNode,
    ...extraColumns.filter((c) => !NOT_FEATURES.has(c)).map((c) => r.extra[c] ?? '')])
}
