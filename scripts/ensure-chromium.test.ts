import { describe, expect, it, vi } from 'vitest';
import { ensureChromium } from './ensure-chromium';

const present =
  (...paths: string[]) =>
  (p: string) =>
    paths.includes(p);

describe('ensure-chromium', () => {
  it('returns CHROMIUM_PATH, else /usr/bin/chromium, when it exists', () => {
    expect(ensureChromium({ env: {}, isExecutable: present('/usr/bin/chromium') })).toBe('/usr/bin/chromium');
    expect(ensureChromium({ env: { CHROMIUM_PATH: '/opt/c' }, isExecutable: present('/opt/c') })).toBe('/opt/c');
  });

  it('never installs anything for an explicit CHROMIUM_PATH that does not exist, even as root', () => {
    const install = vi.fn(() => true);
    expect(() =>
      ensureChromium({ env: { CHROMIUM_PATH: '/nonexistent' }, isRoot: true, hasAptGet: true, isExecutable: present(), install }),
    ).toThrow('Chromium not found at /nonexistent (CHROMIUM_PATH): point CHROMIUM_PATH at a Chromium binary');
    expect(install).not.toHaveBeenCalled();
  });

  it('tells a non-root user the exact command', () => {
    const install = vi.fn(() => true);
    expect(() => ensureChromium({ env: {}, isRoot: false, hasAptGet: true, isExecutable: present(), install })).toThrow(
      'Chromium not found at /usr/bin/chromium: run `sudo apt-get install -y chromium` (or set CHROMIUM_PATH)',
    );
    expect(() => ensureChromium({ env: {}, isRoot: true, hasAptGet: false, isExecutable: present(), install })).toThrow(
      'Chromium not found at /usr/bin/chromium: install Chromium (or set CHROMIUM_PATH)',
    );
    expect(install).not.toHaveBeenCalled();
  });

  it('installs Debian chromium as root with apt-get, then goes on (or fails if that did not help)', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    let installed = false;
    const install = vi.fn(() => (installed = true));
    const isExecutable = (p: string) => installed && p === '/usr/bin/chromium';
    expect(ensureChromium({ env: {}, isRoot: true, hasAptGet: true, isExecutable, install })).toBe('/usr/bin/chromium');
    expect(install).toHaveBeenCalledOnce();
    expect(() => ensureChromium({ env: {}, isRoot: true, hasAptGet: true, isExecutable: present(), install: () => true })).toThrow(
      'did not provide it',
    );
    log.mockRestore();
  });
});
