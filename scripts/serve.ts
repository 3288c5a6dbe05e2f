/**
 * Static server for the browser tests and benchmarks: the built SDK at /sdk/, the published
 * models at /models/, and test pages at /e2e/. Loopback only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import sirv from 'sirv';

const mounts: [string, ReturnType<typeof sirv>][] = [
  ['/sdk/', sirv('packages/sdk/dist', { dev: true })],
  ['/models/', sirv('models', { dev: true })],
  ['/e2e/', sirv('e2e/pages', { dev: true })],
];

export function startStaticServer(port: number, host = '127.0.0.1'): Promise<{ url: string; close: () => Promise<void> }> {
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
