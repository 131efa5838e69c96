/**
 * Speed (and accuracy) of `tessera match` on a large FEBRL-like file: generates N person records from the
 * value pools of the FEBRL dev data (names, streets, suburbs with their postcode and state), adds duplicates
 * with FEBRL-style corruptions (typos, missing values, swapped names, date and postcode digit errors) from a
 * seeded PRNG, then runs the real `tessera match` and `tessera match-eval` code on it.
 *
 *   npm run bench:match -- [--records 50000] [--duplicates 0.2] [--seed 7] [--config examples/match/febrl-no-ssn.json]
 *
 * Prints the elapsed time of the match run, the candidate pairs and the accuracy, and writes
 * bench/results/match-<time>.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { tempDir } from '../test/support/factories.js'
import { CsvParser } from '../src/cli/import/csv.js'
import { runMatch } from '../src/cli/match.js'
import { runMatchEval } from '../src/cli/match-eval.js'
import { randomInt, seededRandom } from '../src/core/seeded-random.js'

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '50000' },
    duplicates: { type: 'string', default: '0.2' },
    seed: { type: 'string', default: '7' },
    config: { type: 'string', default: 'examples/match/febrl-no-ssn.json' },
    data: { type: 'string', default: '../shared/data/identity/febrl' },
  },
})
const total = Number(values.records)
const duplicateShare = Number(values.duplicates)
const random = seededRandom(Number(values.seed))
const pick = <T>(list: readonly T[]): T => list[randomInt(random, list.length)]!

// Value pools from the dev files (every occurrence kept, so common names stay common).
const header = ['rec_id', 'given_name', 'surname', 'street_number', 'address_1', 'address_2', 'suburb', 'postcode', 'state', 'date_of_birth', 'soc_sec_id']
const pools = { given: [] as string[], surname: [] as string[], number: [] as string[], address1: [] as string[], address2: [] as string[], place: [] as string[][] }
for (const file of ['dataset1.csv', 'dataset2.csv']) {
  const parser = new CsvParser({ delimiter: ',' })
  const rows = [...parser.push(readFileSync(join(values.data, file), 'utf8')), ...parser.end()].slice(1)
  for (const { fields } of rows) {
    if (!fields[0]!.endsWith('-org')) continue
    if (fields[1]) pools.given.push(fields[1])
    if (fields[2]) pools.surname.push(fields[2])
    if (fields[3]) pools.number.push(fields[3])
    if (fields[4]) pools.address1.push(fields[4])
    if (fields[5]) pools.address2.push(fields[5])
    if (fields[6] && fields[7] && fields[8]) pools.place.push([fields[6], fields[7], fields[8]])
  }
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz'
function typo(text: string): string {
  if (text.length < 2) return text + pick([...LETTERS])
  const at = randomInt(random, text.length)
  switch (randomInt(random, 4)) {
    case 0: return text.slice(0, at) + pick([...LETTERS]) + text.slice(at)
    case 1: return text.slice(0, at) + text.slice(at + 1)
    case 2: return text.slice(0, at) + pick([...LETTERS]) + text.slice(at + 1)
    default: return at + 1 < text.length ? text.slice(0, at) + text[at + 1] + text[at] + text.slice(at + 2) : text.slice(0, -1)
  }
}
function digitTypo(text: string): string {
  if (text === '') return text
  const at = randomInt(random, text.length)
  return text.slice(0, at) + String(randomInt(random, 10)) + text.slice(at + 1)
}
function dob(): string {
  const day = new Date(Date.UTC(1920, 0, 1) + randomInt(random, 90 * 365) * 86_400_000)
  return day.toISOString().slice(0, 10).replace(/-/g, '')
}

/** One FEBRL-style corruption of a record (fields as in `header`). */
function corrupt(r: string[]): void {
  const field = 1 + randomInt(random, 10)
  switch (randomInt(random, 10)) {
    case 0: r[field] = ''; break // missing value
    case 1: [r[1], r[2]] = [r[2]!, r[1]!]; break // swapped names
    case 2: case 3: r[9] = random() < 0.5 ? digitTypo(r[9]!) : r[9]!.slice(0, 6) + String(1 + randomInt(random, 28)).padStart(2, '0'); break
    case 4: r[7] = digitTypo(r[7]!); break
    case 5: r[10] = digitTypo(r[10]!); break
    default: r[field] = field === 7 || field === 9 || field === 10 || field === 3 ? digitTypo(r[field]!) : typo(r[field]!)
  }
}

