/**
 * @module Maps errors to HTTP responses in one place. Tessera errors carry a code from the catalog;
 * Fastify's own errors (body too large, bad JSON, schema validation) are translated to the same body shape;
 * anything else becomes an opaque 500 and is logged without request data.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { isTesseraError, type ErrorCode, type FieldProblem } from '../core/errors.js'

const STATUS: Readonly<Record<ErrorCode, number>> = {
  TESSERA_VALIDATION: 400,
  TESSERA_UNAUTHORIZED: 401,
  TESSERA_FORBIDDEN: 403,
  TESSERA_NOT_FOUND: 404,
  TESSERA_PAYLOAD_TOO_LARGE: 413,
  TESSERA_BACKPRESSURE: 429,
  TESSERA_LOG_UNAVAILABLE: 503,
  TESSERA_CONFIG: 500,
  // The state store failed (connection lost, server down): temporary, so 503; Retry-After when the caller may retry.
  TESSERA_STORE: 503,
  TESSERA_LOCKED: 409,
  TESSERA_CONFLICT: 409,
  TESSERA_UPSTREAM: 502,
}

/** The JSON body of every error response. */
export interface ErrorBody {
  readonly success: false
  readonly code: string
  readonly message: string
  readonly field?: string
  readonly problems?: readonly FieldProblem[]
}

export const errorBodySchema = {
  type: 'object',
  properties: {
    success: { type: 'boolean', const: false },
    code: { type: 'string' },
    message: { type: 'string' },
    field: { type: 'string' },
    problems: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
  },
  required: ['success', 'code', 'message'],
} as const

export function statusForCode(code: ErrorCode): number {
  return STATUS[code]
}

export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (isTesseraError(error)) {
    const status = STATUS[error.code]
    if (error.retryAfterSeconds !== undefined) void reply.header('Retry-After', String(error.retryAfterSeconds))
    if (status >= 500) request.log.error({ code: error.code, err: error }, 'request failed')
    const body: ErrorBody = {
      success: false, code: error.code, message: error.message,
      ...(error.field === undefined ? {} : { field: error.field }),
      ...(error.problems.length > 0 ? { problems: error.problems } : {}),
    }
    return reply.status(status).send(body)
  }
  const fe = error as FastifyError
  if (fe.validation) {
    const problems = fe.validation.map((v) => ({
      field: v.instancePath ? '.' + v.instancePath.slice(1).replaceAll('/', '.') : `.${String(v.params?.missingProperty ?? '')}`,
      message: v.message ?? 'is invalid',
    }))
    const first = problems[0] ?? { field: '(body)', message: 'is invalid' }
    return reply.status(400).send({ success: false, code: 'TESSERA_VALIDATION', message: `${first.field}: ${first.message}`, field: first.field, problems } satisfies ErrorBody)
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return reply.status(413).send({ success: false, code: 'TESSERA_PAYLOAD_TOO_LARGE', message: 'request body is larger than the limit for this endpoint' } satisfies ErrorBody)
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code = fe.statusCode === 415 ? 'TESSERA_VALIDATION' : 'TESSERA_VALIDATION'
    return reply.status(fe.statusCode).send({ success: false, code, message: fe.message, field: '(body)' } satisfies ErrorBody)
  }
  request.log.error({ err: { message: error.message, stack: error.stack, code: fe.code } }, 'unhandled error')
  return reply.status(500).send({ success: false, code: 'TESSERA_INTERNAL', message: 'internal error' } satisfies ErrorBody)
}
