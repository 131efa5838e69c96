/**
 * @module Clustering of matched pairs: connected components of the edges at or above the threshold, then two
 * guards against chaining (A~B and B~C merging A with C): a component larger than the size cap, or whose
 * cohesion (the mean match probability over all its pairs, compared directly) is below the minimum, is split by
 * dropping its weakest edges until every part passes.
 */

export interface Edge {
  readonly a: number
  readonly b: number
  readonly probability: number
}

export interface ClusterOptions {
  readonly maxSize: number
  readonly minCohesion: number
  /** Match probability of any two members, for the cohesion check. */
  readonly probability: (a: number, b: number) => number
}

export interface ClusterResult {
  /** Cluster number of every node (nodes alone form their own cluster). */
  readonly clusterOf: Int32Array
  /** Components split by the size cap or the cohesion check. */
  readonly splits: number
}

class UnionFind {
  readonly parent: Int32Array
  constructor(n: number) {
    this.parent = new Int32Array(n)
    for (let i = 0; i < n; i++) this.parent[i] = i
  }
  find(x: number): number {
    let root = x
    while (this.parent[root] !== root) root = this.parent[root]!
    while (this.parent[x] !== root) {
      const next = this.parent[x]!
      this.parent[x] = root
      x = next
    }
    return root
  }
  union(a: number, b: number): void {
    const ra = this.find(a)
    const rb = this.find(b)
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb)
  }
}

/** Groups `edges` into components over their own nodes; returns each component's nodes and edges. */
function components(edges: readonly Edge[]): { nodes: number[]; edges: Edge[] }[] {
  const ids = new Map<number, number>()
  const local = (x: number): number => {
    let id = ids.get(x)
    if (id === undefined) ids.set(x, (id = ids.size))
    return id
  }
  for (const e of edges) {
    local(e.a)
    local(e.b)
  }
  const uf = new UnionFind(ids.size)
  for (const e of edges) uf.union(ids.get(e.a)!, ids.get(e.b)!)
  const byRoot = new Map<number, { nodes: number[]; edges: Edge[] }>()
  for (const [node, id] of ids) {
    const root = uf.find(id)
    let group = byRoot.get(root)
    if (!group) byRoot.set(root, (group = { nodes: [], edges: [] }))
    group.nodes.push(node)
  }
  for (const e of edges) byRoot.get(uf.find(ids.get(e.a)!))!.edges.push(e)
  return [...byRoot.values()]
}

function cohesion(nodes: readonly number[], probability: (a: number, b: number) => number): number {
  let sum = 0
  let pairs = 0
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      sum += probability(nodes[i]!, nodes[j]!)
      pairs++
    }
  }
  return pairs === 0 ? 1 : sum / pairs
}

/** Splits a component until every part passes the guards; returns the accepted parts. */
function settle(group: { nodes: number[]; edges: Edge[] }, options: ClusterOptions, out: number[][], counter: { splits: number }): void {
  const ok = group.nodes.length <= 2 || (group.nodes.length <= options.maxSize && cohesion(group.nodes, options.probability) >= options.minCohesion)
  if (ok) {
    out.push(group.nodes)
    return
  }
  counter.splits++
  // Drop the weakest tier of edges and look again; the nodes left without an edge become singletons.
  let weakest = Infinity
  for (const e of group.edges) if (e.probability < weakest) weakest = e.probability
  const kept = group.edges.filter((e) => e.probability > weakest)
  const parts = components(kept)
  const placed = new Set(parts.flatMap((p) => p.nodes))
  for (const node of group.nodes) if (!placed.has(node)) out.push([node])
  for (const part of parts) settle(part, options, out, counter)
}

/** Clusters `n` nodes from the edges at or above the threshold (the caller filters them). */
export function clusterPairs(n: number, edges: readonly Edge[], options: ClusterOptions): ClusterResult {
  const clusterOf = new Int32Array(n).fill(-1)
  const counter = { splits: 0 }
  const accepted: number[][] = []
  for (const group of components(edges)) settle(group, options, accepted, counter)
  let next = 0
  for (const nodes of accepted) {
    for (const node of nodes) clusterOf[node] = next
    next++
  }
  for (let i = 0; i < n; i++) if (clusterOf[i] === -1) clusterOf[i] = next++
  return { clusterOf, splits: counter.splits }
}
