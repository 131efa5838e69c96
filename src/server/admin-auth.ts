/**
 * @module Bearer-token authentication for the admin API (constant-time comparison; tokens never logged).
 * A token maps to a policy principal: its name, roles, attributes and bound purpose. A token configured
 * without roles (and the generated or TESSERA_ADMIN_TOKEN token) is an `admin` bound to `administration`.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { AdminTokenConfig } from '../config/config.js'
import { TesseraError } from '../core/errors.js'
import type { Principal } from '../governance/principals.js'

export type AdminPrincipal = Principal

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

export function principalOf(t: AdminTokenConfig): Principal {
  const legacy = t.roles === undefined
  const purpose = t.purpose ?? (legacy ? 'administration' : undefined)
  return Object.freeze({
    name: t.name,
    roles: Object.freeze([...(t.roles ?? ['admin'])]),
    attributes: Object.freeze({ ...(t.attributes ?? {}) }),
    ...(purpose === undefined ? {} : { purpose }),
  })
}

/** Returns a function that maps an `Authorization` header to a principal or throws TESSERA_UNAUTHORIZED. */
export function createAdminAuthenticator(tokens: readonly AdminTokenConfig[]): (header: string | undefined) => AdminPrincipal {
  const known = tokens.map((t) => ({ principal: principalOf(t), digest: digest(t.token) }))
  return function authenticateAdmin(header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
    if (!match) {
      throw new TesseraError('TESSERA_UNAUTHORIZED', 'admin API needs an `Authorization: Bearer <admin token>` header (the token is in <dataDir>/credentials.json or TESSERA_ADMIN_TOKEN)')
    }
    const given = digest(match[1]!)
    // Compare against every token, so the time taken does not tell which one (or whether any) matched.
    let found: Principal | undefined
    for (const k of known) if (timingSafeEqual(k.digest, given) && found === undefined) found = k.principal
    if (!found) throw new TesseraError('TESSERA_UNAUTHORIZED', 'admin token not recognised')
    return found
  }
}
