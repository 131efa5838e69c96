/**
 * @module `npx tsx bench/profile-summary.ts <file.cpuprofile> [--top N]`: where a V8 CPU profile (`node --cpu-prof`)
 * spends its time, by self time: per module (a package under node_modules, a file of Tessera, or V8's own entries
 * such as `(garbage collector)` and native code) and per function. Used with bench/pipeline.ts to decide what to
 * optimise; shares are of the profile's sampled time, idle excluded.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

/** The module a frame belongs to: the package for node_modules, the path under the repo for Tessera's own code. */
function moduleOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1]!
  if (url.startsWith('node:')) return 'node:*'
  const own = /\/(src|bench|dist)\/(.*)$/.exec(url)
  return own ? `${own[1]}/${own[2]}` : url
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } })
  const file = positionals[0]
  const top = Number(values.top)
  if (file === undefined || !Number.isSafeInteger(top) || top < 1) {
    throw new Error('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [--top N]  (N a positive integer)')
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples)) throw new Error(`${file} is not a V8 CPU profile (no nodes/samples)`)
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const modules = new Map<string, number>()
  const functions = new Map<string, number>()
  let total = 0
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame
    if (frame.functionName === '(idle)') continue
    total += us
    const mod = moduleOf(frame.url, frame.functionName)
    modules.set(mod, (modules.get(mod) ?? 0) + us)
    const fn = `${frame.functionName || '(anonymous)'} ${mod}${frame.url ? `:${frame.lineNumber + 1}` : ''}`
    functions.set(fn, (functions.get(fn) ?? 0) + us)
  }
  const print = (title: string, entries: Map<string, number>): void => {
    console.log(`\n${title}`)
    for (const [name, us] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`)
    }
  }
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled (idle excluded)`)
  print('self time by module', modules)
  print('self time by function', functions)
}

main()
