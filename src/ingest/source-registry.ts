/** @module Resolves the write key of a request to the source that owns it. */
import type { SourceConfig } from '../config/config.js'
import { ConfigError } from '../core/errors.js'

/**
 * Write key → source lookup used by the tracking API on every request.
 *
 * Contract: `findByWriteKey` is synchronous and O(1), never throws, and never logs the key (write keys are
 * credentials, even if browser ones are public). It returns `undefined` for an unknown key; the caller turns
 * that into a 401.
 *
 * @example
 * const sources = createSourceRegistry(config.sources)
 * sources.findByWriteKey('wk_live_1234')?.id // 'web'
 */
export interface SourceRegistry {
  /** The source that owns `writeKey`, or `undefined` when no source does. */
  findByWriteKey(writeKey: string): SourceConfig | undefined
}

/**
 * Builds an immutable registry from the configured sources.
 * Throws a `ConfigError` when two sources share a write key (the config validator rejects that too; the check
 * is repeated here because a registry may be built from sources that did not go through `loadConfig`).
 */
export function createSourceRegistry(sources: readonly SourceConfig[]): SourceRegistry {
  const byKey = new Map<string, SourceConfig>()
  for (const source of sources) {
    for (const key of source.writeKeys) {
      const owner = byKey.get(key)
      if (owner !== undefined && owner.id !== source.id) {
        throw new ConfigError(`a write key is used by two sources (${owner.id} and ${source.id})`, 'sources')
      }
      byKey.set(key, source)
    }
  }
  return Object.freeze({
    findByWriteKey: (writeKey: string): SourceConfig | undefined => (writeKey === '' ? undefined : byKey.get(writeKey)),
  })
}
