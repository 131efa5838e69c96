import { describe, expect, it } from 'vitest'
import { ConfigError } from '../core/errors.js'
import { createSourceRegistry } from './source-registry.js'

describe('createSourceRegistry', () => {
  it('finds a source by any of its write keys', () => {
    const registry = createSourceRegistry([
      { id: 'web', name: 'Web', writeKeys: ['wk_web_1234', 'wk_web_rotated'] },
      { id: 'ios', name: 'iOS', writeKeys: ['wk_ios_1234'] },
    ])
    expect(registry.findByWriteKey('wk_web_rotated')?.id).toBe('web')
    expect(registry.findByWriteKey('wk_ios_1234')?.id).toBe('ios')
    expect(registry.findByWriteKey('wk_unknown')).toBeUndefined()
    expect(registry.findByWriteKey('')).toBeUndefined()
    expect(registry.findByWriteKey('__proto__')).toBeUndefined()
  })

  it('refuses a key shared by two sources', () => {
    expect(() => createSourceRegistry([
      { id: 'a', name: 'A', writeKeys: ['shared_key_1'] },
      { id: 'b', name: 'B', writeKeys: ['shared_key_1'] },
    ])).toThrow(ConfigError)
  })
})
