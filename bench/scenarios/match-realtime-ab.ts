/**
 * @module A/B of the real-time matcher in one process, on one 1M-profile state: the resolve-identity stage of this
 * checkout ("new") and of another checkout of Tessera (`--baseline DIR`, e.g. `git worktree add /tmp/base <commit>`
 * with its own node_modules or a link to these; "old") resolve the events of {@link runMatchRealtime}'s stream
 * **alternately, event by event**, each in its own committed transaction, so both sides see the same machine state
 * (load, page cache, heap) and the same evolving data. Each side loads its own modules (model training, matching,
 * the identity stage and the SQLite store) from its own `src/`; the state is built once with this checkout's code
 * (the persisted blocking index must have the same format on both sides). Each side gets half corrupted copies and
 * half new people, and goes first as often as second. Then batches of `--batch-size` events, alternately too. The
 * sides resolve different events, so their decision counts are close, not equal: compare decisions with
 * match-realtime.ts run on each checkout.
 *
 * With `--pseudonymous` both sides run a pseudonymous state (`governance.encryption` on: HMAC'd identifiers and
 * blocking keys, each side its own keyring), each on **its own** state built alike, the baseline's with the match
 * records it writes (clear JSON on a checkout before records were sealed), this checkout's sealed; and both sides
 * resolve **the same events** (the first side alternating), so their decision counts must be equal.
 *
 * `npx tsx bench/scenarios/match-realtime-ab.ts --baseline DIR [--profiles 1000000] [--events 5000] [--pseudonymous [--key-cache N]]`
 * prints, per side: wall and process CPU p50/p99 of one event alone, the main thread's run-queue wait p99, batch per-event time,
 * auto-merges and reviews; with the load average.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve as resolvePath } from 'node:path'
import { parseArgs } from 'node:util'
import type { RawEvent } from '../../src/core/event.js'
import { randomInt, seededRandom } from '../../src/core/seeded-random.js'
import type { IdentifierNode, MatchRecordWrite } from '../../src/identity/identity-store.js'
import { eventTime } from '../../src/identity/resolve-batch.js'
import type { BatchContext, Stage, WorkItem } from '../../src/pipeline/stage.js'
import type { SqliteStateBackend } from '../../src/storage/sqlite/sqlite-backend.js'
import type * as IdentityTypes from '../../src/config/identity-types.js'
import type * as Config from '../../src/config/config.js'
import type * as IdentityRules from '../../src/identity/identity-rules.js'
import type * as Realtime from '../../src/matching/realtime.js'
import type * as MatchConfig from '../../src/matching/match-config.js'
import type * as Train from '../../src/matching/train.js'
import type * as RealtimeModel from '../../src/matching/testing/realtime-model.js'
import type * as Synthetic from '../../src/matching/testing/synthetic.js'
import type * as StageModule from '../../src/pipeline/stages/resolve-identity.js'
import type * as Backend from '../../src/storage/sqlite/sqlite-backend.js'
import type * as Codec from '../../src/identity/identifier-codec.js'
import type * as KeyringModule from '../../src/governance/crypto/keyring.js'
import type * as KeyFile from '../../src/governance/crypto/local-key-file.js'
import type * as KeyStore from '../../src/storage/sqlite/data-key-store.js'
import { round, summarize } from '../lib/stats.js'
import { corrupt, identify, person, threadSchedstat } from './match-realtime.js'

interface Side {
  readonly name: 'old' | 'new'
  readonly state: SqliteStateBackend
  readonly stage: Stage
  readonly counts: Record<string, number>
  readonly wall: number[]
  readonly cpu: number[]
  readonly wait: number[]
  readonly batchPerEvent: number[]
}

/** A side's modules, from its own checkout (the types are this checkout's: the APIs used here are the same on both). */
async function loadSide(root: string, keysDir: string | null, keyCache: number | undefined) {
  const src = (path: string): string => join(root, 'src', path)
  const [identityTypes, config, identityRules, realtime, matchConfig, train, realtimeModel, synthetic, stage, backend] = await Promise.all([
    import(src('config/identity-types.ts')) as Promise<typeof IdentityTypes>,
    import(src('config/config.ts')) as Promise<typeof Config>,
    import(src('identity/identity-rules.ts')) as Promise<typeof IdentityRules>,
    import(src('matching/realtime.ts')) as Promise<typeof Realtime>,
    import(src('matching/match-config.ts')) as Promise<typeof MatchConfig>,
    import(src('matching/train.ts')) as Promise<typeof Train>,
    import(src('matching/testing/realtime-model.ts')) as Promise<typeof RealtimeModel>,
    import(src('matching/testing/synthetic.ts')) as Promise<typeof Synthetic>,
    import(src('pipeline/stages/resolve-identity.ts')) as Promise<typeof StageModule>,
    import(src('storage/sqlite/sqlite-backend.ts')) as Promise<typeof Backend>,
  ])
  // The same training as the scenario: the real unsupervised training on the seeded sample, with the side's code.
  const cfg = matchConfig.parseMatchConfig(realtimeModel.TRAIT_MATCH_CONFIG)
  const { raw } = synthetic.population(3000, 600, 11)
  const model = train.trainModel(cfg, raw.map((v, i) => synthetic.makeRecord(cfg, `r${i}`, v)), null).model
  const { autoMerge, review, maxBlockSize } = config.DEFAULT_MATCHING
  const matching = new realtime.RealtimeMatching(model, { autoMerge, review, maxBlockSize })
  let codec: Codec.IdentifierCodec | undefined
  let closeKeys = async (): Promise<void> => {}
  if (keysDir !== null) {
    const [codecModule, keyringModule, keyFile, keyStore] = await Promise.all([
      import(src('identity/identifier-codec.ts')) as Promise<typeof Codec>,
      import(src('governance/crypto/keyring.ts')) as Promise<typeof KeyringModule>,
      import(src('governance/crypto/local-key-file.ts')) as Promise<typeof KeyFile>,
      import(src('storage/sqlite/data-key-store.ts')) as Promise<typeof KeyStore>,
    ])
    const store = new keyStore.SqliteDataKeyStore(join(keysDir, 'keys.db'))
    await store.migrate()
    const kms = keyFile.LocalKeyFile.load({ keyFile: join(keysDir, 'master.key'), env: {}, create: true })
    codec = new codecModule.PseudonymousIdentifiers(await keyringModule.Keyring.open({ kms, store, cacheTtlMs: 300_000, ...(keyCache === undefined ? {} : { maxCachedKeys: keyCache }) }))
    closeKeys = () => store.close()
  }
  const rules = identityRules.compileIdentityRules(identityTypes.DEFAULT_IDENTIFIER_TYPES, 'US', Infinity, ...(codec ? [codec] : []))
  return {
    matching,
    codec,
    closeKeys,
    stage: stage.createResolveIdentityStage(rules, { profileAges: 'identifiers', matching }),
    open: (path: string) => new backend.SqliteStateBackend({ path, sync: 'normal' }),
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    baseline: { type: 'string' }, profiles: { type: 'string', default: '1000000' }, events: { type: 'string', default: '5000' },
    'batch-size': { type: 'string', default: '2000' }, pseudonymous: { type: 'boolean', default: false },
    'key-cache': { type: 'string' },
  } })
  if (!values.baseline) throw new Error('--baseline DIR (a checkout of the commit to compare with) is required')
  const profiles = Number(values.profiles)
  const events = Number(values.events)
  const batchSize = Number(values['batch-size'])
  const dir = mkdtempSync(join(tmpdir(), 'tessera-match-ab-'))
  const pseudonymous = values.pseudonymous === true
  // The keyring's cache size (both sides): below the profile count, it stands for a larger state (100,000 cached
  // keys at 1M profiles is --profiles 100000 --key-cache 10000). A baseline whose keyring has no such option ignores it.
  const keyCache = values['key-cache'] === undefined ? undefined : Number(values['key-cache'])
  const path = join(dir, 'state.db')
  const load = [round(loadavg()[0]!, 2)]
  const keysDir = (name: string): string | null => (pseudonymous ? mkdtempSync(join(dir, `keys-${name}-`)) : null)
  try {
    const mine = await loadSide(resolvePath(import.meta.dirname, '../..'), keysDir('new'), keyCache)
    const theirs = await loadSide(resolvePath(values.baseline), keysDir('old'), keyCache)
    const base = Date.UTC(2025, 0, 1)
    const buildStart = performance.now()
    // 1. Build once, with this checkout's code (as the scenario does); pseudonymous: one state per side, keyed by its
    // keyring, the records as that side's codec stores them.
    const build = async (at: string, codec: Codec.IdentifierCodec | undefined): Promise<void> => {
      const builder = mine.open(at)
      await builder.migrate()
      if (codec) await builder.identifierScheme(codec.scheme)
      for (let from = 0; from < profiles; from += 20_000) {
        const nodes: IdentifierNode[] = []
        const records: MatchRecordWrite[] = []
        for (let i = from; i < Math.min(profiles, from + 20_000); i++) {
          const profileId = `p${i}`
          const record = mine.matching.overlay(profileId, null, mine.matching.prepare(identify(`seed${i}`, person(i), base))!)
          const keys = [...mine.matching.keysOf(record)].map((k) => codec?.storedValue('~blocking', k) ?? k)
          records.push({ profileId, fields: mine.matching.encode(record), keys })
          const value = codec?.storedValue('email', `seed${i}@bench.example`) ?? `seed${i}@bench.example`
          nodes.push({ key: `email:${value}`, type: 'email', value, profileId, firstSeen: base })
        }
        // A baseline without sealed records stores them as they are.
        const sealed = codec && 'sealMatchRecords' in codec ? await codec.sealMatchRecords(records) : records.map((r) => r.fields)
        await builder.transaction((tx) => tx.identity.apply({
          nodes, repoints: [], edges: [], merges: [], rejections: [], matchRecords: records.map((r, n) => ({ ...r, fields: sealed[n]! })),
        }))
      }
      await builder.close()
    }
    const paths = pseudonymous ? { old: join(dir, 'old.db'), new: join(dir, 'new.db') } : { old: path, new: path }
    if (pseudonymous) {
      await build(paths.old, theirs.codec)
      await build(paths.new, mine.codec)
    } else {
      await build(path, undefined)
    }
    const buildSeconds = (performance.now() - buildStart) / 1000
    load.push(round(loadavg()[0]!, 2))

    const side = (name: 'old' | 'new', s: typeof mine): Side => ({ name, state: s.open(paths[name]), stage: s.stage, counts: {}, wall: [], cpu: [], wait: [], batchPerEvent: [] })
    const sides = [side('old', theirs), side('new', mine)]
    for (const s of sides) await s.state.migrate()
    const random = seededRandom(99)
    let n = 0
    const nextEvent = (): RawEvent => {
      n++
      const at = base + 86_400_000 + n
      if (n % 2 === 0) return identify(`dup${n}`, corrupt(person(randomInt(random, profiles)), random), at)
      return identify(`new${n}`, person(profiles + 1_000_000 + n), at)
    }
    const resolve = async (s: Side, batch: readonly RawEvent[]): Promise<{ wall: number; cpu: number; wait: number }> => {
      const items: WorkItem[] = batch.map((event, i) => ({
        record: { topic: 'events.raw', partition: 0, offset: n + i, key: event.messageId, value: '', timestamp: Date.now() },
        event, time: eventTime(event), enrichment: {},
      }))
      let out = { wall: 0, cpu: 0, wait: 0 }
      await s.state.transaction(async (tx) => {
        const context: BatchContext = { items, tx, now: Date.now(), counts: s.counts }
        const before = threadSchedstat()
        const cpu = process.cpuUsage()
        const t = performance.now()
        await s.stage.run(context)
        const wall = performance.now() - t
        const used = process.cpuUsage(cpu)
        const after = threadSchedstat()
        out = { wall, cpu: (used.user + used.system) / 1000, wait: before && after ? Number(after[1] - before[1]) / 1e6 : 0 }
      })
      return out
    }
    // 2. Warm-up (JIT, page cache), then one event per transaction, the sides alternating (and which goes first);
    // pseudonymous: each event to both sides (each its own state), the first side alternating.
    const sample = async (s: Side, batch: readonly RawEvent[]): Promise<void> => {
      const r = await resolve(s, batch)
      s.wall.push(r.wall)
      s.cpu.push(r.cpu)
      s.wait.push(r.wait)
      await new Promise((next) => setImmediate(next))
    }
    if (pseudonymous) {
      for (let i = 0; i < 400; i++) {
        const e = nextEvent()
        for (const s of i % 2 === 0 ? sides : [...sides].reverse()) await resolve(s, [e])
      }
    } else {
      for (let i = 0; i < 400; i++) await resolve(sides[i % 2]!, [nextEvent()])
    }
    const warm = sides.map((s) => ({ ...s.counts }))
    if (pseudonymous) {
      for (let i = 0; i < events; i++) {
        const e = nextEvent()
        for (const s of i % 2 === 0 ? sides : [...sides].reverse()) await sample(s, [e])
      }
    } else {
      for (let i = 0; i < 2 * events; i++) await sample(sides[(i + (i >> 1)) % 2]!, [nextEvent()])
    }
    const single = sides.map((s, i) => ({
      merges: (s.counts.probabilisticMerges ?? 0) - (warm[i]!.probabilisticMerges ?? 0),
      reviews: (s.counts.matchReviews ?? 0) - (warm[i]!.matchReviews ?? 0),
    }))
    load.push(round(loadavg()[0]!, 2))
    // 3. Batches, alternating (pseudonymous: each batch to both sides).
    for (let b = 0; b < 8; b++) {
      const batch = Array.from({ length: batchSize }, nextEvent)
      for (const s of pseudonymous ? (b % 2 === 0 ? sides : [...sides].reverse()) : [sides[b % 2]!]) {
        const r = await resolve(s, batch)
        s.batchPerEvent.push(r.wall / batchSize)
      }
    }
    load.push(round(loadavg()[0]!, 2))
    for (const s of sides) await s.state.close()
    await mine.closeKeys()
    await theirs.closeKeys()
    const result = {
      name: 'match-realtime-ab',
      measures: pseudonymous
        ? `resolve-identity stage, pseudonymous states (each side its keyring and its SQLite state of ${profiles.toLocaleString('en-US')} profiles, default rules, identity.matching defaults), the same ${events} events to old (${values.baseline}) and new (this checkout), one event alone per transaction, the first side alternating; then ${batchSize}-event batches, 8 to each side`
        : `resolve-identity stage, one event alone per transaction, old (${values.baseline}) and new (this checkout) alternating event by event on one SQLite state of ${profiles.toLocaleString('en-US')} profiles (default rules, identity.matching defaults); ${events} events per side; then ${batchSize}-event batches, 4 per side`,
      profiles, ...(keyCache === undefined ? {} : { key_cache: keyCache }), build_seconds: round(buildSeconds, 1), load_average_1m: load,
      sides: Object.fromEntries(sides.map((s, i) => {
        const w = summarize(s.wall)
        const c = summarize(s.cpu)
        const q = summarize(s.wait)
        return [s.name, {
          wall_p50_ms: w.p50_ms, wall_p99_ms: w.p99_ms, process_cpu_p50_ms: c.p50_ms, process_cpu_p99_ms: c.p99_ms, runqueue_wait_p99_ms: q.p99_ms,
          auto_merges: single[i]!.merges, reviews: single[i]!.reviews,
          batch_per_event_ms: s.batchPerEvent.map((v) => round(v, 3)),
        }]
      })),
    }
    console.log(JSON.stringify(result, null, 2))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
