/** @module Prints benchmark results as an aligned text table (terminal) or a Markdown table (docs/performance.md). */
import type { ScenarioResult } from './result.js'

const COLUMNS = ['scenario', 'events/s', 'p50 ms', 'p99 ms', 'RSS MB', 'vs raw limit', 'note'] as const

/** `12345.6` → `12,346`; small values keep decimals (`0.042`); absent → `-`. */
export function formatNumber(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '-'
  const abs = Math.abs(value)
  if (abs >= 100) return Math.round(value).toLocaleString('en-US')
  if (abs >= 10) return value.toFixed(1)
  if (abs >= 1) return value.toFixed(2)
  if (abs === 0) return '0'
  return value.toPrecision(2)
}

function ratio(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${(value * 100).toFixed(1)}%` : '-'
}

/** An error as one short line for a table cell (the full text stays in the JSON). */
export function oneLine(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`
}

function rows(scenarios: readonly ScenarioResult[]): string[][] {
  return scenarios.map((s) => [
    s.name,
    formatNumber(s.events_per_s),
    formatNumber(s.p50_ms),
    formatNumber(s.p99_ms),
    formatNumber(s.rss_mb),
    ratio(s.ratio_to_raw_limit),
    s.error !== undefined ? `ERROR: ${oneLine(s.error)}` : typeof s.note === 'string' ? s.note : '',
  ])
}

/** An aligned plain-text table, numbers right-aligned. */
export function formatTable(scenarios: readonly ScenarioResult[]): string {
  const body = rows(scenarios)
  const all = [[...COLUMNS], ...body]
  const widths = COLUMNS.map((_, c) => Math.max(...all.map((r) => (c === COLUMNS.length - 1 ? 0 : r[c]!.length))))
  const line = (r: readonly string[]): string => r.map((cell, c) => {
    if (c === COLUMNS.length - 1) return cell
    return c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)
  }).join('  ').trimEnd()
  return [line(all[0]!), widths.map((w) => '-'.repeat(w)).join('  ') + '  ----', ...body.map(line)].join('\n')
}

/** The same table in Markdown (pipes in cells escaped). */
export function formatMarkdownTable(scenarios: readonly ScenarioResult[]): string {
  const esc = (cell: string): string => cell.replace(/\|/g, '\\|')
  return [
    `| ${COLUMNS.join(' | ')} |`,
    `|${COLUMNS.map((_, c) => (c === 0 || c === COLUMNS.length - 1 ? '---' : '---:')).join('|')}|`,
    ...rows(scenarios).map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n')
}
