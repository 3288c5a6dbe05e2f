/**
 * Static server for the browser tests and benchmarks: the built SDK at /sdk/, the published
 * models at /models/, and test pages at /e2e/. Loopback only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import sirv from 'sirv';

type Mounts = [string, ReturnType<typeof sirv>][];

/** For tests: files re-read on every request, nothing cached (the SDK is rebuilt between runs). */
function devMounts(): Mounts {
  return [
    ['/sdk/', sirv('packages/sdk/dist', { dev: true })],
    ['/models/', sirv('models', { dev: true })],
    ['/e2e/', sirv('e2e/pages', { dev: true })],
  ];
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * For benchmarks: the caching docs/deploy.md asks shops for. The SDK under a release path
 * (immutable), content-addressed model files immutable, the model's top-level manifest and the
 * pages revalidated.
 */
function deployedMounts(): Mounts {
  const headers = (value: (pathname: string) => string) => (res: ServerResponse, pathname: string) =>
    res.setHeader('Cache-Control', value(pathname));
  return [
    ['/sdk/', sirv('packages/sdk/dist', { etag: true, setHeaders: headers(() => IMMUTABLE) })],
    [
      '/models/',
      sirv('models', { etag: true, setHeaders: headers((p) => (/^\/[^/]+\/manifest\.json$/.test(p) ? 'no-cache' : IMMUTABLE)) }),
    ],
    ['/e2e/', sirv('e2e/pages', { etag: true, setHeaders: headers(() => 'no-cache') })],
  ];
}

export function startStaticServer(
  port: number,
  host = '127.0.0.1',
  { caching = 'none' }: { caching?: 'none' | 'deployed' } = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const mounts = caching === 'deployed' ? deployedMounts() : devMounts();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const mount = mounts.find(([prefix]) => req.url?.startsWith(prefix));
    if (!mount) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    req.url = req.url!.slice(mount[0].length - 1);
    mount[1](req, res, () => {
      res.statusCode = 404;
      res.end('not found');
    });
  });
  return new Promise((resolve) =>
    server.listen(port, host, () => {
      const addr = server.address() as { port: number };
      resolve({ url: `http://${host}:${addr.port}`, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 4173);
  startStaticServer(port).then(({ url }) => console.log(`serving sdk, models and e2e pages on ${url}`));
}