const originals = Math.round(total * (1 - duplicateShare))
const rows: string[][] = []
const people: string[][] = []
for (let i = 0; i < originals; i++) {
  const [suburb, postcode, state] = pick(pools.place)
  const person = [`rec-${i}-org`, random() < 0.03 ? '' : pick(pools.given), random() < 0.02 ? '' : pick(pools.surname), pick(pools.number), pick(pools.address1),
    random() < 0.15 ? '' : pick(pools.address2), suburb!, postcode!, state!, dob(), String(1_000_000 + randomInt(random, 9_000_000))]
  people.push(person)
  rows.push(person)
}
const dupCount = new Map<number, number>()
for (let k = 0; k < total - originals; k++) {
  const who = randomInt(random, originals)
  const n = dupCount.get(who) ?? 0
  dupCount.set(who, n + 1)
  const copy = [...people[who]!]
  copy[0] = `rec-${who}-dup-${n}`
  const edits = 1 + randomInt(random, 3)
  for (let e = 0; e < edits; e++) corrupt(copy)
  rows.push(copy)
}
// Shuffle so duplicates are not next to their originals.
for (let i = rows.length - 1; i > 0; i--) {
  const j = randomInt(random, i + 1)
  ;[rows[i], rows[j]] = [rows[j]!, rows[i]!]
}

const temp = tempDir('tessera-match-bench-')
const input = join(temp.dir, 'records.csv')
writeFileSync(input, [header, ...rows].map((r) => r.join(', ')).join('\n') + '\n')
const out = join(temp.dir, 'clusters.csv')
const pairs = join(temp.dir, 'pairs.csv')
const quiet = { write: () => true }
const collect = (): { write: (t: string) => boolean; text: string } => {
  const sink = { text: '', write: (t: string) => ((sink.text += t), true) }
  return sink
}

console.log(`generated ${rows.length.toLocaleString('en-US')} records (${originals.toLocaleString('en-US')} people) in ${input}`)
const stdout = collect()
const started = performance.now()
const code = await runMatch([input, '--config', values.config, '--out', out, '--pairs', pairs], { stdout, stderr: process.stderr })
const seconds = (performance.now() - started) / 1000
if (code !== 0) throw new Error(`tessera match exited with ${code}`)
process.stdout.write(stdout.text)
const evalOut = collect()
await runMatchEval([input, '--clusters', out, '--pairs', pairs, '--truth', 'rec_id', '--truth-pattern', 'rec-(\\d+)-', '--config', values.config, '--json'], { stdout: evalOut, stderr: quiet })
const evaluation = JSON.parse(evalOut.text) as Record<string, unknown>
const clusters = evaluation.clusters as { precision: number; recall: number; f1: number }
console.log(`tessera match: ${seconds.toFixed(2)} s for ${rows.length.toLocaleString('en-US')} records; clusters P ${clusters.precision.toFixed(4)} R ${clusters.recall.toFixed(4)} F1 ${clusters.f1.toFixed(4)}; blocking recall ${(evaluation.blockingRecall as number).toFixed(4)}`)

const result = {
  when: new Date().toISOString(),
  records: rows.length,
  duplicates: total - originals,
  seed: Number(values.seed),
  config: values.config,
  matchSeconds: seconds,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
  evaluation,
}
mkdirSync('bench/results', { recursive: true })
const file = `bench/results/match-${result.when.replace(/[:.]/g, '-')}.json`
writeFileSync(file, JSON.stringify(result, null, 2) + '\n')
console.log(`wrote ${file}`)
temp.cleanup()
