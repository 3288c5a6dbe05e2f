// Lazily loaded chunk: the WASM backend with only the kernel the MLP needs.
import { env, registerKernel } from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm/dist/base';
import { _fusedMatMulConfig } from '@tensorflow/tfjs-backend-wasm/dist/kernels/_FusedMatMul';

registerKernel(_fusedMatMulConfig);

export const WASM_BINARIES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;
export type WasmBinary = (typeof WASM_BINARIES)[number];

/**
 * The sha256 (hex) of each binary shipped in dist/, as JSON. The build (scripts/rollup-integrity.ts)
 * replaces this placeholder with the hashes of the very files it copies; the sources run unbuilt
 * only in Node, where the backend reads its binaries from its own package.
 */
const BAKED_SHA256 = '__VITRINE_WASM_SHA256__';

export function bakedHashes(baked: string = BAKED_SHA256): Partial<Record<WasmBinary, string>> | undefined {
  return baked.startsWith('{') ? (JSON.parse(baked) as Record<WasmBinary, string>) : undefined;
}

/**
 * Where the binaries sit beside the SDK: dist/*.wasm, one folder above this chunk (dist/chunks/).
 * One literal `new URL('…', import.meta.url)` per file, so bundlers (Vite dev and build, webpack)
 * see each binary, emit it and rewrite the URL; a directory URL is something they cannot follow.
 */
function shippedUrls(): Record<WasmBinary, string> {
  return {
    'tfjs-backend-wasm.wasm': new URL('../tfjs-backend-wasm.wasm', import.meta.url).href,
    'tfjs-backend-wasm-simd.wasm': new URL('../tfjs-backend-wasm-simd.wasm', import.meta.url).href,
    'tfjs-backend-wasm-threaded-simd.wasm': new URL('../tfjs-backend-wasm-threaded-simd.wasm', import.meta.url).href,
  };
}

function prefixedUrls(prefix: string): Record<WasmBinary, string> {
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  const page = globalThis.document?.baseURI ?? globalThis.location?.href;
  return Object.fromEntries(WASM_BINARIES.map((name) => [name, new URL(name, new URL(base, page)).href])) as Record<WasmBinary, string>;
}

/** The binary tfjs-backend-wasm's init() will ask for, from the same flags it reads. */
async function chosenBinary(): Promise<WasmBinary> {
  const [simd, threads] = await Promise.all([env().getAsync('WASM_HAS_SIMD_SUPPORT'), env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')]);
  return simd && threads ? 'tfjs-backend-wasm-threaded-simd.wasm' : simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Fetches one binary and checks it before anything compiles it: HTTP status, the wasm magic word
 * (an HTML fallback page is the usual wrong answer) and the sha256 the build baked in. Throws
 * with the real cause.
 */
export async function fetchVerified(
  url: string,
  name: WasmBinary,
  expected: string | undefined,
  deps: { fetch: typeof fetch; subtle: SubtleCrypto | undefined } = {
    fetch: (...args) => globalThis.fetch(...args),
    subtle: globalThis.crypto?.subtle,
  },
): Promise<ArrayBuffer> {
  let res: Response;
  try {
    res = await deps.fetch(url, { credentials: 'same-origin' });
  } catch (err) {
    throw new Error(`${url} could not be fetched (${(err as Error)?.message ?? err}; blocked by CORS, CSP connect-src or the network?)`, {
      cause: err,
    });
  }
  if (!res.ok) throw new Error(`HTTP ${res.status} for ${url}`);
  const bytes = await res.arrayBuffer();
  const head = new Uint8Array(bytes, 0, Math.min(4, bytes.byteLength));
  if (toHex(head) !== '0061736d') throw new Error(`${url} is not a wasm binary (starts with ${toHex(head) || 'nothing'})`);
  if (expected) {
    if (!deps.subtle) throw new Error(`cannot verify ${name}: crypto.subtle is unavailable (the page must be a secure context)`);
    const digest = toHex(new Uint8Array(await deps.subtle.digest('SHA-256', bytes)));
    if (digest !== expected) throw new Error(`${url}: sha256 ${digest} does not match this SDK build's ${name} (${expected})`);
  }
  return bytes;
}

/** A page whose CSP lacks 'wasm-unsafe-eval' refuses every compile: say so before tfjs tries (and hangs on it). */
function assertWasmAllowed(): void {
  try {
    new WebAssembly.Module(Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00));
  } catch (err) {
    throw new Error(`WebAssembly cannot compile on this page (${(err as Error)?.message ?? err}); a CSP needs 'wasm-unsafe-eval'`, {
      cause: err,
    });
  }
}

/** Verified binaries waiting for tfjs to ask for them, by URL; each is handed out once. */
const verified = new Map<string, ArrayBuffer>();
let servingVerified = false;

/**
 * tfjs-backend-wasm's supported hook for loading the binary through our code:
 * `setWasmPaths(map, usePlatformFetch = true)` makes it fetch with `env().platform.fetch` and
 * instantiate the bytes it gets. Our platform fetch answers the binary's URL with the bytes
 * verified above, so what compiles is what was checked (and it is downloaded once).
 */
function serveVerified(): void {
  if (servingVerified) return;
  servingVerified = true;
  const platform = env().platform as unknown as { fetch(path: string, init?: RequestInit): Promise<Response> };
  const original = platform.fetch.bind(platform);
  platform.fetch = (path, init) => {
    const bytes = verified.get(path);
    if (!bytes) return original(path, init);
    verified.delete(path);
    return Promise.resolve(new Response(bytes, { headers: { 'content-type': 'application/wasm' } }));
  };
}

/**
 * Points the backend at its .wasm binaries (beside the SDK's files, or `wasmPaths`) after fetching
 * and verifying the one it will use. Throws with the cause when it can't.
 */
export async function configure(wasmPaths: string | undefined): Promise<void> {
  // In Node the backend reads its binaries from its own package directory. Everything else (a
  // page, a worker, another runtime) goes through the verified path.
  if (isNode()) {
    if (wasmPaths) setWasmPaths(wasmPaths.endsWith('/') ? wasmPaths : `${wasmPaths}/`);
    return;
  }
  const hashes = bakedHashes();
  // Fail closed: a build that baked no hashes (sources run unbuilt in a browser) must not load unverified binaries.
  if (!hashes) throw new Error('this SDK build carries no wasm binary hashes (unbuilt sources?): wasm refused');
  const urls = wasmPaths ? prefixedUrls(wasmPaths) : shippedUrls();
  const name = await chosenBinary();
  assertWasmAllowed();
  verified.set(urls[name], await fetchVerified(urls[name], name, hashes[name]));
  serveVerified();
  setWasmPaths(urls, true);
}

/** Node itself (not a page, a worker or a browser-like test environment). */
function isNode(): boolean {
  return typeof process !== 'undefined' && Boolean(process.versions?.node) && typeof document === 'undefined';
}
