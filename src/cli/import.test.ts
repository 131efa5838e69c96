import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startFakeTrackingApi, type FakeTrackingApi } from '../client/testing/fake-tracking-api.js'
import { runImport, type ImportIo } from './import.js'

const CRM_KEY = 'wk_crm_import_test_key'

let dir: string
let api: FakeTrackingApi | undefined

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-import-'))
  writeFileSync(join(dir, 'credentials.json'), JSON.stringify({
    writeKeys: { default: 'wk_default_import_test', crm: CRM_KEY }, adminToken: 'tsa_import_test_token_0123',
  }))
})
afterEach(async () => {
  await api?.close()
  api = undefined
  rmSync(dir, { recursive: true, force: true })
})

function capture(): ImportIo & { out: () => string; err: () => string } {
  let out = ''
  let err = ''
  return {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    env: {},
    out: () => out,
    err: () => err,
  }
}

const CSV = [
  'user_id;E-Mail;first_name;company;note',
  'u1;ann@example.com;Ann;Acme;"says ""hi"""',
  'u2;bo@example.com;Bo;"Globex; Inc";"two',
  'lines"',
  ';CY@example.com;Cy;Initech;email only', // line 5: gets an anonymousId derived from the e-mail
  ';;Nobody;Hooli;no identifier', // line 6: refused locally
  'u4;di@example.com;Di', // line 7: ragged
  '',
  'u5;ed@example.com;Ed;Umbrella;',
].join('\r\n') + '\r\n'

