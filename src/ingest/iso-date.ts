/**
 * @module Strict ISO-8601 date reading for event timestamps. `Date.parse` is too lenient (it takes
 * `"1"`, `"March 7"` and local-time forms whose meaning depends on the server's zone), so the format is
 * matched first and the instant computed from its parts.
 */

// Compiled once: date, optional time with optional fraction, optional zone (Z, ±hh, ±hhmm, ±hh:mm).
// A date-time without a zone is read as UTC (Segment's SDKs always send one; this keeps the result
// independent of the server's TZ).
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/

/** Largest absolute epoch-milliseconds value a JS Date can hold (ECMA-262 §21.4.1.1). */
export const MAX_DATE_MS = 8.64e15

/**
 * Milliseconds since the epoch for an ISO-8601 date or date-time, or `undefined` when `value` is not one
 * (wrong shape, impossible day such as `2023-02-30`, hour over 23, zone offset over 23:59).
 *
 * @example parseIsoDate('2024-05-01T12:00:00.000+02:00') // 1714557600000
 */
export function parseIsoDate(value: string): number | undefined {
  const m = ISO_8601.exec(value)
  if (m === null) return undefined
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  const hour = m[4] === undefined ? 0 : Number(m[4])
  const minute = m[5] === undefined ? 0 : Number(m[5])
  const second = m[6] === undefined ? 0 : Number(m[6])
  const millis = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3))
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined
  if (day > daysInMonth(year, month)) return undefined
  const offsetMinutes = zoneOffsetMinutes(m[8])
  if (offsetMinutes === undefined) return undefined
  // Plain arithmetic rather than a Date object: this runs for every timestamp of every event.
  const ms = daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + (minute - offsetMinutes) * 60_000 + second * 1000 + millis
  return Math.abs(ms) <= MAX_DATE_MS ? ms : undefined
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/** Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant, "chrono-compatible date algorithms"). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yearOfEra = y - era * 400
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear
  return era * 146_097 + dayOfEra - 719_468
}

function zoneOffsetMinutes(zone: string | undefined): number | undefined {
  if (zone === undefined || zone === 'Z' || zone === 'z') return 0
  const sign = zone.charCodeAt(0) === 45 /* '-' */ ? -1 : 1
  const digits = zone.slice(1).replace(':', '')
  const hours = Number(digits.slice(0, 2))
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0
  if (hours > 23 || minutes > 59) return undefined
  return sign * (hours * 60 + minutes)
}
