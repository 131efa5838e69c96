/** Shared builders for tests: temp dirs, events. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import type { EventType, JsonObject, RawEvent } from '../../src/core/event.js'

export function tempDir(prefix = 'tessera-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

let clock = Date.parse('2026-11-01T00:00:00Z')

export function rawEvent(type: EventType, fields: Partial<Omit<RawEvent, 'type'>> & { traits?: JsonObject } = {}): RawEvent {
  clock += 1000
  const ts = new Date(clock).toISOString()
  return { messageId: randomUUID(), timestamp: ts, receivedAt: ts, sourceId: 'web', ...fields, type } as RawEvent
}

