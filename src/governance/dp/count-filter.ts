/**
 * @module The filter language of differentially private counts (`GET /v1/stats/count?filter=...`): a small,
 * closed grammar over a profile's traits and counters, parsed into {@link FilterCondition}s that the profile
 * readers bind as SQL parameters. Nothing of the text reaches SQL as syntax.
 *
 *     filter    := condition ( "and" condition )*            (at most 8 conditions)
 *     condition := field op value | field "exists"
 *     field     := traits.<name>(.<name>)*                    a trait (nested keys with dots)
 *                | events.<name> | events["Order Completed"]  events of that name (0 when none)
 *                | sources.<name>                             events from that source id (0 when none)
 *                | eventCount                                 all events of the profile
 *     op        := = | != | < | <= | > | >=                   (strings and booleans: = and != only)
 *     value     := "text" | number | true | false
 *
 * `<name>` is letters, digits, `_` and `-`; a quoted name may hold anything but quotes, backslashes and control
 * characters. Each field has a classification path (`traits.plan`, `profile.eventcounts.x`), checked against the
 * access policies before anything is counted.
 */
import { ValidationError } from '../../core/errors.js'
import type { FilterColumn, FilterCondition, FilterOperator } from '../../profiles/profile-reader.js'

export const MAX_FILTER_CONDITIONS = 8
export const MAX_FILTER_LENGTH = 1000

const FIELD = '.filter'
const NAME = /^[A-Za-z0-9_-]{1,100}$/
const QUOTED_NAME = /^[^"\\\p{Cc}]{1,200}$/u

type Token = { kind: 'word'; text: string; at: number } | { kind: 'string'; text: string; at: number } | { kind: 'op'; text: FilterOperator; at: number }

function fail(at: number, message: string): never {
  throw new ValidationError(FIELD, `at character ${at + 1}: ${message} (grammar: traits.<name> = "value" and events.<name> >= 2; see docs/privacy.md)`)
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < text.length) {
    const ch = text[i]!
    if (ch === ' ' || ch === '\t') {
      i++
      continue
    }
    if (ch === '"') {
      let j = i + 1
      let out = ''
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\' && j + 1 < text.length && (text[j + 1] === '"' || text[j + 1] === '\\')) j++
        out += text[j]
        j++
      }
      if (j >= text.length) fail(i, 'a quoted text is not closed')
      tokens.push({ kind: 'string', text: out, at: i })
      i = j + 1
      continue
    }
    const op = /^(<=|>=|!=|=|<|>)/.exec(text.slice(i))
    if (op) {
      tokens.push({ kind: 'op', text: op[1] as FilterOperator, at: i })
      i += op[1]!.length
      continue
    }
    // A field with a bracketed, quoted event name: events["Order Completed"].
    const bracket = /^(events|sources)\["((?:[^"\\]|\\.)*)"\]/.exec(text.slice(i))
    if (bracket) {
      tokens.push({ kind: 'word', text: `${bracket[1]}\u0000${bracket[2]!.replace(/\\(.)/g, '$1')}`, at: i })
      i += bracket[0].length
      continue
    }
    const word = /^[A-Za-z0-9_.+-]+/.exec(text.slice(i))
    if (!word) fail(i, `unexpected ${JSON.stringify(ch)}`)
    tokens.push({ kind: 'word', text: word[0], at: i })
    i += word[0].length
  }
  return tokens
}

