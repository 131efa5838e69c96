/** @module Bearer-token authentication for the admin API (constant-time comparison; tokens never logged). */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { AdminTokenConfig } from '../config/config.js'
import { TesseraError } from '../core/errors.js'

export interface AdminPrincipal {
  readonly name: string
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/** Returns a function that maps an `Authorization` header to a principal or throws TESSERA_UNAUTHORIZED. */
export function createAdminAuthenticator(tokens: readonly AdminTokenConfig[]): (header: string | undefined) => AdminPrincipal {
  const known = tokens.map((t) => ({ name: t.name, digest: digest(t.token) }))
  return function authenticateAdmin(header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
    if (!match) {
      throw new TesseraError('TESSERA_UNAUTHORIZED', 'admin API needs an `Authorization: Bearer <admin token>` header (the token is in <dataDir>/credentials.json or TESSERA_ADMIN_TOKEN)')
    }
    const given = digest(match[1]!)
    const found = known.find((k) => timingSafeEqual(k.digest, given))
    if (!found) throw new TesseraError('TESSERA_UNAUTHORIZED', 'admin token not recognised')
    return { name: found.name }
  }
}
