/**
 * @module Where the Tessera server is and which keys to use, for CLI commands that talk to it: `--url` or
 * `http://127.0.0.1:$TESSERA_PORT` (3000), credentials from `<dataDir>/credentials.json` (written by
 * `tessera up`; `--data-dir`, `$TESSERA_DATA_DIR`, `./data`), with `TESSERA_WRITE_KEY` / `TESSERA_ADMIN_TOKEN`
 * taking precedence as they do on the server.
 */
import { resolve } from 'node:path'
import { credentialsPath, readCredentials, type StoredCredentials } from '../config/credentials.js'

type Env = Readonly<Record<string, string | undefined>>

export interface ConnectionSettings {
  /** Base URL without a trailing slash. */
  readonly url: string
  /** Absolute data directory the credentials were looked for in. */
  readonly dataDir: string
  readonly credentialsFile: string
  /** Null when the file does not exist (the server has not been started with this data directory). */
  readonly credentials: StoredCredentials | null
  readonly env: Env
}

/** Result union: a bad `--url` is the caller's mistake, reported with usage, not an exception. */
export type SettingsResult = { readonly ok: true; readonly settings: ConnectionSettings } | { readonly ok: false; readonly message: string }

/**
 * Resolves URL and credentials. Throws `ConfigError` if the credentials file exists but is unreadable (its
 * message says to delete it).
 */
export function resolveConnection(options: { readonly url?: string; readonly dataDir?: string; readonly env?: Env }): SettingsResult {
  const env = options.env ?? process.env
  const url = options.url ?? `http://127.0.0.1:${env.TESSERA_PORT ?? 3000}`
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    // A malformed URL is a usage error; the message below is the whole story.
    return { ok: false, message: `--url ${JSON.stringify(url)} is not a URL (example: http://127.0.0.1:3000)` }
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return { ok: false, message: `--url must be http:// or https://, got ${parsed.protocol}` }
  }
  const dataDir = resolve(options.dataDir ?? env.TESSERA_DATA_DIR ?? './data')
  return {
    ok: true,
    settings: {
      url: url.replace(/\/+$/, ''),
      dataDir,
      credentialsFile: credentialsPath(dataDir),
      credentials: readCredentials(dataDir),
      env,
    },
  }
}

export interface ResolvedWriteKey {
  readonly key: string
  /** The source whose key this is: the one asked for, or `default` when it fell back. */
  readonly sourceId: string
  /** Where it came from, for a message (never the key itself). */
  readonly origin: string
}

/**
 * The write key of the default source: `TESSERA_WRITE_KEY` (which replaces the default source's key on the
 * server too) or the stored one.
 */
export function defaultWriteKey(settings: ConnectionSettings): ResolvedWriteKey | null {
  const fromEnv = settings.env.TESSERA_WRITE_KEY
  if (fromEnv !== undefined && fromEnv !== '') return { key: fromEnv, sourceId: 'default', origin: 'TESSERA_WRITE_KEY' }
  const stored = settings.credentials?.writeKeys.default
  return stored === undefined ? null : { key: stored, sourceId: 'default', origin: settings.credentialsFile }
}

/** The stored write key of one source, or null if the credentials have none for it. */
export function sourceWriteKey(settings: ConnectionSettings, sourceId: string): ResolvedWriteKey | null {
  const stored = settings.credentials?.writeKeys[sourceId]
  return stored === undefined ? null : { key: stored, sourceId, origin: settings.credentialsFile }
}

/** The admin token: `TESSERA_ADMIN_TOKEN` or the stored one; null if neither exists. */
export function adminToken(settings: ConnectionSettings): string | null {
  const fromEnv = settings.env.TESSERA_ADMIN_TOKEN
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  return settings.credentials?.adminToken ?? null
}

/** What to tell a user who has no credentials. */
export function missingCredentialsHint(settings: ConnectionSettings): string {
  return `no credentials found: ${settings.credentialsFile} does not exist. Start the server once with \`tessera up\` ` +
    `(it writes that file), pass --data-dir <the server's data directory>, or set TESSERA_WRITE_KEY / TESSERA_ADMIN_TOKEN`
}
