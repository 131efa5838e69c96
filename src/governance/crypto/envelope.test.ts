import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ENVELOPE_OVERHEAD, EnvelopeError, open, seal } from './envelope.js'

const aad = (s: string): Buffer => Buffer.from(s)

describe('envelope (AES-256-GCM)', () => {
  const key = randomBytes(32)
  const text = Buffer.from('{"email":"ann@example.com"}')

  it('round-trips and adds exactly the version, nonce and tag', () => {
    const env = seal(key, text, aad('subject-a'))
    expect(env.length).toBe(text.length + ENVELOPE_OVERHEAD)
    expect(env[0]).toBe(1)
    expect(open(key, env, aad('subject-a')).equals(text)).toBe(true)
  })

  it('uses a fresh nonce: the same plaintext seals differently', () => {
    expect(seal(key, text, aad('a')).equals(seal(key, text, aad('a')))).toBe(false)
  })

  it('refuses every single flipped bit (version, nonce, ciphertext, tag)', () => {
    const env = seal(key, text, aad('a'))
    for (let i = 0; i < env.length; i++) {
      const bad = Buffer.from(env)
      bad[i] = bad[i]! ^ 0x01
      expect(() => open(key, bad, aad('a'))).toThrow(EnvelopeError)
    }
  })

  it('refuses another AAD (a ciphertext moved to another subject) and another key', () => {
    const env = seal(key, text, aad('subject-a'))
    expect(() => open(key, env, aad('subject-b'))).toThrow(/wrong key, wrong subject/)
    expect(() => open(randomBytes(32), env, aad('subject-a'))).toThrow(EnvelopeError)
  })

  it('refuses truncated input and unknown versions with a clear message', () => {
    expect(() => open(key, Buffer.alloc(10), aad('a'))).toThrow(/at least 29 bytes/)
    const env = seal(key, text, aad('a'))
    env[0] = 2
    expect(() => open(key, env, aad('a'))).toThrow(/unknown envelope version 2/)
    expect(() => seal(randomBytes(16), text, aad('a'))).toThrow(/32 bytes/)
  })
})
