/**
 * @module Credentials for a zero-config start: write keys for the default sources and one admin token,
 * generated on first `tessera up`, stored in `<dataDir>/credentials.json` (mode 0600) and reused after.
 * `TESSERA_WRITE_KEY` and `TESSERA_ADMIN_TOKEN` take precedence over the stored values.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../core/errors.js'
import type { AdminTokenConfig, SourceConfig } from './config.js'

/** Sources created on first start, one write key each, so that web, mobile, CRM and IoT traffic stay apart. */
export const DEFAULT_SOURCES = [
  { id: 'default', name: 'Default source' },
  { id: 'web', name: 'Website (analytics.js)' },
  { id: 'mobile', name: 'Mobile apps' },
  { id: 'crm', name: 'CRM imports' },
  { id: 'iot', name: 'IoT devices' },
] as const

export interface StoredCredentials {
  /** Write key per source id. */
  readonly writeKeys: Readonly<Record<string, string>>
  readonly adminToken: string
}

export const CREDENTIALS_FILE = 'credentials.json'

export function credentialsPath(dataDir: string): string {
  return join(dataDir, CREDENTIALS_FILE)
}

export function readCredentials(dataDir: string): StoredCredentials | null {
  const path = credentialsPath(dataDir)
  if (!existsSync(path)) return null
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as StoredCredentials
    if (typeof parsed.adminToken !== 'string' || typeof parsed.writeKeys !== 'object') throw new Error('missing fields')
    return parsed
  } catch (cause) {
    throw new ConfigError(`${path} is not a valid credentials file (${(cause as Error).message}); delete it to generate new credentials`)
  }
}

function newSecret(prefix: string): string {
  return prefix + randomBytes(18).toString('base64url')
}

export interface EnsuredCredentials {
  readonly stored: StoredCredentials
  /** True when this call generated and wrote them. */
  readonly created: boolean
}

/** Reads the stored credentials, generating and saving them if there are none. */
export function ensureCredentials(dataDir: string): EnsuredCredentials {
  const existing = readCredentials(dataDir)
  if (existing) return { stored: existing, created: false }
  const stored: StoredCredentials = {
    writeKeys: Object.fromEntries(DEFAULT_SOURCES.map((s) => [s.id, newSecret(`wk_${s.id}_`)])),
    adminToken: newSecret('tsa_'),
  }
  mkdirSync(dataDir, { recursive: true })
  const path = credentialsPath(dataDir)
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 })
  chmodSync(tmp, 0o600)
  renameSync(tmp, path)
  return { stored, created: true }
}

export interface EffectiveAuth {
  readonly sources: readonly SourceConfig[]
  readonly adminTokens: readonly AdminTokenConfig[]
}

/**
 * Sources and admin tokens in force: the config's own, plus the stored defaults for sources the config does
 * not define; `TESSERA_WRITE_KEY` replaces the default source's key and `TESSERA_ADMIN_TOKEN` the stored token.
 */
export function effectiveAuth(
  configured: EffectiveAuth,
  stored: StoredCredentials | null,
  env: Readonly<Record<string, string | undefined>>,
): EffectiveAuth {
  const sources: SourceConfig[] = [...configured.sources]
  const taken = new Set(sources.map((s) => s.id))
  for (const def of DEFAULT_SOURCES) {
    if (taken.has(def.id)) continue
    const envKey = def.id === 'default' ? env.TESSERA_WRITE_KEY : undefined
    const key = envKey ?? stored?.writeKeys[def.id]
    if (key !== undefined) sources.push({ id: def.id, name: def.name, writeKeys: [key] })
  }
  const adminTokens: AdminTokenConfig[] = [...configured.adminTokens]
  const envToken = env.TESSERA_ADMIN_TOKEN
  if (envToken !== undefined) {
    if (envToken.length < 16) throw new ConfigError('TESSERA_ADMIN_TOKEN must be at least 16 characters', 'TESSERA_ADMIN_TOKEN')
    adminTokens.push({ name: 'env', token: envToken })
  } else if (stored) adminTokens.push({ name: 'generated', token: stored.adminToken })
  if (env.TESSERA_WRITE_KEY !== undefined && env.TESSERA_WRITE_KEY.length < 8) {
    throw new ConfigError('TESSERA_WRITE_KEY must be at least 8 characters', 'TESSERA_WRITE_KEY')
  }
  return { sources, adminTokens }
}
