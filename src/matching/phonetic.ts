/**
 * @module Phonetic codes for names: Double Metaphone (the `double-metaphone` package), primary and alternate
 * code, memoised because names repeat (a file of 50,000 people has a few thousand distinct names).
 */
import { doubleMetaphone } from 'double-metaphone'

const cache = new Map<string, readonly string[]>()
const CACHE_LIMIT = 200_000

/** The distinct non-empty Double Metaphone codes of a word (one or two); empty for a word with no consonant sound. */
export function metaphoneCodes(word: string): readonly string[] {
  let codes = cache.get(word)
  if (codes === undefined) {
    const [primary, alternate] = doubleMetaphone(word)
    codes = [primary, alternate].filter((c, i, all) => c !== '' && all.indexOf(c) === i)
    if (cache.size >= CACHE_LIMIT) cache.clear()
    cache.set(word, codes)
  }
  return codes
}

/** True when two code lists share a code. */
export function codesIntersect(a: readonly string[], b: readonly string[]): boolean {
  for (const x of a) if (b.includes(x)) return true
  return false
}
