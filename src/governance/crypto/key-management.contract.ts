/**
 * @module The KeyManagementService contract suite: what every master key adapter (the local key file, an HSM through
 * PKCS#11) must do. Call {@link runKmsContract} from the adapter's test file.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { KeyManagementService } from './key-management.js'

export interface KmsFixture {
  /** A service over one master key (A). */
  readonly first: KeyManagementService
  /** A service in a rotation: a new current key (B), and A retired (unwraps, never wraps). */
  rotated(): Promise<KeyManagementService>
  /** A service over an unrelated master key only. */
  stranger(): Promise<KeyManagementService>
  cleanup(): Promise<void>
}

export function runKmsContract(name: string, create: () => Promise<KmsFixture>): void {
  describe(`KeyManagementService contract: ${name}`, () => {
    let fixture: KmsFixture | undefined
    const aad = (subject: string): Buffer => Buffer.from(`tessera/data-key/v1\u0000${subject}\u0000dk-1`, 'utf8')
    beforeEach(async () => { fixture = await create() })
    afterEach(async () => {
      await fixture?.cleanup()
      fixture = undefined
    })

    it('wraps under its current key and unwraps to the same bytes; the wrapped form hides the key and differs each time', async () => {
      const kms = fixture!.first
      expect(kms.knownKeyIds[0]).toBe(kms.currentKeyId)
      const key = randomBytes(32)
      const a = await kms.wrap(key, aad('s1'))
      const b = await kms.wrap(key, aad('s1'))
      expect(a.masterKeyId).toBe(kms.currentKeyId)
      expect(a.wrapped.includes(key)).toBe(false)
      expect(a.wrapped.equals(b.wrapped)).toBe(false) // a fresh IV per wrap
      expect((await kms.unwrap(a, aad('s1'))).equals(key)).toBe(true)
      expect((await kms.unwrap(b, aad('s1'))).equals(key)).toBe(true)
    })

    it('refuses a wrapped key moved to another subject, or with any byte altered', async () => {
      const kms = fixture!.first
      const w = await kms.wrap(randomBytes(32), aad('s1'))
      await expect(kms.unwrap(w, aad('s2'))).rejects.toThrow(/authenticate/)
      for (const at of [1, Math.floor(w.wrapped.length / 2), w.wrapped.length - 1]) {
        const altered = Buffer.from(w.wrapped)
        altered[at]! ^= 0x01
        await expect(kms.unwrap({ ...w, wrapped: altered }, aad('s1'))).rejects.toThrow(/authenticate|form/)
      }
      await expect(kms.unwrap({ ...w, wrapped: w.wrapped.subarray(0, 10) }, aad('s1'))).rejects.toThrow()
    })

    it('in a rotation: keys wrapped by the retired key still unwrap, new wraps use the new key only', async () => {
      const old = fixture!.first
      const key = randomBytes(32)
      const before = await old.wrap(key, aad('s1'))
      const kms = await fixture!.rotated()
      expect(kms.currentKeyId).not.toBe(old.currentKeyId)
      expect(kms.knownKeyIds).toEqual([kms.currentKeyId, old.currentKeyId])
      expect(kms.status()).toMatchObject({ currentKeyId: kms.currentKeyId, retiredKeyIds: [old.currentKeyId] })
      expect((await kms.unwrap(before, aad('s1'))).equals(key)).toBe(true)
      const after = await kms.wrap(key, aad('s1'))
      expect(after.masterKeyId).toBe(kms.currentKeyId)
      // The old service does not hold the new key: a clear error naming it, never a wrong key.
      await expect(old.unwrap(after, aad('s1'))).rejects.toThrow(new RegExp(`${kms.currentKeyId}.*restore`))
    })

    it('a service without the master key refuses clearly, naming the key it lacks', async () => {
      const w = await fixture!.first.wrap(randomBytes(32), aad('s1'))
      const other = await fixture!.stranger()
      expect(other.knownKeyIds).not.toContain(w.masterKeyId)
      await expect(other.unwrap(w, aad('s1'))).rejects.toThrow(w.masterKeyId)
      // Claiming the stranger's own key id does not help: the bytes do not authenticate under it.
      await expect(other.unwrap({ ...w, masterKeyId: other.currentKeyId }, aad('s1'))).rejects.toThrow(/authenticate|form/)
    })

    it('serves concurrent callers: 64 wraps and unwraps at once each give their own key back', async () => {
      const kms = fixture!.first
      const keys = Array.from({ length: 64 }, () => randomBytes(32))
      const wrapped = await Promise.all(keys.map((k, i) => kms.wrap(k, aad(`c${i}`))))
      const opened = await Promise.all(wrapped.map((w, i) => kms.unwrap(w, aad(`c${i}`))))
      opened.forEach((k, i) => expect(k.equals(keys[i]!)).toBe(true))
    })

    it('its status names the key and its source, never key material', async () => {
      const s = fixture!.first.status()
      expect(s.currentKeyId).toBe(fixture!.first.currentKeyId)
      expect(s.kind).toMatch(/^[a-z0-9-]+$/)
      expect(s.source.length).toBeGreaterThan(0)
    })
  })
}
