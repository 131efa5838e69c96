/**
 * @module After the demo, asks the admin API whether identity resolution handled the edge cases: people who
 * share a device or a placeholder identifier are in different profiles, and placeholders are not identifiers.
 */
import type { AdminClient } from '../../client/admin-client.js'
import { PLACEHOLDER_EMAIL, PLACEHOLDER_USER_ID, ZERO_UUID, type DemoExpectations } from './journeys.js'

export interface EdgeCaseCheck {
  /** `ok`: as expected; `failed`: strangers merged or a placeholder linked; `pending`: not processed yet. */
  readonly status: 'ok' | 'failed' | 'pending'
  readonly text: string
}

/** One line per edge case, checked against the admin API. */
export async function checkEdgeCases(admin: AdminClient, expectations: DemoExpectations): Promise<EdgeCaseCheck[]> {
  const out: EdgeCaseCheck[] = []
  for (const s of expectations.separate) {
    const [a, b] = await Promise.all([admin.profileByIdentifier(s.a.type, s.a.value), admin.profileByIdentifier(s.b.type, s.b.value)])
    if (a === null || b === null) out.push({ status: 'pending', text: `${s.why}: not processed yet` })
    else if (a.id === b.id) out.push({ status: 'failed', text: `${s.why}: MERGED into one profile (${a.id})` })
    else out.push({ status: 'ok', text: `${s.why}: kept apart` })
  }
  const placeholders = [['email', PLACEHOLDER_EMAIL], ['user_id', PLACEHOLDER_USER_ID], ['anonymous_id', ZERO_UUID]] as const
  for (const [type, value] of placeholders) {
    const profile = await admin.profileByIdentifier(type, value)
    out.push(profile === null
      ? { status: 'ok', text: `${type} "${value}" is not used as an identifier` }
      : { status: 'failed', text: `${type} "${value}" was linked to profile ${profile.id}` })
  }
  return out
}
