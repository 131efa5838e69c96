/**
 * @module LocalKeyFile: the KeyManagementService adapter of a single machine. The master key is 32 random bytes,
 * base64, in `<dataDir>/master.key` (mode 0600, created on the first start of an empty keyring) or in the
 * `TESSERA_MASTER_KEY` environment variable (base64 of 32 bytes; then no file is read or written). During a master
 * key rotation the previous key still unwraps: `TESSERA_MASTER_KEY_RETIRED` in the env mode, the files
 * `master.key.next` / `master.key.retired` in the file mode (src/governance/crypto/rotate-master.ts).
 *
 * A master key's id is a fingerprint (`mk-` + 16 hex digits of the SHA-256 of an HKDF-derived value), so data key
 * rows name their master key without revealing anything about it.
 */
import { createHash, hkdfSync, randomBytes } from 'node:crypto'
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConfigError } from '../../core/errors.js'
import { EnvelopeError, open, seal } from './envelope.js'
import type { KeyManagementService, KmsStatus, WrappedKey } from './key-management.js'

export const MASTER_KEY_ENV = 'TESSERA_MASTER_KEY'
export const RETIRED_MASTER_KEY_ENV = 'TESSERA_MASTER_KEY_RETIRED'

/** The id of a master key (a fingerprint; reveals nothing usable about the key). */
export function masterKeyId(key: Buffer): string {
  const derived = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'tessera/master-key-id/v1', 32))
  return `mk-${createHash('sha256').update(derived).digest('hex').slice(0, 16)}`
}

/** Parses base64 of exactly 32 bytes; `where` names the file or variable for the error. */
export function parseMasterKey(text: string, where: string, field: string): Buffer {
  const trimmed = text.trim()
  const key = Buffer.from(trimmed, 'base64')
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || key.length !== 32) {
    throw new ConfigError(`${where} must hold a master key: base64 of 32 random bytes (e.g. \`openssl rand -base64 32\`); ` +
      'if this is your key, restore the right file from a backup: without it the encrypted event log cannot be read', field)
  }
  return key
}

/** Writes a new file durably (write to a temporary name, fsync, rename); mode 0600. */
export function writeKeyFileAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  const fd = openSync(tmp, 'w', 0o600)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  chmodSync(tmp, 0o600)
  renameSync(tmp, path)
  fsyncDir(dirname(path))
}

