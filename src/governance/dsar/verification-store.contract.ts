/**
 * @module Contract suite of the VerificationStore port, run on SQLite and PostgreSQL: the state machine of a
 * requester's verification, its limits under concurrency, and the erasure of attestation evidence.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { DsarRecord, PrivacyStore } from '../privacy-store.js'
import { initialVerification, type VerificationStore } from './verification-store.js'

export interface VerificationStoreFixture {
  /** The privacy store of the same database (migrates the tables; holds the requests). */
  readonly privacy: PrivacyStore
  readonly store: () => Promise<VerificationStore>
  readonly cleanup: () => Promise<void>
}

const request = (id: string, identifier = 'email:ann@example.com'): DsarRecord => ({
  id, type: 'access', identifier, jurisdiction: 'EU', regime: 'gdpr', status: 'received', receivedAt: 1000, dueAt: 2000, basis: 'GDPR',
  requestedBy: 'token:p', detail: {}, result: null, completedAt: null, acknowledgeBy: null, acknowledgement: null, extension: null,
})

export function runVerificationStoreContract(name: string, create: () => Promise<VerificationStoreFixture>): void {
  describe(`VerificationStore contract: ${name}`, () => {
    let f: VerificationStoreFixture
    let store: VerificationStore
    beforeEach(async () => {
      f = await create()
      await f.privacy.migrate()
      store = await f.store()
    })
    afterEach(async () => {
      await store.close()
      await f.cleanup()
    })
    const code = (n: number, maxCodes = 3): Parameters<VerificationStore['issueCode']>[1] => ({ codeHash: `h${n}`, codeSalt: `s${n}`, codeExpiresAt: 5000 + n, maxCodes, now: 100 + n })

    it('creates once, issues codes up to the limit, and resets the attempts with each code', async () => {
      await store.create(initialVerification('r1', 'access', 10))
      await store.create({ ...initialVerification('r1', 'access', 11), status: 'verified' }) // no effect: it exists
      expect(await store.get('r1')).toEqual(initialVerification('r1', 'access', 10))
      expect(await store.get('nope')).toBeNull()
      expect(await store.issueCode('r1', code(1, 2))).toMatchObject({ status: 'code_sent', codeHash: 'h1', codeSalt: 's1', codeExpiresAt: 5001, attempts: 0, codesSent: 1 })
      expect(await store.takeAttempt('r1', 5, 200)).toMatchObject({ attempts: 1, codeHash: 'h1' })
      expect(await store.issueCode('r1', code(2, 2))).toMatchObject({ codeHash: 'h2', attempts: 0, codesSent: 2 })
      expect(await store.issueCode('r1', code(3, 2))).toBeNull()
      expect(await store.get('r1')).toMatchObject({ codeHash: 'h2', codesSent: 2 })
    })

    it('spends attempts up to the limit and no further, also when they race', async () => {
      await store.create(initialVerification('r2', 'erasure', 10))
      expect(await store.takeAttempt('r2', 5, 200)).toBeNull() // no code out
      await store.issueCode('r2', code(1))
      const results = await Promise.all(Array.from({ length: 12 }, () => store.takeAttempt('r2', 5, 300)))
      expect(results.filter((r) => r !== null)).toHaveLength(5)
      expect((await store.get('r2'))!.attempts).toBe(5)
      await store.lock('r2', 'h1', 400)
      expect(await store.get('r2')).toMatchObject({ status: 'locked', codeHash: null })
      expect(await store.takeAttempt('r2', 50, 500)).toBeNull()
      // A new code may follow a locked one.
      expect(await store.issueCode('r2', code(2))).toMatchObject({ status: 'code_sent', attempts: 0, codesSent: 2 })
    })

    it('withdraws and locks only the code it names', async () => {
      await store.create(initialVerification('r3', 'access', 10))
      await store.issueCode('r3', code(1))
      await store.withdrawCode('r3', 'other', 200)
      await store.lock('r3', 'other', 200)
      expect((await store.get('r3'))!.status).toBe('code_sent')
      await store.withdrawCode('r3', 'h1', 200)
      expect(await store.get('r3')).toMatchObject({ status: 'pending', codeHash: null, codeExpiresAt: null, codesSent: 1 })
    })

    it('marks verified exactly once, clears the code, and never from not_required', async () => {
      await store.create(initialVerification('r4', 'access', 10))
      await store.issueCode('r4', code(1))
      const marks = await Promise.all([1, 2, 3].map((i) => store.markVerified('r4', { method: 'code', by: `token:p${i}`, evidence: null, now: 900 })))
      expect(marks.filter(Boolean)).toHaveLength(1)
      expect(await store.get('r4')).toMatchObject({ status: 'verified', method: 'code', verifiedAt: 900, codeHash: null, codeSalt: null })
      expect(await store.issueCode('r4', code(2))).toBeNull()
      await store.create(initialVerification('r5', 'opt_out', 10))
      expect((await store.get('r5'))!.status).toBe('not_required')
      expect(await store.markVerified('r5', { method: 'attestation', by: 'token:p', evidence: 'x', now: 1 })).toBe(false)
      expect(await store.issueCode('r5', code(1))).toBeNull()
    })

    it('blanks the attestation evidence of requests whose person was erased, and only theirs', async () => {
      await f.privacy.createRequest(request('e1'))
      await f.privacy.createRequest(request('e2', 'email:bob@example.com'))
      for (const id of ['e1', 'e2']) {
        await store.create(initialVerification(id, 'access', 10))
        await store.markVerified(id, { method: 'attestation', by: 'token:dpo', evidence: `account: ${id} checked`, now: 20 })
      }
      expect(await store.eraseEvidenceOfErasedRequests()).toBe(0)
      await f.privacy.redactRequests(['email:ann@example.com'])
      expect(await store.eraseEvidenceOfErasedRequests()).toBe(1)
      expect((await store.get('e1'))!.evidence).toBe('(erased)')
      expect((await store.get('e2'))!.evidence).toBe('account: e2 checked')
      expect(await store.eraseEvidenceOfErasedRequests()).toBe(0)
    })
  })
}
