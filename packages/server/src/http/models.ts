/** Owns the model resource: GET /v1/models/current (ETag) and GET /v1/models/:version/:file (immutable). */
import type { FastifyInstance } from 'fastify';
import type { ModelRegistry } from '../registry/registry';
import { currentEtag, servedManifest } from '../registry/signing';
import { HttpError } from './errors';

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** What a version label or file name can be; anything else (control characters, NUL, slashes, spaces) is not a model. */
const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function registerModelRoutes(app: FastifyInstance, registry: ModelRegistry): void {
  app.get('/v1/models/current', async (req, reply) => {
    const current = registry.getCurrent()!;
    const etag = currentEtag(current);
    reply.header('etag', etag).header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    const manifest = servedManifest(current); // signed when the server signs; the signature does not cover paths
    return { ...manifest, files: manifest.files.map((f) => ({ ...f, path: `${current.version}/${f.path}` })) };
  });

  app.get<{ Params: { version: string; file: string } }>('/v1/models/:version/:file', async (req, reply) => {
    const { version, file } = req.params;
    // Checked before anything uses them: never echoed, never put in a header (a NUL in an ETag was a 500).
    if (!SAFE_SEGMENT.test(version)) throw new HttpError(404, 'version: no such model', 'version');
    if (!SAFE_SEGMENT.test(file)) throw new HttpError(404, 'file: no such file', 'file');
    const model = await registry.get(version);
    if (!model) throw new HttpError(404, 'version: no such model', 'version');
    const isManifest = file === 'manifest.json';
    if (!isManifest && file !== model.manifest.files[0].path) throw new HttpError(404, 'file: no such file', 'file');
    reply.header('cache-control', IMMUTABLE).header('etag', `"${model.version}/${file}"`);
    if (isManifest) return servedManifest(model);
    return reply.type('application/octet-stream').send(Buffer.from(model.weights));
  });
}
