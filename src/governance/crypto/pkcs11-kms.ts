/**
 * @module Pkcs11Kms: the KeyManagementService adapter of a hardware security module, through PKCS#11 (the standard
 * C interface of HSMs; `pkcs11js`, an optional dependency, loads the vendor's module). The master keys are AES-256
 * secret keys inside the token, found by label, created sensitive and not extractable (`tessera keys create-master`),
 * so no master key material ever exists in Tessera's memory: a data key is wrapped by `C_Encrypt` with AES-GCM in
 * the token, its AAD the same binding to the subject and key id as the local key file's.
 *
 * Tested against SoftHSM2 (a software token implementing PKCS#11). The same module interface is what on-premises HSMs
 * and the clouds' HSM services expose (AWS CloudHSM's PKCS#11 library, Google Cloud KMS's `libkmsp11`); their
 * rules for AES-GCM initialisation vectors differ (some generate the IV themselves), and they are not tested here:
 * docs/privacy.md says so.
 *
 * A master key's id is `p11:<label>`: data key rows name the label, so a label must never be reused for another key.
 * Rotation: create a key under a new label, make it `keyLabel`, list the old one in `retiredKeyLabels` (it still
 * unwraps, never wraps), run `tessera keys rotate-master`, then remove it from the list.
 *
 * One session per process and thread, its operations one at a time (a PKCS#11 session runs one operation at a
 * time), on libuv's thread pool (the `Async` calls): the HSM's latency never blocks the event loop. The module is
 * initialised once per process (`CKF_OS_LOCKING_OK`; the pipeline worker thread shares it) and never finalised.
 */
import { randomBytes } from 'node:crypto'
import { ConfigError, TesseraError } from '../../core/errors.js'
import type * as Pkcs11js from 'pkcs11js'
import type { KeyManagementService, KmsStatus, WrappedKey } from './key-management.js'

export interface Pkcs11Config {
  /** Path of the token's PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  readonly library: string
  /** The token's label. */
  readonly token: string
  /** Label of the AES-256 key that wraps new data keys. */
  readonly keyLabel: string
  /** Labels of earlier master keys that still unwrap (a rotation in progress); none by default. */
  readonly retiredKeyLabels?: readonly string[]
  /** The environment variable holding the token's user PIN (default `TESSERA_PKCS11_PIN`). */
  readonly pinEnv?: string
}

export const DEFAULT_PIN_ENV = 'TESSERA_PKCS11_PIN'
const FIELD = 'governance.encryption.pkcs11'
const IV_BYTES = 12
const TAG_BITS = 128
/** The wrapped form: version 1 | IV (12) | ciphertext | tag (16). */
const WRAP_VERSION = 1

export function pkcs11KeyId(label: string): string {
  return `p11:${label}`
}

type Pkcs11Module = typeof Pkcs11js
type Pkcs11 = InstanceType<Pkcs11Module['PKCS11']>
type Handle = Buffer

async function loadPkcs11js(): Promise<Pkcs11Module> {
  try {
    const loaded = await import('pkcs11js') as Pkcs11Module & { default?: Pkcs11Module }
    return loaded.default ?? loaded
  } catch (cause) {
    throw new ConfigError(`${FIELD} needs the optional package pkcs11js, which is not installed or did not build ` +
      `(${(cause as Error).message}): run \`npm install pkcs11js\` (it builds with node-gyp: python3, make and a C++ compiler)`, FIELD)
  }
}

/** One loaded module per library path in this process and thread (initialising twice is an error in PKCS#11). */
const modules = new Map<string, Promise<{ readonly lib: Pkcs11Module; readonly p11: Pkcs11 }>>()

function loadModule(library: string): Promise<{ readonly lib: Pkcs11Module; readonly p11: Pkcs11 }> {
  let loading = modules.get(library)
  if (loading === undefined) {
    loading = (async () => {
      const lib = await loadPkcs11js()
      const p11 = new lib.PKCS11()
      try {
        p11.load(library)
      } catch (cause) {
        throw new ConfigError(`${FIELD}.library: cannot load the PKCS#11 module ${library}: ${(cause as Error).message} (is the HSM's client installed, and is this its .so?)`, `${FIELD}.library`)
      }
      try {
        p11.C_Initialize({ flags: lib.CKF_OS_LOCKING_OK })
      } catch (error) {
        // Another thread of this process (the pipeline worker, or the main thread) initialised it: shared.
        if (!/CKR_CRYPTOKI_ALREADY_INITIALIZED/.test((error as Error).message)) throw error
      }
      return { lib, p11 }
    })()
    modules.set(library, loading)
    loading.catch(() => modules.delete(library))
  }
  return loading
}

