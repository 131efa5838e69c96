import { createHmac } from 'node:crypto'
import { statSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/support/factories.js'
import { loadOrCreateWebhookSecret, SIGNATURE_HEADER, webhookUrlProblem, WebhookVerificationChannel } from './webhook-channel.js'

interface Received { headers: IncomingMessage['headers']; body: string }

/** A receiver on loopback that answers with `status` after `delayMs`. */
async function receiver(status: number, delayMs = 0): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      got.push({ headers: req.headers, body })
      setTimeout(() => { res.statusCode = status; res.end('ok') }, delayMs)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/codes`, got, server }
}

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
})

const message = { requestId: 'r-1', requestType: 'access', identifier: 'email:ann@example.com', code: '01234567', expiresAt: '2026-01-01T00:30:00.000Z' }

describe('the webhook verification channel', () => {
  it('POSTs the code as JSON with an HMAC signature over time and body that the receiver can check', async () => {
    const r = await receiver(204)
    servers.push(r.server)
    const t = tempDir()
    const secret = loadOrCreateWebhookSecret(join(t.dir, 'dsar-webhook.key'))
    expect(statSync(join(t.dir, 'dsar-webhook.key')).mode & 0o777).toBe(0o600)
    expect(loadOrCreateWebhookSecret(join(t.dir, 'dsar-webhook.key')).equals(secret)).toBe(true)
    const channel = new WebhookVerificationChannel({ url: r.url, secret, timeoutMs: 2000, now: () => 1_767_225_600_000 })
    expect(channel.name).toBe(`webhook ${new URL(r.url).origin}`)
    await channel.deliver(message)
    expect(r.got).toHaveLength(1)
    const { headers, body } = r.got[0]!
    expect(JSON.parse(body)).toEqual({ type: 'tessera.dsar.verification_code', ...message })
    expect(headers['content-type']).toBe('application/json')
    const [, ts, sig] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(headers[SIGNATURE_HEADER]))!
    expect(ts).toBe('1767225600')
    expect(sig).toBe(createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex'))
    t.cleanup()
  })

  it('fails the delivery on a non-2xx answer, a timeout or an unreachable receiver, naming the channel and not the code', async () => {
    const secret = Buffer.alloc(32, 7)
    const refused = await receiver(500)
    const slow = await receiver(200, 600)
    servers.push(refused.server, slow.server)
    // A port nothing listens on: take a free one and close it.
    const gone = await receiver(200)
    await new Promise((r) => gone.server.close(r))
    const deliver = (url: string, timeoutMs = 1000): Promise<void> => new WebhookVerificationChannel({ url, secret, timeoutMs, now: Date.now }).deliver(message)
    await expect(deliver(refused.url)).rejects.toMatchObject({ code: 'TESSERA_UPSTREAM', message: expect.stringMatching(/answered 500/) })
    await expect(deliver(slow.url, 100)).rejects.toMatchObject({ code: 'TESSERA_UPSTREAM', message: expect.stringMatching(/no answer within 100 ms/) })
    await expect(deliver(gone.url)).rejects.toMatchObject({ code: 'TESSERA_UPSTREAM', message: expect.stringMatching(/could not be reached/) })
    for (const url of [refused.url, gone.url]) expect(await deliver(url).then(() => '', (e: Error) => e.message)).not.toContain(message.code)
  })

  it('accepts only HTTPS, or HTTP to loopback, without credentials in the URL, and a well-formed secret', () => {
    expect(webhookUrlProblem('https://notify.example.com/codes')).toBeNull()
    expect(webhookUrlProblem('http://localhost:8080/codes')).toBeNull()
    expect(webhookUrlProblem('http://[::1]:8080/codes')).toBeNull()
    expect(webhookUrlProblem('http://notify.example.com/codes')).toMatch(/https/)
    expect(webhookUrlProblem('https://user:pw@notify.example.com/')).toMatch(/password/)
    expect(webhookUrlProblem('not a url')).toMatch(/not a URL/)
    expect(() => new WebhookVerificationChannel({ url: 'ftp://x', secret: Buffer.alloc(32), timeoutMs: 1, now: Date.now })).toThrow(/webhookUrl/)
    const t = tempDir()
    const path = join(t.dir, 'bad.key')
    loadOrCreateWebhookSecret(path)
    expect(() => loadOrCreateWebhookSecret(join(t.dir))).toThrow()
    t.cleanup()
  })
})
