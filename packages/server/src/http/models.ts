/** Owns the model resource: GET /v1/models/current (ETag) and GET /v1/models/:version/:file (immutable). */
import type { FastifyInstance } from 'fastify';
import type { ModelRegistry } from '../registry/registry';
import { HttpError } from './errors';

const IMMUTABLE = 'public, max-age=31536000, immutable';

export function registerModelRoutes(app: FastifyInstance, registry: ModelRegistry): void {
  app.get('/v1/models/current', async (req, reply) => {
    const current = registry.getCurrent()!;
    const etag = `"${current.version}"`;
    reply.header('etag', etag).header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return { ...current.manifest, files: current.manifest.files.map((f) => ({ ...f, path: `${current.version}/${f.path}` })) };
  });

  app.get<{ Params: { version: string; file: string } }>('/v1/models/:version/:file', async (req, reply) => {
    const model = await registry.get(req.params.version);
    if (!model) throw new HttpError(404, `version: no model ${req.params.version}`);
    reply.header('cache-control', IMMUTABLE).header('etag', `"${model.version}/${req.params.file}"`);
    if (req.params.file === 'manifest.json') return model.manifest;
    if (req.params.file === model.manifest.files[0].path) return reply.type('application/octet-stream').send(Buffer.from(model.weights));
    throw new HttpError(404, `file: ${model.version} has no ${req.params.file}`);
  });
}