function fsyncDir(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

export function newMasterKeyText(): string {
  return `${randomBytes(32).toString('base64')}\n`
}

/** The files of the file mode: the current key, a staged next key and the retired one (rotation). */
export function masterKeyFiles(keyFile: string): { readonly current: string; readonly next: string; readonly retired: string } {
  return { current: keyFile, next: `${keyFile}.next`, retired: `${keyFile}.retired` }
}

export interface LocalKeyFileOptions {
  /** The key file (file mode), `<dataDir>/master.key` by default. */
  readonly keyFile: string
  readonly env?: Readonly<Record<string, string | undefined>>
  /** May a missing key file be created? Only when the keyring has no keys yet (fail closed otherwise). */
  readonly create: boolean
}

export class LocalKeyFile implements KeyManagementService {
  readonly #current: Buffer
  readonly #keys: ReadonlyMap<string, Buffer>
  readonly #source: string
  readonly currentKeyId: string
  readonly knownKeyIds: readonly string[]

  /** Loads the keys (see the module comment); throws a ConfigError saying what is missing and how to fix it. */
  static load(options: LocalKeyFileOptions): LocalKeyFile {
    const env = options.env ?? process.env
    const fromEnv = env[MASTER_KEY_ENV]
    if (fromEnv !== undefined && fromEnv !== '') {
      const current = parseMasterKey(fromEnv, MASTER_KEY_ENV, MASTER_KEY_ENV)
      const retiredText = env[RETIRED_MASTER_KEY_ENV]
      const retired = retiredText === undefined || retiredText === '' ? [] : [parseMasterKey(retiredText, RETIRED_MASTER_KEY_ENV, RETIRED_MASTER_KEY_ENV)]
      return new LocalKeyFile(current, retired, `env ${MASTER_KEY_ENV}`)
    }
    const files = masterKeyFiles(options.keyFile)
    if (!existsSync(files.current)) {
      if (existsSync(files.next) || existsSync(files.retired)) {
        throw new ConfigError(`the master key file ${files.current} is missing but ${existsSync(files.next) ? files.next : files.retired} exists: ` +
          'a master key rotation was interrupted in an unexpected way; restore master.key from your backup', 'governance.encryption.keyFile')
      }
      if (!options.create) {
        throw new ConfigError(`the master key file ${files.current} is missing, but the keyring holds data keys wrapped by a master key: ` +
          `restore the file from your backup (or set ${MASTER_KEY_ENV}); without it the encrypted event log cannot be read. Tessera does not create a new key over existing data. ` +
          `In the scale-out mode every process needs the same master key: the same ${MASTER_KEY_ENV}, or governance.encryption.keyFile naming one shared file.`,
        'governance.encryption.keyFile')
      }
      try {
        mkdirSync(dirname(files.current), { recursive: true })
        const fd = openSync(files.current, 'wx', 0o600)
        try {
          writeSync(fd, newMasterKeyText())
          fsyncSync(fd)
        } finally {
          closeSync(fd)
        }
        fsyncDir(dirname(files.current))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error // another process created it first
      }
    }
    const read = (path: string): Buffer => parseMasterKey(readFileSync(path, 'utf8'), `the master key file ${path}`, 'governance.encryption.keyFile')
    const current = read(files.current)
    const others = [files.next, files.retired].filter((p) => existsSync(p)).map(read)
    return new LocalKeyFile(current, others, files.current)
  }

  /** A service over explicit keys (the rotation, which makes a staged key current before it is installed). */
  static fromKeys(current: Buffer, others: readonly Buffer[], source: string): LocalKeyFile {
    return new LocalKeyFile(current, others, source)
  }

  private constructor(current: Buffer, others: readonly Buffer[], source: string) {
    this.#current = current
    this.currentKeyId = masterKeyId(current)
    const keys = new Map<string, Buffer>([[this.currentKeyId, current]])
    for (const k of others) keys.set(masterKeyId(k), k)
    this.#keys = keys
    this.knownKeyIds = [...keys.keys()]
    this.#source = source
  }

  wrap(dataKey: Buffer, aad: Buffer): Promise<WrappedKey> {
    return Promise.resolve({ masterKeyId: this.currentKeyId, wrapped: seal(this.#current, dataKey, aad) })
  }

  unwrap(key: WrappedKey, aad: Buffer): Promise<Buffer> {
    const master = this.#keys.get(key.masterKeyId)
    if (master === undefined) {
      return Promise.reject(new ConfigError(`a data key is wrapped by master key ${key.masterKeyId}, which ${this.#source} does not hold (it holds ${this.knownKeyIds.join(', ')}): ` +
        'restore the right master key from your backup', 'governance.encryption.keyFile'))
    }
    try {
      return Promise.resolve(open(master, key.wrapped, aad))
    } catch (error) {
      if (error instanceof EnvelopeError) return Promise.reject(new Error(`a wrapped data key does not authenticate under master key ${key.masterKeyId} (altered key store row?)`, { cause: error }))
      return Promise.reject(error as Error)
    }
  }

  status(): KmsStatus {
    return { kind: 'local-key-file', currentKeyId: this.currentKeyId, retiredKeyIds: this.knownKeyIds.slice(1), source: this.#source }
  }
}

/** Removes a key file (end of a rotation). */
export function removeKeyFile(path: string): void {
  rmSync(path, { force: true })
  fsyncDir(dirname(path))
}
