import { generateKeyPairSync } from 'node:crypto'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../test/support/factories.js'
import { createCheckpointSigner, loadOrCreateSigningKey, openCheckpoint } from './checkpoint.js'

const root = Buffer.alloc(32, 7)

describe('signed checkpoints', () => {
  it('creates the key once with mode 0600 and reuses it', () => {
    const t = tempDir()
    const path = join(t.dir, 'keys', 'audit-signing-key.pem')
    const a = createCheckpointSigner('tessera/audit', loadOrCreateSigningKey(path))
    expect(statSync(path).mode & 0o777).toBe(0o600)
    const b = createCheckpointSigner('tessera/audit', loadOrCreateSigningKey(path))
    expect(b.publicKey).toBe(a.publicKey)
    t.cleanup()
  })

  it('signs a C2SP checkpoint that opens with the public key, and only with it', () => {
    const signer = createCheckpointSigner('tessera/audit', generateKeyPairSync('ed25519').privateKey)
    const cp = signer.sign({ size: 42, rootHash: root, time: 1_700_000_000_000 })
    expect(cp.note.split('\n').slice(0, 4)).toEqual(['tessera/audit', '42', root.toString('base64'), 'time 1700000000000'])
    const opened = openCheckpoint(cp.note, signer.publicKey)
    expect(opened.ok && opened.checkpoint.size).toBe(42)
    const other = createCheckpointSigner('tessera/audit', generateKeyPairSync('ed25519').privateKey)
    expect(openCheckpoint(cp.note, other.publicKey)).toMatchObject({ ok: false })
  })

  it('rejects a checkpoint whose size, root or time was edited', () => {
    const signer = createCheckpointSigner('tessera/audit', generateKeyPairSync('ed25519').privateKey)
    const { note } = signer.sign({ size: 42, rootHash: root, time: 5 })
    for (const forged of [note.replace('\n42\n', '\n41\n'), note.replace('time 5', 'time 6'), note.replace(root.toString('base64'), Buffer.alloc(32).toString('base64'))]) {
      expect(openCheckpoint(forged, signer.publicKey)).toMatchObject({ ok: false })
    }
    expect(openCheckpoint('garbage', signer.publicKey)).toMatchObject({ ok: false })
  })
})
