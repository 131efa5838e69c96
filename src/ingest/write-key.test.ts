import { describe, expect, it } from 'vitest'
import { createSourceRegistry } from './source-registry.js'
import { anonymousIdFromHeader, authenticate, basicAuthUser, presentedWriteKey } from './write-key.js'

const b64 = (text: string): string => Buffer.from(text).toString('base64')
const sources = createSourceRegistry([{ id: 'web', name: 'Web', writeKeys: ['wk_web_12345'] }])

describe('basicAuthUser', () => {
  it('reads the user name of a Basic credential, with or without the empty password', () => {
    expect(basicAuthUser(`Basic ${b64('wk_web_12345:')}`)).toBe('wk_web_12345')
    expect(basicAuthUser(`basic ${b64('wk_web_12345')}`)).toBe('wk_web_12345')
    expect(basicAuthUser(`  BASIC   ${b64('wk_web_12345:ignored')}`)).toBe('wk_web_12345')
  })

  it('ignores other schemes and empty user names', () => {
    expect(basicAuthUser(undefined)).toBeUndefined()
    expect(basicAuthUser('Bearer abc')).toBeUndefined()
    expect(basicAuthUser(`Basic ${b64(':password')}`)).toBeUndefined()
    expect(basicAuthUser('Basic ')).toBeUndefined()
  })
})

describe('presentedWriteKey', () => {
  it('prefers the Authorization header, then the body, then the query', () => {
    const authorization = `Basic ${b64('from-header:')}`
    expect(presentedWriteKey({ authorization, body: { writeKey: 'from-body' }, query: 'from-query' })).toBe('from-header')
    expect(presentedWriteKey({ body: { writeKey: 'from-body' }, query: 'from-query' })).toBe('from-body')
    expect(presentedWriteKey({ body: { writeKey: 42 }, query: 'from-query' })).toBe('from-query')
    expect(presentedWriteKey({ body: [{ writeKey: 'x' }] })).toBeUndefined()
  })
})

describe('authenticate', () => {
  it('resolves a known key to its source', () => {
    expect(authenticate(sources, { body: { writeKey: 'wk_web_12345' } })).toMatchObject({ ok: true, source: { id: 'web' } })
  })

  it('tells a missing key from an unknown one', () => {
    expect(authenticate(sources, {})).toEqual({ ok: false, reason: 'missing' })
    expect(authenticate(sources, { body: { writeKey: 'nope' } })).toEqual({ ok: false, reason: 'unknown' })
  })
})

describe('anonymousIdFromHeader', () => {
  it('decodes RudderStack\'s base64 header', () => {
    expect(anonymousIdFromHeader(b64('2c1f5e4e-8e0b-4a4e-9f3a-0d6c1b2a3f4e'))).toBe('2c1f5e4e-8e0b-4a4e-9f3a-0d6c1b2a3f4e')
  })

  it('ignores absent, empty and placeholder values', () => {
    expect(anonymousIdFromHeader(undefined)).toBeUndefined()
    expect(anonymousIdFromHeader('')).toBeUndefined()
    expect(anonymousIdFromHeader(b64('undefined'))).toBeUndefined()
    expect(anonymousIdFromHeader(Buffer.from([0xff, 0xfe, 0xfd]).toString('base64'))).toBeUndefined()
  })
})
