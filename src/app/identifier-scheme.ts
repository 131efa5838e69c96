/**
 * @module Picks the identifier codec of a state (composition root): the scheme the state recorded decides, so a
 * state keeps the keys it was written with whatever the configuration says now, and a wrong or missing keyring is an
 * error at start instead of every lookup missing (which would silently split every profile).
 */
import type { TesseraConfig } from '../config/config.js'
import { ConfigError } from '../core/errors.js'
import type { Keyring } from '../governance/crypto/keyring.js'
import { CLEAR_IDENTIFIERS, CLEAR_SCHEME, PseudonymousIdentifiers, type IdentifierCodec } from '../identity/identifier-codec.js'
import type { StateBackend } from '../storage/state-backend.js'
import { openConfiguredKeyring } from '../governance/crypto/open-keyring.js'
import { openState } from './open-state.js'

export interface OpenedIdentifierCodec {
  readonly codec: IdentifierCodec
  /** Set when encryption is on but the state keeps clear keys (written before pseudonymisation): say so at start. */
  readonly warning: string | null
}

/**
 * A new state is pseudonymised when `governance.encryption.enabled` (the keyring's identifier key); with encryption
 * off it keeps clear keys. `state` must be migrated.
 */
export async function openIdentifierCodec(config: TesseraConfig, state: StateBackend, keyring: Keyring | null): Promise<OpenedIdentifierCodec> {
  const pseudonymous = keyring === null ? null : new PseudonymousIdentifiers(keyring)
  const proposed = config.governance.encryption.enabled && pseudonymous !== null ? pseudonymous.scheme : CLEAR_SCHEME
  const scheme = await state.identifierScheme(proposed)
  if (scheme === CLEAR_SCHEME) {
    return {
      codec: CLEAR_IDENTIFIERS,
      warning: proposed === CLEAR_SCHEME ? null
        : 'the identity graph of this state keeps identifier values in clear: it was written before identifiers were pseudonymised; ' +
          '`tessera replay --from earliest` (with Tessera stopped) rebuilds it with pseudonymous keys unless it holds unmerges ' +
          '(docs/operations.md, "Pseudonymous identifiers")',
    }
  }
  if (pseudonymous === null) {
    throw new ConfigError('the identity graph of this state is pseudonymised (identifier keys are HMACs under the keyring), but there is no keyring: ' +
      'restore the master key and keys.db (or tessera_data_keys) from your backup', 'governance.encryption')
  }
  if (scheme !== pseudonymous.scheme) {
    throw new ConfigError(`the identity graph of this state was pseudonymised under another keyring or pseudonym format (${scheme}; ` +
      `this Tessera with this keyring makes ${pseudonymous.scheme}): every lookup would miss; restore the keyring the state was written with, ` +
      'or rebuild the state with `tessera replay --from earliest`', 'governance.encryption')
  }
  return { codec: pseudonymous, warning: null }
}

/**
 * The codec of an existing state for a command that only reads it (`tessera match-train`): opens the keyring and the
 * state just long enough to read the scheme; `close()` closes the keyring (null: none), which reveals and the opening of
 * sealed traits need until then.
 */
export async function openStateIdentifierCodec(config: TesseraConfig, dataDir: string, statePath: string): Promise<{ codec: IdentifierCodec; keyring: Keyring | null; close(): Promise<void> }> {
  const keys = await openConfiguredKeyring(config, dataDir)
  try {
    const state = await openState(config, statePath)
    try {
      await state.migrate()
      const { codec } = await openIdentifierCodec(config, state, keys?.keyring ?? null)
      return { codec, keyring: keys?.keyring ?? null, close: async () => { await keys?.close() } }
    } finally {
      await state.close()
    }
  } catch (error) {
    await keys?.close()
    throw error
  }
}
