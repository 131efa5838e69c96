import { describe, expect, it } from 'vitest'
import { parseDemoArgs } from './demo-args.js'

describe('parseDemoArgs', () => {
  it('has defaults and a random, printed seed', () => {
    const parsed = parseDemoArgs([])
    expect(parsed).toMatchObject({ kind: 'run', args: { people: 200, timeoutSeconds: 120, randomSeed: true, url: undefined } })
    if (parsed.kind === 'run') expect(parsed.args.seed).toMatch(/^\d+$/)
  })
  it('reads the options', () => {
    expect(parseDemoArgs(['--people', '50', '--seed', 'abc', '--url', 'http://h:1', '--data-dir', 'd', '--timeout', '9']))
      .toEqual({ kind: 'run', args: { people: 50, seed: 'abc', randomSeed: false, url: 'http://h:1', dataDir: 'd', timeoutSeconds: 9 } })
  })
  it('says what is wrong', () => {
    expect(parseDemoArgs(['--people', '10'])).toEqual({ kind: 'error', message: '--people must be a whole number from 20 to 100,000, got "10"' })
    expect(parseDemoArgs(['--people', '2e3'])).toMatchObject({ kind: 'error' })
    expect(parseDemoArgs(['--bogus'])).toMatchObject({ kind: 'error', message: expect.stringContaining('--bogus') as unknown as string })
    expect(parseDemoArgs(['extra'])).toMatchObject({ kind: 'error' })
    expect(parseDemoArgs(['-h'])).toEqual({ kind: 'help' })
  })
})
