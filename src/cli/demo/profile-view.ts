/** @module A unified profile as readable terminal text: traits, identities by type, sources, counters. */
import type { JsonValue } from '../../core/event.js'
import type { AdminProfile, ProfileIdentity } from '../../client/admin-client.js'

const TRAIT_ORDER = ['name', 'email', 'phone', 'company', 'plan', 'title']
const IDENTITY_ORDER = ['user_id', 'email', 'phone', 'anonymous_id', 'device_id']

function short(value: JsonValue, max = 48): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

function time(value: number | string | null): string {
  if (value === null) return '?'
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().slice(0, 16).replace('T', ' ')
}

function byOrder(order: readonly string[]): (a: string, b: string) => number {
  const rank = (k: string): number => (order.includes(k) ? order.indexOf(k) : order.length)
  return (a, b) => rank(a) - rank(b) || a.localeCompare(b)
}

/** `a · b · c` wrapped into lines of at most `width` characters. */
function wrap(items: readonly string[], width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const item of items) {
    const next = line === '' ? item : `${line} · ${item}`
    if (next.length > width && line !== '') {
      lines.push(line)
      line = item
    } else line = next
  }
  if (line !== '') lines.push(line)
  return lines
}

/** Identities grouped by type: `anonymous_id  3: 6f1c…, 0b2e…, crm_x`. */
export function formatIdentities(identities: readonly ProfileIdentity[]): string[] {
  const byType = new Map<string, string[]>()
  for (const i of identities) byType.set(i.type, [...(byType.get(i.type) ?? []), i.value])
  return [...byType.keys()].sort(byOrder(IDENTITY_ORDER)).map((type) => {
    const values = byType.get(type)!
    const shown = values.length === 1 ? values[0]! : `${values.length}: ${values.map((v) => short(v, 14)).join(', ')}`
    return `${type.padEnd(13)} ${shown}`
  })
}

/**
 * The profile as a block of text.
 *
 * @param title a heading (the person's name), shown before the profile id
 */
export function formatProfile(profile: AdminProfile, title: string): string {
  const pad = '              '
  const lines = [`${title}  (profile ${profile.id})`]
  const traitKeys = Object.keys(profile.traits).sort(byOrder(TRAIT_ORDER))
  const traits = wrap(traitKeys.map((k) => `${k}: ${short(profile.traits[k]!)}`), 96)
  lines.push(...traits.map((l, i) => `${i === 0 ? '  traits      ' : pad}${l}`))
  const identities = formatIdentities(profile.identities)
  lines.push(...identities.map((l, i) => `${i === 0 ? '  identities  ' : pad}${l}`))
  const sources = Object.entries(profile.sourceCounts).sort((a, b) => b[1] - a[1]).map(([s, n]) => `${s} ${n}`)
  lines.push(`  sources     ${sources.join(' · ')}   (${profile.eventCount} events)`)
  const top = Object.entries(profile.eventCounts).sort((a, b) => b[1] - a[1]).slice(0, 7).map(([e, n]) => `${e} ${n}`)
  lines.push(...wrap(top, 96).map((l, i) => `${i === 0 ? '  top events  ' : pad}${l}`))
  lines.push(`  seen        ${time(profile.firstSeen)} → ${time(profile.lastSeen)} UTC`)
  return lines.join('\n')
}