function fieldOf(token: Token): { column: FilterColumn; path: string[] } {
  if (token.kind !== 'word') fail(token.at, 'expected a field such as traits.plan, events.<name>, sources.<id> or eventCount')
  const nul = token.text.indexOf('\u0000')
  if (nul >= 0) {
    const name = token.text.slice(nul + 1)
    if (!QUOTED_NAME.test(name)) fail(token.at, 'a quoted name must be 1-200 characters without quotes, backslashes or control characters')
    return { column: token.text.slice(0, nul) === 'events' ? 'eventCounts' : 'sourceCounts', path: [name] }
  }
  if (token.text === 'eventCount') return { column: 'eventCount', path: [] }
  const parts = token.text.split('.')
  const [root, ...rest] = parts
  const column: FilterColumn | undefined = root === 'traits' ? 'traits' : root === 'events' ? 'eventCounts' : root === 'sources' ? 'sourceCounts' : undefined
  if (column === undefined) fail(token.at, `${JSON.stringify(token.text.slice(0, 60))} is not a field: use traits.<name>, events.<name>, sources.<id> or eventCount`)
  if (rest.length === 0 || rest.some((p) => !NAME.test(p))) fail(token.at, `${JSON.stringify(token.text.slice(0, 60))}: names are letters, digits, _ and - (quote other event names: events["Order Completed"])`)
  if (column !== 'traits' && rest.length > 1) fail(token.at, `${root}.<name> takes one name (quote names with dots: ${root}["a.b"])`)
  if (rest.length > 8) fail(token.at, 'a trait path may have at most 8 levels')
  return { column, path: rest }
}

function valueOf(token: Token | undefined, end: number): string | number | boolean {
  if (token === undefined) fail(end, 'expected a value after the operator')
  if (token.kind === 'string') {
    if (token.text.length > 500) fail(token.at, 'a text value may have at most 500 characters')
    return token.text
  }
  if (token.kind === 'word') {
    if (token.text === 'true') return true
    if (token.text === 'false') return false
    if (/^-?\d{1,15}(\.\d{1,6})?$/.test(token.text)) return Number(token.text)
  }
  return fail(token.at, `${JSON.stringify(token.text.slice(0, 40))} is not a value: use "quoted text", a number, true or false`)
}

/** Parses a filter; an empty text counts every profile. */
export function parseCountFilter(text: string): FilterCondition[] {
  if (text.length > MAX_FILTER_LENGTH) throw new ValidationError(FIELD, `is longer than ${MAX_FILTER_LENGTH} characters`)
  const tokens = tokenize(text)
  const out: FilterCondition[] = []
  let i = 0
  while (i < tokens.length) {
    if (out.length > 0) {
      const and = tokens[i]!
      if (and.kind !== 'word' || and.text.toLowerCase() !== 'and') fail(and.at, 'conditions are joined with "and" (there is no "or")')
      i++
      if (i >= tokens.length) fail(and.at, 'expected a condition after "and"')
    }
    const fieldToken = tokens[i]!
    const field = fieldOf(fieldToken)
    const opToken = tokens[i + 1]
    if (opToken?.kind === 'word' && opToken.text === 'exists') {
      if (field.column !== 'traits') fail(opToken.at, '"exists" applies to traits only (a counter always exists: compare it with > 0)')
      out.push({ ...field, op: 'exists', value: null })
      i += 2
    } else {
      if (opToken?.kind !== 'op') fail(opToken?.at ?? text.length, 'expected an operator (=, !=, <, <=, >, >=) or "exists"')
      const value = valueOf(tokens[i + 2], text.length)
      if (typeof value !== 'number' && opToken.text !== '=' && opToken.text !== '!=') fail(opToken.at, `${opToken.text} compares numbers only; text and true/false take = or !=`)
      if (typeof value !== 'number' && field.column !== 'traits') fail(tokens[i + 2]!.at, 'counters compare with numbers')
      out.push({ ...field, op: opToken.text, value })
      i += 3
    }
    if (out.length > MAX_FILTER_CONDITIONS) throw new ValidationError(FIELD, `has more than ${MAX_FILTER_CONDITIONS} conditions`)
  }
  return out
}

/** The classification path of a condition's field, as the access policies see it. */
export function classificationPath(c: FilterCondition): string {
  switch (c.column) {
    case 'traits': return `traits.${c.path.join('.')}`
    case 'eventCounts': return `profile.eventcounts.${c.path[0]!}`
    case 'sourceCounts': return `profile.sourcecounts.${c.path[0]!}`
    case 'eventCount': return 'profile.eventcount'
  }
}
