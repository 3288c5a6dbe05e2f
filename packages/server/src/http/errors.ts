/** Owns HTTP errors: `HttpError` (status, message, optional field), the one handler that answers every failed request, and 404. */
import type { FastifyInstance } from 'fastify';

/** What a route throws to answer with `status` and `{ error: message, field? }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  body(): { error: string; field?: string } {
    return this.field === undefined ? { error: this.message } : { error: this.message, field: this.field };
  }
}

type FrameworkError = Error & { statusCode?: number; code?: string };

/** Any error a request ended with (ours, Fastify's, a plugin's, a bug) as the HttpError it is answered with. */
export function toHttpError(err: FrameworkError, bodyLimit: number): HttpError {
  if (err instanceof HttpError) return err;
  const status = err.statusCode ?? 500;
  if (status === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new HttpError(413, `body: larger than ${bodyLimit} bytes`);
  // 429 from the rate limiter and Fastify's own 4xx keep their message; a 5xx never shows its cause.
  return new HttpError(status, status >= 500 ? 'internal error' : err.message);
}

export function installErrorHandler(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err: FrameworkError, _req, reply) => {
    const httpError = toHttpError(err, bodyLimit);
    if (httpError.status >= 500) app.log.error(err);
    return reply.code(httpError.status).send(httpError.body());
  });
  // Fastify's default 404 quotes the method and path back; ours says nothing about the request.
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not found' }));
}
