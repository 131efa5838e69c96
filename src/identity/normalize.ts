/** @module Identifier value normalisation (lower-case e-mail, E.164 phone via libphonenumber-js). */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js'
import type { NormalizerName } from '../config/identity-types.js'

export type Normalizer = (raw: string) => string | null

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

/**
 * Returns the normaliser for a type. A normaliser returns null when the value is not usable
 * (an e-mail without `@`, a phone number that is not a possible number): such values are not linked.
 */
export function createNormalizer(name: NormalizerName, defaultRegion: string): Normalizer {
  switch (name) {
    case 'none':
      return (raw) => raw
    case 'trim':
      return (raw) => raw.trim()
    case 'lowercase':
      return (raw) => raw.trim().toLowerCase()
    case 'email':
      return (raw) => {
        const value = raw.trim().toLowerCase()
        return EMAIL.test(value) ? value : null
      }
    case 'phone':
      return (raw) => {
        const parsed = parsePhoneNumberFromString(raw.trim(), defaultRegion as CountryCode)
        return parsed?.isPossible() ? parsed.number : null
      }
  }
}
