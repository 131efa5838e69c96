/**
 * @module The KeyManagementService port: wraps and unwraps data keys under a master key (the key-encryption key)
 * that never leaves the service. Tessera keeps one data key per subject (src/governance/crypto/keyring.ts) and
 * stores only wrapped copies, so the master key is the one secret to guard and back up.
 *
 * Adapters, held to key-management.contract.ts: `LocalKeyFile` (a key file in the data directory, or
 * `TESSERA_MASTER_KEY`) and `Pkcs11Kms` (an HSM through PKCS#11). A cloud KMS API (AWS KMS `Encrypt`/`Decrypt`,
 * Google Cloud KMS `encrypt`/`decrypt`, Vault transit) would be one more class with these members: `wrap` calls the
 * service's encrypt with the AAD as encryption context / additional authenticated data, `unwrap` its decrypt, and
 * key ids are the service's key version names. None ships (this build has no cloud access to test one against);
 * docs/privacy.md says so.
 */

/** A data key wrapped by a master key. */
export interface WrappedKey {
  /** Which master key wrapped it (unwrap needs the same one). */
  readonly masterKeyId: string
  readonly wrapped: Buffer
}

export interface KmsStatus {
  /** Adapter name, e.g. `local-key-file`. */
  readonly kind: string
  /** The master key new wraps use. */
  readonly currentKeyId: string
  /** Master keys that still unwrap (a rotation in progress) but never wrap. */
  readonly retiredKeyIds: readonly string[]
  /** Where the keys come from, for operators (a path or an env variable name; never key material). */
  readonly source: string
}

export interface KeyManagementService {
  /** The master key that {@link wrap} uses now. */
  readonly currentKeyId: string
  /** Master key ids this service can unwrap with (current first). */
  readonly knownKeyIds: readonly string[]
  /**
   * Wraps a data key under the current master key, bound to `aad` (the subject's reference and the data key's id),
   * so a wrapped key copied onto another subject's row does not unwrap.
   */
  wrap(dataKey: Buffer, aad: Buffer): Promise<WrappedKey>
  /** Unwraps; rejects with a clear error when the master key is unknown or the bytes do not authenticate. */
  unwrap(key: WrappedKey, aad: Buffer): Promise<Buffer>
  status(): KmsStatus
}
