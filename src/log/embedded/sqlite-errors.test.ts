import { describe, expect, it } from 'vitest'
import { TesseraError } from '../../core/errors.js'
import { isBusy, sqliteCode, toReadError, toWriteError } from './sqlite-errors.js'

function sqliteError(code: string): Error {
  return Object.assign(new Error(`failure ${code}`), { code })
}

describe('SQLite error mapping', () => {
  it('reads the extended result code and recognises lock contention', () => {
    expect(sqliteCode(sqliteError('SQLITE_BUSY_SNAPSHOT'))).toBe('SQLITE_BUSY_SNAPSHOT')
    expect(sqliteCode(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBeUndefined()
    expect(sqliteCode('SQLITE_FULL')).toBeUndefined()
    expect(isBusy(sqliteError('SQLITE_BUSY'))).toBe(true)
    expect(isBusy(sqliteError('SQLITE_LOCKED_SHAREDCACHE'))).toBe(true)
    expect(isBusy(sqliteError('SQLITE_FULL'))).toBe(false)
  })

  it.each([
    ['SQLITE_FULL', 'TESSERA_BACKPRESSURE', 5],
    ['SQLITE_BUSY', 'TESSERA_BACKPRESSURE', 1],
    ['SQLITE_BUSY_TIMEOUT', 'TESSERA_BACKPRESSURE', 1],
    ['SQLITE_LOCKED', 'TESSERA_BACKPRESSURE', 1],
    ['SQLITE_IOERR_WRITE', 'TESSERA_LOG_UNAVAILABLE', undefined],
    ['SQLITE_CORRUPT', 'TESSERA_LOG_UNAVAILABLE', undefined],
  ] as const)('maps a failed write with %s to %s', (code, expected, retryAfterSeconds) => {
    const cause = sqliteError(code)
    const error = toWriteError(cause, 'append')
    expect(error).toBeInstanceOf(TesseraError)
    expect(error.code).toBe(expected)
    expect(error.retryAfterSeconds).toBe(retryAfterSeconds)
    expect(error.cause).toBe(cause)
    expect(error.message).toContain(code)
  })

  it('maps failed reads to TESSERA_LOG_UNAVAILABLE and keeps Tessera errors as they are', () => {
    const cause = new TypeError('The database connection is not open')
    expect(toReadError(cause, 'read').code).toBe('TESSERA_LOG_UNAVAILABLE')
    expect(toReadError(cause, 'read').cause).toBe(cause)
    const notFound = new TesseraError('TESSERA_NOT_FOUND', 'no topic')
    expect(toReadError(notFound, 'read')).toBe(notFound)
  })
})
