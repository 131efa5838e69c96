/**
 * @module Independent verification of an audit store: recompute every leaf from the stored entry text,
 * rebuild the Merkle tree, and check it against every signed checkpoint (signature, root at its size,
 * sizes and times never going back, no two roots for one size) and against checkpoints held elsewhere
 * (`trusted`), which is what catches a store truncated together with its checkpoints.
 */
import { leafHash, MerkleTree, verifyConsistency } from './merkle.js'
import type { AuditStore } from './audit-store.js'
import { openCheckpoint, type SignedCheckpoint } from './checkpoint.js'

export interface AuditVerifyReport {
  readonly ok: boolean
  readonly entries: number
  readonly checkpoints: number
  /** The latest checkpoint that verified, if any. */
  readonly latest: { readonly size: number; readonly rootHash: string; readonly time: number } | null
  /** Entries appended after the latest checkpoint (not yet covered by a signature; not an error). */
  readonly uncovered: number
  readonly problems: readonly string[]
}

export interface AuditVerifyOptions {
  /** Raw Ed25519 public key (base64) that signed the checkpoints; pin it from a copy kept elsewhere. */
  readonly publicKey: string
  /** Signed checkpoint notes saved outside the store (e.g. by `tessera audit checkpoint`). */
  readonly trusted?: readonly string[]
  readonly pageSize?: number
}

export async function verifyAuditStore(store: AuditStore, options: AuditVerifyOptions): Promise<AuditVerifyReport> {
  const problems: string[] = []
  const tree = new MerkleTree()
  const page = options.pageSize ?? 5000
  let expected = 0
  for (;;) {
    const rows = await store.range(expected, page)
    if (rows.length === 0) break
    for (const row of rows) {
      if (row.seq !== expected) {
        problems.push(row.seq > expected
          ? `entries ${expected}..${row.seq - 1} are missing (removed from the store)`
          : `entry ${row.seq} appears out of order`)
        expected = row.seq
      }
      const recomputed = leafHash(Buffer.from(row.text, 'utf8'))
      if (!recomputed.equals(row.leafHash)) problems.push(`entry ${row.seq} was edited: its text no longer matches its recorded leaf hash`)
      tree.append(recomputed)
      expected++
    }
  }
  const count = await store.count()
  if (count !== tree.size) problems.push(`the store counts ${count} entries but ${tree.size} could be read in order`)

  const checked: SignedCheckpoint[] = []
  const check = (note: string, where: string): void => {
    const opened = openCheckpoint(note, options.publicKey)
    if (!opened.ok) {
      problems.push(`${where}: ${opened.reason}`)
      return
    }
    const cp = opened.checkpoint
    if (cp.size > tree.size) {
      problems.push(`${where} covers ${cp.size} entries but the store holds only ${tree.size}: the log was truncated`)
    } else if (!tree.root(cp.size).equals(cp.rootHash)) {
      problems.push(`${where} (size ${cp.size}) does not match the stored entries: entries were edited, removed, inserted or reordered`)
    }
    checked.push(cp)
  }
  const stored = await store.checkpoints()
  stored.forEach((cp, i) => check(cp.note, `checkpoint #${i + 1}`))
  ;(options.trusted ?? []).forEach((note, i) => check(note, `trusted checkpoint #${i + 1}`))

  // Between checkpoints: sizes and times never go back, one root per size, and each is consistent with the next.
  for (let i = 1; i < Math.min(stored.length, checked.length); i++) {
    const [a, b] = [checked[i - 1]!, checked[i]!]
    if (b.size < a.size) problems.push(`checkpoint #${i + 1} has a smaller tree (${b.size}) than the one before it (${a.size})`)
    if (b.time < a.time) problems.push(`checkpoint #${i + 1} is dated before the one before it (a replayed or back-dated checkpoint)`)
    if (b.size >= a.size && b.size <= tree.size && !verifyConsistency(a.size, b.size, a.rootHash, b.rootHash, tree.consistencyProof(a.size, b.size))) {
      problems.push(`checkpoints #${i} and #${i + 1} are not consistent: history was rewritten between them`)
    }
  }
  const bySize = new Map<number, string>()
  for (const cp of checked) {
    const root = cp.rootHash.toString('hex')
    const seen = bySize.get(cp.size)
    if (seen !== undefined && seen !== root) problems.push(`two checkpoints of size ${cp.size} have different roots (a fork)`)
    bySize.set(cp.size, root)
  }
  const good = checked.filter((cp) => cp.size <= tree.size && tree.root(cp.size).equals(cp.rootHash))
  const latest = good.reduce<SignedCheckpoint | null>((best, cp) => (best === null || cp.size > best.size ? cp : best), null)
  if (tree.size > 0 && stored.length === 0) problems.push('the log has entries but no signed checkpoint')
  return {
    ok: problems.length === 0,
    entries: tree.size,
    checkpoints: stored.length,
    latest: latest && { size: latest.size, rootHash: latest.rootHash.toString('hex'), time: latest.time },
    uncovered: tree.size - (latest?.size ?? 0),
    problems,
  }
}
