/**
 * The browser tests need Chromium: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. Run before
 * any browser test (first step of `npm run test:e2e`, and Playwright's globalSetup for direct
 * `npx playwright test` runs). If it is missing:
 *  - with no CHROMIUM_PATH, as root on a machine with apt-get: installs Debian's `chromium` and goes on;
 *  - otherwise: prints one line saying what to run and fails, before any test starts.
 * An explicit CHROMIUM_PATH is never "fixed" by installing a package: it is reported.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/** The browser every tool here launches: CHROMIUM_PATH when set (and not empty), else Debian's. */
export const chromiumPath = (): string => process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM;

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

export interface EnsureOptions {
  env?: NodeJS.ProcessEnv;
  defaultPath?: string;
  isRoot?: boolean;
  hasAptGet?: boolean;
  isExecutable?: (path: string) => boolean;
  /** Installs Debian's chromium; returns whether the command succeeded. */
  install?: () => boolean;
}

function aptInstallChromium(): boolean {
  const r = spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq chromium'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.status === 0;
}

/** Returns the Chromium binary to use, installing it if allowed; throws with one line otherwise. */
export function ensureChromium(options: EnsureOptions = {}): string {
  const {
    env = process.env,
    defaultPath = DEFAULT_CHROMIUM,
    isRoot = process.getuid?.() === 0,
    hasAptGet = ['/usr/bin/apt-get', '/bin/apt-get'].some(existsSync),
    isExecutable = executable,
    install = aptInstallChromium,
  } = options;
  const explicit = env.CHROMIUM_PATH;
  const path = explicit || defaultPath;
  if (isExecutable(path)) return path;
  if (explicit) {
    throw new Error(
      `Chromium not found at ${path} (CHROMIUM_PATH): point CHROMIUM_PATH at a Chromium binary, or unset it to use ${defaultPath}`,
    );
  }
  if (isRoot && hasAptGet) {
    console.log(`Chromium not found at ${path}: installing Debian's chromium (apt-get install -y chromium) for the browser tests`);
    if (install() && isExecutable(path)) return path;
    throw new Error(
      `Chromium not found at ${path}, and \`apt-get install -y chromium\` did not provide it: install Chromium and set CHROMIUM_PATH`,
    );
  }
  const how = hasAptGet ? 'run `sudo apt-get install -y chromium`' : 'install Chromium';
  throw new Error(`Chromium not found at ${path}: ${how} (or set CHROMIUM_PATH)`);
}

/** Playwright globalSetup. */
export default function globalSetup(): void {
  try {
    ensureChromium();
  } catch (err) {
    const e = err as Error;
    e.stack = e.message; // one line, no stack trace
    throw e;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    ensureChromium();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
