/**
 * @module The Ernest scaling model (Venkataraman et al., NSDI'16): runtime = θ0 + θ1·(size/machines) +
 * θ2·log(machines) + θ3·machines with θ >= 0 (NNLS), fitted per job and machine type (and job parameters), as
 * the paper fits one model per job on one instance type. Groups with fewer than 4 distinct configurations
 * (cluster size × input) have no model; the ensemble then relies on its other members.
 */
import { nnls } from './nnls.js'

export interface ErnestPoint {
  /** Input size (any consistent unit, e.g. GB or a fraction of the full input). */
  readonly size: number
  readonly machines: number
  readonly runtimeS: number
}

export interface ErnestModel {
  readonly theta: readonly [number, number, number, number]
}

function terms(size: number, machines: number): [number, number, number, number] {
  return [1, size / machines, Math.log(machines), machines]
}

/** Null when the points cannot determine the model (fewer than 4 distinct (size, machines) pairs). */
export function fitErnest(points: readonly ErnestPoint[]): ErnestModel | null {
  const distinct = new Set(points.map((p) => `${p.size}|${p.machines}`))
  if (distinct.size < 4) return null
  const theta = nnls(points.map((p) => terms(p.size, p.machines)), points.map((p) => p.runtimeS))
  return { theta: [theta[0]!, theta[1]!, theta[2]!, theta[3]!] }
}

export function predictErnest(m: ErnestModel, size: number, machines: number): number {
  return terms(size, machines).reduce((s, t, i) => s + t * m.theta[i]!, 0)
}
