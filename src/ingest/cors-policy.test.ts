import { describe, expect, it } from 'vitest'
import { allowedOrigin, corsHeaders, createCorsPolicy } from './cors-policy.js'

describe('CORS policy', () => {
  it('reflects any origin for ["*"]', () => {
    const policy = createCorsPolicy(['*'])
    expect(allowedOrigin(policy, 'https://a.example')).toBe('https://a.example')
    expect(allowedOrigin(policy, undefined)).toBeUndefined()
  })

  it('matches a configured list case-insensitively, ignoring a trailing slash', () => {
    const policy = createCorsPolicy(['https://Shop.example.com/'])
    expect(allowedOrigin(policy, 'https://shop.example.com')).toBe('https://shop.example.com')
    expect(allowedOrigin(policy, 'https://shop.example.com.evil.net')).toBeUndefined()
  })

  it('adds the preflight headers only to preflights, and never allows credentials', () => {
    const policy = createCorsPolicy(['*'])
    const simple = corsHeaders(policy, 'https://a.example', false)
    expect(simple).toEqual({ vary: 'Origin', 'access-control-allow-origin': 'https://a.example', 'access-control-expose-headers': 'Retry-After' })
    const preflight = corsHeaders(policy, 'https://a.example', true)
    expect(preflight['access-control-allow-headers']).toBe('Content-Type, Content-Encoding, Authorization, AnonymousId')
    expect(preflight['access-control-allow-methods']).toBe('POST, GET, OPTIONS')
    expect(preflight).not.toHaveProperty('access-control-allow-credentials')
    expect(corsHeaders(createCorsPolicy([]), 'https://a.example', true)).toEqual({ vary: 'Origin' })
  })
})
