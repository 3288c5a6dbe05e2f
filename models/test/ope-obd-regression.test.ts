// Pins `npm run ope` on the real Open Bandit Dataset sample (campaign men). Needs
// ../shared/data/obd (CI has it); skips with a message when it is absent.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const obd = fileURLToPath(new URL('../../../shared/data/obd', import.meta.url));
const present = existsSync(`${obd}/random/men.csv`) && existsSync(`${obd}/bts/men.csv`);
if (!present) console.warn(`ope-obd-regression: skipped, ${obd} not found (the OBD sample lives in ../shared/data/obd)`);

function ope(...extra: string[]) {
  const out = execFileSync(
    'npx',
    ['tsx', '--conditions=source', 'models/src/ope-cli.ts', '--obd', obd, '--campaign', 'men', '--json', ...extra],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

describe.skipIf(!present)('npm run ope on the OBD sample (men)', () => {
  it('BTS from random logs, mean logged propensity target: the numbers of issue #12', () => {
    const e = ope('--bts-target', 'mean-propensity').estimates.bts;
    expect(e.target).toMatch(/^mean logged BTS propensity/);
    expect(e.ipw.value).toBeCloseTo(0.0055145781, 10);
    expect(e.snipw.value).toBeCloseTo(0.0055451937, 10);
    expect(e.dr.value).toBeCloseTo(0.0054415175, 10);
    expect(e.effective_sample_size).toBeCloseTo(4119.93, 2);
  });

  it('BTS from random logs, default target: empirical (item, position) frequency in the BTS logs', () => {
    const e = ope().estimates.bts;
    expect(e.target).toMatch(/^empirical \(item, position\) frequency/);
    expect(e.ipw.value).toBeCloseTo(0.0056562667, 10);
    expect(e.snipw.value).toBeCloseTo(0.0057398647, 10);
    expect(e.dr.value).toBeCloseTo(0.0056176009, 10);
    expect(e.effective_sample_size).toBeCloseTo(2869.28, 2);
    expect(e.warnings).toEqual([]);
    for (const k of ['ipw', 'snipw', 'dr']) {
      expect(e[k].interval).toBe('normal');
      expect(e[k].ci[0]).toBeGreaterThanOrEqual(0);
      expect(e[k].ci[1]).toBeLessThanOrEqual(1);
    }
  });
});
