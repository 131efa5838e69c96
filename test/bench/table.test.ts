import { describe, expect, it } from 'vitest'
import { formatMarkdownTable, formatNumber, formatTable } from '../../bench/lib/table.js'
import { withRatios, type ScenarioResult } from '../../bench/lib/result.js'

const scenarios: ScenarioResult[] = [
  { name: 'baseline-raw-limit', events_per_s: 80_000, rss_mb: 180 },
  { name: 'e2e-embedded', events_per_s: 8_000, p50_ms: 46.61, p99_ms: 186.2, rss_mb: 528 },
  { name: 'resolve-1m', events_per_s: 20_000, p50_ms: 0.031, p99_ms: 0.1 },
  { name: 'baseline-sql-stitching', events_per_s: 100_000 },
  { name: 'e2e-scaleout-2w', error: 'pipeline stalled: 40 of 100' },
]

describe('result table', () => {
  it('formats numbers for reading', () => {
    expect(formatNumber(58_123.4)).toBe('58,123')
    expect(formatNumber(46.61)).toBe('46.6')
    expect(formatNumber(1.234)).toBe('1.23')
    expect(formatNumber(0.0312)).toBe('0.031')
    expect(formatNumber(undefined)).toBe('-')
    expect(formatNumber(0)).toBe('0')
  })

  it('adds ratios to the baselines of the same run, and none to failed scenarios or the baselines', () => {
    const rated = withRatios(scenarios)
    expect(rated.find((s) => s.name === 'e2e-embedded')!.ratio_to_raw_limit).toBe(0.1)
    expect(rated.find((s) => s.name === 'resolve-1m')!.ratio_to_sql_stitching).toBe(0.2)
    expect(rated.find((s) => s.name === 'e2e-embedded')!.ratio_to_sql_stitching).toBeUndefined()
    expect(rated.find((s) => s.name === 'baseline-raw-limit')!.ratio_to_raw_limit).toBeUndefined()
    expect(rated.find((s) => s.name === 'e2e-scaleout-2w')!.ratio_to_raw_limit).toBeUndefined()
  })

  it('prints aligned rows with errors in the note column', () => {
    const lines = formatTable(withRatios(scenarios)).split('\n')
    expect(lines[0]).toMatch(/^scenario\s+events\/s\s+p50 ms\s+p99 ms\s+RSS MB\s+vs raw limit\s+note$/)
    const e2e = lines.find((l) => l.startsWith('e2e-embedded'))!
    expect(e2e).toMatch(/8,000\s+46\.6\s+186\s+528\s+10\.0%/)
    expect(lines.find((l) => l.startsWith('e2e-scaleout-2w'))).toMatch(/ERROR: pipeline stalled: 40 of 100$/)
    // Every row's numeric columns end at the same place as the header's.
    const end = lines[0]!.indexOf('RSS MB') + 'RSS MB'.length
    expect(e2e.slice(0, end).endsWith('528')).toBe(true)
  })

  it('keeps a multi-line error on one short line', () => {
    const lines = formatMarkdownTable([{ name: 'x', error: `tessera up exited with 1:\n${'at frame\n'.repeat(40)}` }]).split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[2]!.length).toBeLessThan(160)
    expect(lines[2]).toMatch(/ERROR: tessera up exited with 1: at frame/)
  })

  it('prints a Markdown table', () => {
    const md = formatMarkdownTable(withRatios(scenarios)).split('\n')
    expect(md[0]).toBe('| scenario | events/s | p50 ms | p99 ms | RSS MB | vs raw limit | note |')
    expect(md[1]).toBe('|---|---:|---:|---:|---:|---:|---|')
    expect(md).toHaveLength(2 + scenarios.length)
  })
})
