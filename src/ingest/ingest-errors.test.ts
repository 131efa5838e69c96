import { describe, expect, it } from 'vitest'
import { TesseraError, ValidationError } from '../core/errors.js'
import {
  EventTooLargeError, MalformedBodyError, PayloadTooLargeError, UnauthorizedError, formatBytes, rejectionReasonFor,
} from './ingest-errors.js'

describe('rejectionReasonFor', () => {
  it('reads the reason carried by ingest errors', () => {
    expect(rejectionReasonFor(new MalformedBodyError('is not valid JSON'))).toBe('malformed')
    expect(rejectionReasonFor(new EventTooLargeError([{ field: '.batch[0]', message: 'is big' }]))).toBe('too_large')
    expect(rejectionReasonFor(new PayloadTooLargeError(1024))).toBe('too_large')
    expect(rejectionReasonFor(new UnauthorizedError('no key'))).toBe('unauthorized')
  })

  it('maps catalog codes and Fastify errors', () => {
    expect(rejectionReasonFor(new ValidationError('.userId', 'is required'))).toBe('invalid')
    expect(rejectionReasonFor(new TesseraError('TESSERA_BACKPRESSURE', 'full'))).toBe('backpressure')
    expect(rejectionReasonFor(new TesseraError('TESSERA_LOG_UNAVAILABLE', 'closed'))).toBe('backpressure')
    expect(rejectionReasonFor(Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }))).toBe('too_large')
    expect(rejectionReasonFor(Object.assign(new Error('bad'), { validation: [] }))).toBe('invalid')
    expect(rejectionReasonFor(Object.assign(new Error('media'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }))).toBe('malformed')
  })

  it('does not count faults as refusals', () => {
    expect(rejectionReasonFor(new Error('boom'))).toBeUndefined()
    expect(rejectionReasonFor(new TesseraError('TESSERA_STORE', 'disk'))).toBeUndefined()
    expect(rejectionReasonFor('text')).toBeUndefined()
  })
})

describe('ingest errors', () => {
  it('name the field and keep the problems', () => {
    const error = new EventTooLargeError([{ field: '.batch[3]', message: 'is 40 KB' }, { field: '.batch[5]', message: 'is 33 KB' }])
    expect(error).toMatchObject({ code: 'TESSERA_VALIDATION', field: '.batch[3]', message: '.batch[3]: is 40 KB' })
    expect(error.problems).toHaveLength(2)
    expect(new PayloadTooLargeError(500 * 1024).message).toContain('500 KB')
  })

  it('format limits as people write them', () => {
    expect(formatBytes(512)).toBe('512 bytes')
    expect(formatBytes(32 * 1024)).toBe('32 KB')
    expect(formatBytes(33_000)).toBe('32.2 KB')
    expect(formatBytes(3 * 1024 * 1024)).toBe('3 MB')
  })
})
