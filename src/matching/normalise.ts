/**
 * @module Normalisation of raw column values by kind, before blocking and comparison: lower case, accents
 * removed, punctuation to spaces, placeholders (`null`, `n/a`, `unknown`...) to missing; names get phonetic
 * codes, dates become `YYYYMMDD` plus a day number, e-mails keep their user part, phones their digits.
 */
import type { ColumnKind, DateOrder } from './match-config.js'
import { metaphoneCodes } from './phonetic.js'

/** A normalised value. `s` is what exact comparison and blocking use; the rest serve particular kinds. */
export interface FieldValue {
  readonly s: string
  /** E-mail user part (no `+tag`), last 8 phone digits, sorted words of a full name. */
  readonly alt?: string
  /** Date of birth as days since 1970-01-01, when it is a real calendar date. */
  readonly day?: number
  /** Phonetic codes of a name (all words). */
  readonly codes?: readonly string[]
}

const PLACEHOLDERS = new Set(['', 'null', 'nil', 'none', 'na', 'n a', 'nan', 'unknown', 'undefined', 'not known', 'not provided', 'missing'])

/** Lower case, accents removed, every run of characters other than letters and digits to one space. */
export function basicText(raw: string): string {
  return raw
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/ß/g, 'ss')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
}

function daysFromCivil(y: number, m: number, d: number): number | undefined {
  if (m < 1 || m > 12 || d < 1 || d > 31) return undefined
  const t = Date.UTC(y, m - 1, d)
  const date = new Date(t)
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return undefined
  return Math.round(t / 86_400_000)
}

/**
 * A date as `YYYYMMDD` plus its day number. Accepts `YYYYMMDD`, ISO `YYYY-MM-DD` (with any time after it) and
 * three numbers separated by `/`, `.`, `-` or spaces in `order`. Digits that are not a real date (a typo such as
 * month 13) keep their `YYYYMMDD` text for the typo level and get no day number.
 */
export function normaliseDate(raw: string, order: DateOrder): FieldValue | null {
  const text = raw.trim()
  if (PLACEHOLDERS.has(text.toLowerCase())) return null
  let y: number
  let m: number
  let d: number
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$/.exec(text)
  if (/^\d{8}$/.test(text)) {
    if (order === 'ymd') [y, m, d] = [Number(text.slice(0, 4)), Number(text.slice(4, 6)), Number(text.slice(6, 8))]
    else if (order === 'dmy') [d, m, y] = [Number(text.slice(0, 2)), Number(text.slice(2, 4)), Number(text.slice(4, 8))]
    else [m, d, y] = [Number(text.slice(0, 2)), Number(text.slice(2, 4)), Number(text.slice(4, 8))]
  } else if (iso) {
    ;[y, m, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])]
  } else {
    const parts = text.split(/[/.\-\s]+/).filter((p) => p !== '')
    if (parts.length !== 3 || parts.some((p) => !/^\d+$/.test(p))) {
      const digits = text.replace(/\D/g, '')
      return digits === '' ? null : { s: digits }
    }
    const [a, b, c] = parts.map(Number) as [number, number, number]
    if (order === 'ymd' || parts[0]!.length === 4) [y, m, d] = [a, b, c]
    else if (order === 'dmy') [d, m, y] = [a, b, c]
    else [m, d, y] = [a, b, c]
  }
  const s = `${String(y).padStart(4, '0')}${String(m).padStart(2, '0')}${String(d).padStart(2, '0')}`
  const day = daysFromCivil(y, m, d)
  return day === undefined ? { s } : { s, day }
}

/** Normalises one raw value of a column of `kind`; null for a missing value. */
export function normaliseValue(raw: string, kind: Exclude<ColumnKind, 'ignore'>, dateOrder: DateOrder): FieldValue | null {
  if (kind === 'dob') return normaliseDate(raw, dateOrder)
  if (kind === 'email') {
    const s = raw.trim().toLowerCase()
    if (PLACEHOLDERS.has(s) || !s.includes('@')) return s === '' || PLACEHOLDERS.has(s) ? null : { s, alt: s }
    const at = s.lastIndexOf('@')
    return { s, alt: s.slice(0, at).replace(/\+.*$/, '') }
  }
  if (kind === 'phone') {
    const digits = raw.replace(/\D/g, '')
    if (digits.length < 5 || /^0+$/.test(digits)) return null
    return { s: digits, alt: digits.slice(-8) }
  }
  const text = basicText(raw)
  if (PLACEHOLDERS.has(text)) return null
  switch (kind) {
    case 'given_name':
    case 'surname': {
      const s = text.replace(/ /g, '')
      return { s, codes: metaphoneCodes(s) }
    }
    case 'full_name': {
      const words = text.split(' ')
      const codes = words.flatMap((w) => metaphoneCodes(w))
      return { s: text, alt: [...words].sort().join(' '), codes }
    }
    case 'postcode':
    case 'identifier':
      return { s: text.replace(/ /g, '') }
    default:
      return { s: text }
  }
}
