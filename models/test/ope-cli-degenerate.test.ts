// npm run ope on an OBD-shaped fixture where one BTS row has propensity 1e-6: the estimate of the
// uniform policy from the BTS logs must warn (JSON and stderr), name the row, use the bootstrap
// interval and stay inside [0, 1]. No ../shared needed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function writeLogs(dir: string) {
  for (const policy of ['random', 'bts']) {
    mkdirSync(join(dir, policy), { recursive: true });
    const lines = [',timestamp,item_id,position,click,propensity_score'];
    for (let k = 0; k < 3000; k++) {
      const item = k % 3;
      const click = k % 97 === 0 ? 1 : 0;
      lines.push(`${k},2019-11-24,${item},${1 + (k % 3)},${click},${policy === 'bts' ? 0.5 : 0.25}`);
    }
    // BTS shows item 3 almost never; the row that did carries most of the uniform policy's weight.
    if (policy === 'bts') lines.push(`3000,2019-11-24,3,1,1,0.000001`);
    else lines.push(`3000,2019-11-24,3,1,0,0.25`);
    writeFileSync(join(dir, policy, 'men.csv'), `${lines.join('\n')}\n`);
  }
}

describe('npm run ope with degenerate weights (fixture)', () => {
  it('warns, names the row, bootstraps, and keeps intervals in [0, 1]', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-obd-degenerate-'));
    writeLogs(dir);
    const run = spawnSync('npx', ['tsx', '--conditions=source', 'models/src/ope-cli.ts', '--obd', dir, '--campaign', 'men', '--json'], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    const res = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    const e = res.estimates.random;
    expect(e.max_weight_row).toMatchObject({ index: 3000, item: '3', position: 1, propensity: 1e-6 });
    expect(e.max_weight_row.share).toBeGreaterThan(0.1);
    expect(e.effective_sample_size).toBeLessThan(0.01 * e.n);
    expect(e.warnings.join('\n')).toMatch(/row 3000 \(item 3, position 1, propensity 0\.000001\) holds/);
    expect(run.stderr).toMatch(/WARNING random from bts logs: row 3000 \(item 3, position 1, propensity 0\.000001\)/);
    expect(run.stderr).toMatch(/WARNING random from bts logs: effective sample size/);
    for (const k of ['ipw', 'snipw', 'dr']) {
      expect(e[k].interval, k).toBe('bootstrap');
      expect(e[k].ci[0], k).toBeGreaterThanOrEqual(0);
      expect(e[k].ci[1], k).toBeLessThanOrEqual(1);
    }
    expect(e.clipped.map((c: { cap_times_mean_weight: number }) => c.cap_times_mean_weight)).toEqual([10, 100, 1000]);
    expect(e.clipped[0].clipped_rows).toBe(1);
  });
});
