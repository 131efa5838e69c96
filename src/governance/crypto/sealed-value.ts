/**
 * @module The stored form of a value sealed under a subject's data key in the state (identifier values, profile
 * traits, timeline payloads, match records): `<data key ref>.<data key id>.<base64url envelope>`. It names its key,
 * so a reader opens it with `Keyring.keysByRef` (no lookup by subject, and a row moved to a merge winner still opens
 * under the key it was sealed with), and a shredded key leaves it unreadable. The AAD is the caller's: it names the
 * purpose and the row, so a value copied onto another row or purpose does not open.
 *
 * The ref is the subject's pseudonym (base64url) and the key id hex: neither holds a `.`, `{` or `[`, so a stored
 * sealed value never starts like JSON text, and clear rows written before sealing are told apart by their first
 * character.
 */
import { EnvelopeError, open, seal } from './envelope.js'
import type { DataKey, Keyring } from './keyring.js'

/** Seals `text` under `key`, bound to `aad`, in the stored form. */
export function sealValue(key: DataKey, text: string, aad: Buffer): string {
  return `${key.ref}.${key.keyId}.${seal(key.key, Buffer.from(text, 'utf8'), aad).toString('base64url')}`
}

/** The parts of a stored sealed value, or null when `stored` is not one. */
export function parseSealedValue(stored: string): { readonly ref: string; readonly keyId: string; readonly body: string } | null {
  const a = stored.indexOf('.')
  const b = a < 0 ? -1 : stored.indexOf('.', a + 1)
  if (a <= 0 || b <= a + 1 || b === stored.length - 1) return null
  return { ref: stored.slice(0, a), keyId: stored.slice(a + 1, b), body: stored.slice(b + 1) }
}

/** One value to open: its stored form, and its AAD given the key id it names. */
export interface SealedValueToOpen {
  readonly stored: string
  readonly aad: (keyId: string) => Buffer
}

/**
 * Opens stored sealed values with one `keysByRef` for all: the clear text of each, or null where the value is not in
 * the sealed form, its key was shredded (the person was erased), or it does not authenticate (another row's value).
 */
export async function openSealedValues(keyring: Keyring, items: readonly SealedValueToOpen[]): Promise<(string | null)[]> {
  const parsed = items.map((i) => parseSealedValue(i.stored))
  const wanted = parsed.flatMap((p) => (p === null ? [] : [{ ref: p.ref, keyId: p.keyId }]))
  const keys = wanted.length === 0 ? [] : await keyring.keysByRef(wanted)
  let next = 0
  return parsed.map((p, n) => {
    if (p === null) return null
    const key = keys[next++]
    if (key === null || key === undefined) return null
    try {
      return open(key.key, Buffer.from(p.body, 'base64url'), items[n]!.aad(p.keyId)).toString('utf8')
    } catch (error) {
      if (error instanceof EnvelopeError) return null
      throw error
    }
  })
}
