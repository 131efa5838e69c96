/** @module Test helpers: records from raw values under a config, and a small seeded population with duplicates. */
import { parseMatchConfig, type MatchConfig } from '../match-config.js'
import type { MatchRecord } from '../match-record.js'
import { normaliseValue } from '../normalise.js'
import { randomInt, seededRandom } from '../../core/seeded-random.js'

export const PERSON_CONFIG: MatchConfig = parseMatchConfig({
  id: 'id',
  columns: { given: 'given_name', surname: 'surname', dob: 'dob', city: 'city', email: 'email' },
})

/** A record from raw values by column name (missing columns are missing values). */
export function makeRecord(config: MatchConfig, id: string, raw: Record<string, string>, source: 0 | 1 = 0): MatchRecord {
  return { id, source, fields: config.columns.map((c) => normaliseValue(raw[c.name] ?? '', c.kind, config.dateOrder)) }
}

const GIVEN = ['james', 'mary', 'john', 'patricia', 'robert', 'jennifer', 'michael', 'linda', 'william', 'elizabeth', 'david', 'barbara', 'richard', 'susan', 'joseph', 'jessica', 'thomas', 'sarah', 'charles', 'karen', 'olivia', 'noah', 'amelia', 'harry', 'isla', 'oscar', 'freya', 'arthur', 'ivy', 'leo']
const SURNAME = ['smith', 'jones', 'taylor', 'brown', 'williams', 'wilson', 'johnson', 'davies', 'robinson', 'wright', 'thompson', 'evans', 'walker', 'white', 'roberts', 'green', 'hall', 'wood', 'jackson', 'clarke', 'patel', 'khan', 'lewis', 'james', 'phillips', 'mason', 'mitchell', 'rose', 'davis', 'rodriguez', 'cox', 'alexander', 'morgan', 'moore']
const CITY = ['london', 'leeds', 'bristol', 'manchester', 'liverpool', 'york', 'bath', 'derby', 'hull', 'cardiff']

const SYLLABLES = ['ka', 'lo', 'mi', 'ren', 'sa', 'tor', 'vel', 'an', 'bri', 'dor', 'el', 'fin', 'gar', 'hal', 'is', 'jon', 'ker', 'lin', 'mor', 'ny']

function name(random: () => number, syllables: number): string {
  let out = ''
  for (let i = 0; i < syllables; i++) out += SYLLABLES[randomInt(random, SYLLABLES.length)]!
  return out
}

function typo(random: () => number, text: string): string {
  const at = 1 + randomInt(random, Math.max(1, text.length - 1))
  return text.slice(0, at) + text.slice(at + 1)
}

/**
 * `people` persons, each with an original record and, for the first `withDuplicate`, one corrupted copy (a typo
 * in a name, a missing city or a day off in the date of birth). Returns the records and each record's person.
 */
export function population(people: number, withDuplicate: number, seed = 1): { records: MatchRecord[]; entity: string[]; raw: Record<string, string>[] } {
  const random = seededRandom(seed)
  const records: MatchRecord[] = []
  const entity: string[] = []
  const raw: Record<string, string>[] = []
  const add = (id: string, values: Record<string, string>, person: number): void => {
    records.push(makeRecord(PERSON_CONFIG, id, values))
    entity.push(String(person))
    raw.push(values)
  }
  for (let p = 0; p < people; p++) {
    // Real names plus invented ones, so that name frequencies are skewed but not tiny-alphabet (a few hundred
    // people sharing thirty first names would be nothing like a customer file).
    const given = random() < 0.5 ? GIVEN[randomInt(random, GIVEN.length)]! : name(random, 2)
    const surname = random() < 0.3 ? SURNAME[randomInt(random, SURNAME.length)]! : name(random, 3)
    const day = new Date(Date.UTC(1940, 0, 1) + randomInt(random, 60 * 365) * 86_400_000).toISOString().slice(0, 10)
    const values = { given, surname, dob: day, city: CITY[randomInt(random, CITY.length)]!, email: `${given}.${surname}${p}@example.org` }
    add(`p${p}`, values, p)
    if (p < withDuplicate) {
      const copy = { ...values }
      const change = p % 3
      if (change === 0) copy.surname = typo(random, surname)
      else if (change === 1) copy.city = ''
      else copy.dob = day.slice(0, 8) + String(((Number(day.slice(8)) % 27) + 1)).padStart(2, '0')
      if (p % 2 === 0) copy.email = ''
      add(`p${p}-dup`, copy, p)
    }
  }
  return { records, entity, raw }
}