describe('runImport', () => {
  it('sends valid rows, retries a 429, and reports rejected rows by line', async () => {
    api = await startFakeTrackingApi({ writeKeys: [CRM_KEY], upfront: [{ status: 429, retryAfter: '1' }] })
    const file = join(dir, 'customers.csv')
    writeFileSync(file, '\uFEFF' + CSV)
    const io = capture()
    const code = await runImport([file, '--source', 'crm', '--url', api.url, '--data-dir', dir], io)

    expect(io.err()).not.toMatch(/tessera import:/)
    expect(code).toBe(2)
    expect(api.requests.map((r) => r.status)).toEqual([429, 200])
    expect(api.accepted.map((e) => e.userId ?? e.anonymousId)).toEqual(['u1', 'u2', expect.stringMatching(/^em_/), 'u5'])
    const u2 = api.accepted.find((e) => e.userId === 'u2') as { traits: Record<string, unknown> }
    expect(u2.traits).toEqual({ email: 'bo@example.com', firstName: 'Bo', company: 'Globex; Inc', note: 'two\r\nlines' })
    // Derived from the normalised e-mail, so the CRM's next export of this contact carries the same anonymousId.
    const { derivedAnonymousId } = await import('./import/row-mapping.js')
    expect(api.accepted[2]!.anonymousId).toBe(derivedAnonymousId('crm', 'email', 'cy@example.com'))

    const report = io.out()
    expect(report).toMatch(/rows read\s+6/)
    expect(report).toMatch(/events accepted\s+4/)
    expect(report).toMatch(/rows rejected\s+2/)
    expect(report).toMatch(/requests retried\s+1/)
    expect(report).toMatch(/note: 1 row\(s\) had no userId or anonymousId/)
    expect(report).toMatch(/line 6 .*no identifier/)
    expect(report).toMatch(/line 7 .*expected 5 fields \(as in the header\), found 3/)

    const rejectedFile = `${file}.rejected.csv`
    const rejected = readFileSync(rejectedFile, 'utf8').split('\r\n')
    expect(rejected[0]).toBe('rejected_line;rejected_reason;user_id;E-Mail;first_name;company;note')
    expect(rejected[1]).toBe('6;no identifier: the row needs a userId, anonymousId, email or phone value;;;Nobody;Hooli;no identifier')
    expect(rejected[2]).toBe('7;expected 5 fields (as in the header), found 3;u4;di@example.com;Di')

    // Fix the rows in the rejected file and import it as it is: the two added columns are not mapped.
    writeFileSync(rejectedFile, [
      rejected[0], '6;fixed;u6;nobody@example.com;Nobody;Hooli;', '7;fixed;u4;di@example.com;Di;Hooli;',
    ].join('\r\n'))
    const again = capture()
    expect(await runImport([rejectedFile, '--source', 'crm', '--url', api.url, '--data-dir', dir], again)).toBe(0)
    expect(api.accepted.slice(4)).toMatchObject([
      { userId: 'u6', traits: { email: 'nobody@example.com', firstName: 'Nobody', company: 'Hooli' } },
      { userId: 'u4', traits: { email: 'di@example.com', firstName: 'Di', company: 'Hooli' } },
    ])
    expect(JSON.stringify(api.accepted.slice(4))).not.toMatch(/rejected_/)
  })

  it('splits a batch the server refuses (400) and reports its invalid rows by line, sending the rest', async () => {
    api = await startFakeTrackingApi({ writeKeys: [CRM_KEY] })
    const file = join(dir, 'calls.jsonl')
    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify(i % 10 === 3
      ? { type: 'track', event: 'Lost Identity', properties: { i } } // no userId or anonymousId: refused by the server
      : { type: 'track', userId: `u${i}`, event: 'Fine', properties: { i } }))
    writeFileSync(file, lines.join('\n') + '\n')
    const io = capture()
    expect(await runImport([file, '--source', 'crm', '--url', api.url, '--data-dir', dir], io)).toBe(2)
    expect(api.requests.map((r) => r.status)).toEqual([400, 200])
    expect(api.accepted).toHaveLength(27)
    expect(io.out()).toMatch(/events accepted\s+27/)
    expect(io.out()).toMatch(/line 4 +rejected by the server \(HTTP 400\): \.userId: userId or anonymousId is required/)
    const rejected = readFileSync(`${file}.rejected.csv`, 'utf8').split('\r\n')
    expect(rejected[0]).toBe('rejected_line,rejected_reason,record')
    expect(rejected.slice(1, 4).map((l) => l.split(',')[0])).toEqual(['4', '14', '24'])
    expect(rejected[1]).toContain('"{""type"":""track"",""event"":""Lost Identity""')
  })

  it('imports JSONL Segment calls and flat objects, exit 0, and re-import sends the same messageIds', async () => {
    api = await startFakeTrackingApi({ writeKeys: [CRM_KEY] })
    const file = join(dir, 'events.jsonl')
    writeFileSync(file, [
      JSON.stringify({ type: 'track', userId: 'u1', event: 'Order Completed', properties: { revenue: 10 } }),
      JSON.stringify({ userId: 'u2', email: 'x@example.com', plan: 'pro' }),
      '',
      JSON.stringify({ type: 'identify', anonymousId: 'a-1', traits: { email: 'y@example.com' }, messageId: 'm-fixed' }),
    ].join('\n'))
    const io = capture()
    expect(await runImport([file, '--source', 'crm', '--url', api.url, '--data-dir', dir], io)).toBe(0)
    expect(api.accepted).toHaveLength(3)
    expect(api.accepted[1]).toMatchObject({ type: 'identify', userId: 'u2', traits: { email: 'x@example.com', plan: 'pro' } })
    expect(existsSync(`${file}.rejected.csv`)).toBe(false)

    const first = api.accepted.map((e) => e.messageId)
    expect(await runImport([file, '--source', 'crm', '--url', api.url, '--data-dir', dir], capture())).toBe(0)
    expect(api.accepted.slice(3).map((e) => e.messageId)).toEqual(first)
    expect(first[2]).toBe('m-fixed')
  })

  it('imports track rows with --type track and --event-column', async () => {
    api = await startFakeTrackingApi({ writeKeys: [CRM_KEY] })
    const file = join(dir, 'orders.csv')
    writeFileSync(file, 'userId,action,revenue,timestamp\nu1,Order Completed,19.99,2024-05-01T10:00:00Z\n')
    const io = capture()
    expect(await runImport([file, '--source', 'crm', '--type', 'track', '--event-column', 'action', '--url', api.url, '--data-dir', dir], io)).toBe(0)
    expect(api.accepted[0]).toMatchObject({ type: 'track', userId: 'u1', event: 'Order Completed', properties: { revenue: 19.99 }, timestamp: '2024-05-01T10:00:00.000Z' })
  })

  it('--dry-run checks the file and sends nothing', async () => {
    const file = join(dir, 'customers.csv')
    writeFileSync(file, CSV)
    const io = capture()
    expect(await runImport([file, '--source', 'crm', '--dry-run'], io)).toBe(2)
    expect(io.out()).toMatch(/Dry run .* nothing was sent/)
    expect(io.out()).toMatch(/events ready\s+4/)
    expect(existsSync(`${file}.rejected.csv`)).toBe(false)
  })

  it('fails with exit 1 and a fix for a missing file, bad options, an unknown source or a wrong column', async () => {
    let io = capture()
    expect(await runImport([join(dir, 'nope.csv'), '--source', 'crm'], io)).toBe(1)
    expect(io.err()).toMatch(/nope\.csv does not exist/)

    io = capture()
    expect(await runImport(['x.csv', '--source', 'crm', '--type', 'page'], io)).toBe(1)
    expect(io.err()).toMatch(/--type must be identify or track[\s\S]*Usage: tessera import/)

    io = capture()
    expect(await runImport(['x.csv'], io)).toBe(1)
    expect(io.err()).toMatch(/--source is required/)

    const file = join(dir, 'c.csv')
    writeFileSync(file, 'email\na@example.com\n')
    io = capture()
    expect(await runImport([file, '--source', 'warehouse', '--data-dir', dir], io)).toBe(1)
    expect(io.err()).toMatch(/no write key for source "warehouse" \(it has: default, crm\)/)
    expect(io.err()).not.toMatch(new RegExp(CRM_KEY))

    io = capture()
    expect(await runImport([file, '--source', 'crm', '--email-column', 'mail', '--dry-run'], io)).toBe(1)
    expect(io.err()).toMatch(/--email-column "mail" is not a column of this file \(columns: "email"\)/)
  })

  it('fails with exit 1 and says how to fix it when the server is unreachable', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    await new Promise<void>((resolve) => server.close(() => resolve()))
    const file = join(dir, 'c.csv')
    writeFileSync(file, 'email\na@example.com\n')
    const io = capture()
    const started = Date.now()
    expect(await runImport([file, '--source', 'crm', '--url', `http://127.0.0.1:${port}`, '--data-dir', dir], io)).toBe(1)
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(io.err()).toMatch(/cannot reach the tracking API .*ECONNREFUSED[\s\S]*Is Tessera running at http:\/\/127\.0\.0\.1:\d+\? Start it with `tessera up`/)
  })

  it('stops with exit 1 when the write key is refused, without printing it', async () => {
    api = await startFakeTrackingApi({ writeKeys: ['some-other-key'] })
    const file = join(dir, 'c.csv')
    writeFileSync(file, 'userId\nu1\n')
    const io = capture()
    expect(await runImport([file, '--source', 'crm', '--url', api.url, '--data-dir', dir], io)).toBe(1)
    expect(io.err()).toMatch(/refused the write key[\s\S]*--data-dir/)
    expect(io.err() + io.out()).not.toContain(CRM_KEY)
  })
})