interface OpenedToken {
  readonly lib: Pkcs11Module
  readonly p11: Pkcs11
  readonly session: Handle
}

async function openToken(config: Pkcs11Config, env: Readonly<Record<string, string | undefined>>): Promise<OpenedToken> {
  const pinEnv = config.pinEnv ?? DEFAULT_PIN_ENV
  const pin = env[pinEnv]
  if (pin === undefined || pin === '') {
    throw new ConfigError(`${FIELD}: set the token's user PIN in the environment variable ${pinEnv} (${FIELD}.pinEnv names another one)`, `${FIELD}.pinEnv`)
  }
  const { lib, p11 } = await loadModule(config.library)
  const slots = p11.C_GetSlotList(true)
  const labels: string[] = []
  const slot = slots.find((s) => {
    const label = p11.C_GetTokenInfo(s).label.trim()
    labels.push(label)
    return label === config.token
  })
  if (slot === undefined) {
    throw new ConfigError(`${FIELD}.token: no token labelled ${JSON.stringify(config.token)} in ${config.library} (tokens present: ${labels.map((l) => JSON.stringify(l)).join(', ') || 'none'})`, `${FIELD}.token`)
  }
  const session = p11.C_OpenSession(slot, lib.CKF_SERIAL_SESSION | lib.CKF_RW_SESSION)
  try {
    p11.C_Login(session, lib.CKU_USER, pin)
  } catch (error) {
    // The login state is the application's: another session of this process logged in already.
    if (!/CKR_USER_ALREADY_LOGGED_IN/.test((error as Error).message)) {
      p11.C_CloseSession(session)
      throw new ConfigError(`${FIELD}: the token ${JSON.stringify(config.token)} refused the PIN in ${pinEnv} (${(error as Error).message})`, `${FIELD}.pinEnv`)
    }
  }
  return { lib, p11, session }
}

function findKeys(token: OpenedToken, label: string): Handle[] {
  const { lib, p11, session } = token
  p11.C_FindObjectsInit(session, [
    { type: lib.CKA_CLASS, value: lib.CKO_SECRET_KEY }, { type: lib.CKA_KEY_TYPE, value: lib.CKK_AES }, { type: lib.CKA_LABEL, value: label },
  ])
  try {
    return p11.C_FindObjects(session, 2)
  } finally {
    p11.C_FindObjectsFinal(session)
  }
}

function findKey(token: OpenedToken, config: Pkcs11Config, label: string): Handle {
  const found = findKeys(token, label)
  if (found.length === 0) {
    throw new ConfigError(`${FIELD}: the token ${JSON.stringify(config.token)} holds no AES key labelled ${JSON.stringify(label)}: ` +
      `create it with \`tessera keys create-master --label ${label}\` (or your HSM's tools), or restore it from the HSM's backup`, `${FIELD}.keyLabel`)
  }
  if (found.length > 1) {
    throw new ConfigError(`${FIELD}: the token ${JSON.stringify(config.token)} holds several AES keys labelled ${JSON.stringify(label)}; a master key's label must name one key`, `${FIELD}.keyLabel`)
  }
  return found[0]!
}

export class Pkcs11Kms implements KeyManagementService {
  readonly currentKeyId: string
  readonly knownKeyIds: readonly string[]
  readonly #config: Pkcs11Config
  readonly #token: OpenedToken
  readonly #keys: ReadonlyMap<string, Handle>
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false

  /** Opens a session on the token and finds the master keys; a ConfigError says what is missing and how to fix it. */
  static async open(config: Pkcs11Config, env: Readonly<Record<string, string | undefined>> = process.env): Promise<Pkcs11Kms> {
    const token = await openToken(config, env)
    try {
      const keys = new Map<string, Handle>()
      for (const label of [config.keyLabel, ...(config.retiredKeyLabels ?? [])]) keys.set(pkcs11KeyId(label), findKey(token, config, label))
      return new Pkcs11Kms(config, token, keys)
    } catch (error) {
      token.p11.C_CloseSession(token.session)
      throw error
    }
  }

  /**
   * Creates an AES-256 master key in the token under `label`: generated inside it, sensitive and never extractable,
   * kept on the token. Refuses a label already in use (a label names one key for ever: data key rows name it).
   */
  static async createKey(config: Omit<Pkcs11Config, 'keyLabel' | 'retiredKeyLabels'>, label: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<string> {
    const token = await openToken({ ...config, keyLabel: label, retiredKeyLabels: [] }, env)
    const { lib, p11, session } = token
    try {
      if (findKeys(token, label).length > 0) {
        throw new ConfigError(`the token ${JSON.stringify(config.token)} holds a key labelled ${JSON.stringify(label)} already; choose a new label (data keys name their master key by it)`, `${FIELD}.keyLabel`)
      }
      p11.C_GenerateKey(session, { mechanism: lib.CKM_AES_KEY_GEN }, [
        { type: lib.CKA_CLASS, value: lib.CKO_SECRET_KEY }, { type: lib.CKA_KEY_TYPE, value: lib.CKK_AES }, { type: lib.CKA_VALUE_LEN, value: 32 },
        { type: lib.CKA_LABEL, value: label }, { type: lib.CKA_TOKEN, value: true }, { type: lib.CKA_PRIVATE, value: true },
        { type: lib.CKA_SENSITIVE, value: true }, { type: lib.CKA_EXTRACTABLE, value: false },
        { type: lib.CKA_ENCRYPT, value: true }, { type: lib.CKA_DECRYPT, value: true },
      ])
      return pkcs11KeyId(label)
    } finally {
      p11.C_CloseSession(session)
    }
  }

  private constructor(config: Pkcs11Config, token: OpenedToken, keys: ReadonlyMap<string, Handle>) {
    this.#config = config
    this.#token = token
    this.#keys = keys
    this.currentKeyId = pkcs11KeyId(config.keyLabel)
    this.knownKeyIds = [...keys.keys()]
  }

  /** Runs `work` after every operation queued before it (one operation at a time on the session). */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#closed) throw new TesseraError('TESSERA_STORE', 'the PKCS#11 session is closed')
      return work()
    })
    this.#queue = run.catch(() => undefined)
    return run
  }

  #mechanism(iv: Buffer, aad: Buffer): Parameters<Pkcs11['C_EncryptInit']>[1] {
    const { lib } = this.#token
    const parameter: Pkcs11js.AesGCM = { type: lib.CK_PARAMS_AES_GCM, iv, aad, ivBits: IV_BYTES * 8, tagBits: TAG_BITS }
    return { mechanism: lib.CKM_AES_GCM, parameter }
  }

  wrap(dataKey: Buffer, aad: Buffer): Promise<WrappedKey> {
    return this.#serial(async () => {
      const { p11, session } = this.#token
      const iv = randomBytes(IV_BYTES)
      p11.C_EncryptInit(session, this.#mechanism(iv, aad), this.#keys.get(this.currentKeyId)!)
      const sealed = await new Promise<Buffer>((resolve, reject) => {
        p11.C_Encrypt(session, dataKey, Buffer.alloc(dataKey.length + TAG_BITS / 8), (error, out) => (error ? reject(error) : resolve(out)))
      })
      return { masterKeyId: this.currentKeyId, wrapped: Buffer.concat([Buffer.of(WRAP_VERSION), iv, sealed]) }
    })
  }

  unwrap(key: WrappedKey, aad: Buffer): Promise<Buffer> {
    const handle = this.#keys.get(key.masterKeyId)
    if (handle === undefined) {
      return Promise.reject(new ConfigError(`a data key is wrapped by master key ${key.masterKeyId}, which ${this.#source()} does not list ` +
        `(it lists ${this.knownKeyIds.join(', ')}): add its label to ${FIELD}.retiredKeyLabels, or restore the key in the HSM`, `${FIELD}.retiredKeyLabels`))
    }
    if (key.wrapped.length < 1 + IV_BYTES + TAG_BITS / 8 || key.wrapped[0] !== WRAP_VERSION) {
      return Promise.reject(new Error(`a wrapped data key under ${key.masterKeyId} is not in the PKCS#11 wrapped form (altered key store row?)`))
    }
    return this.#serial(async () => {
      const { p11, session } = this.#token
      const iv = key.wrapped.subarray(1, 1 + IV_BYTES)
      p11.C_DecryptInit(session, this.#mechanism(iv, aad), handle)
      try {
        return await new Promise<Buffer>((resolve, reject) => {
          p11.C_Decrypt(session, key.wrapped.subarray(1 + IV_BYTES), Buffer.alloc(key.wrapped.length), (error, out) => (error ? reject(error) : resolve(Buffer.from(out))))
        })
      } catch (cause) {
        throw new Error(`a wrapped data key does not authenticate under master key ${key.masterKeyId} (altered key store row, or another subject's key?)`, { cause })
      }
    })
  }

  #source(): string {
    return `PKCS#11 token ${JSON.stringify(this.#config.token)} (${this.#config.library})`
  }

  status(): KmsStatus {
    return { kind: 'pkcs11', currentKeyId: this.currentKeyId, retiredKeyIds: this.knownKeyIds.slice(1), source: this.#source() }
  }

  /** Closes this session (after the operations queued); the module stays initialised for the process's other users. */
  async close(): Promise<void> {
    if (this.#closed) return
    await this.#queue
    this.#closed = true
    this.#token.p11.C_CloseSession(this.#token.session)
  }
}
