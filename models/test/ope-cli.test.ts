// npm run ope on a generated OBD-shaped fixture (no ../shared needed).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '@vitrine/core/random';

function writeLogs(dir: string) {
  const random = seededRandom(11);
  const items = 6;
  const ctr = (i: number, pos: number) => 0.05 + 0.03 * i - 0.01 * pos;
  const bts = Array.from({ length: items }, (_, i) => (i + 1) / 21);
  for (const policy of ['random', 'bts']) {
    mkdirSync(join(dir, policy), { recursive: true });
    const lines = [',timestamp,item_id,position,click,propensity_score'];
    for (let k = 0; k < 6000; k++) {
      const pos = 1 + (k % 3);
      let item = Math.floor(random() * items);
      let p = 1 / items;
      if (policy === 'bts') {
        let u = random();
        item = 0;
        while (u > bts[item] && item < items - 1) {
          u -= bts[item];
          item++;
        }
        p = bts[item];
      }
      lines.push(`${k},2019-11-24,${item},${pos},${random() < ctr(item, pos) ? 1 : 0},${p}`);
    }
    writeFileSync(join(dir, policy, 'men.csv'), `${lines.join('\n')}\n`);
  }
}

describe('npm run ope (fixture)', () => {
  it('prints the JSON summary last with IPW, SNIPW and DR for both directions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-obd-'));
    writeLogs(dir);
    const out = execFileSync('npx', ['tsx', '--conditions=source', 'models/src/ope-cli.ts', '--obd', dir, '--campaign', 'men', '--json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const res = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(res.campaign).toBe('men');
    expect(Object.keys(res.estimates).sort()).toEqual(['bts', 'random']);
    // Uniform policy's true CTR on this fixture: mean over items and positions.
    const truth = [0, 1, 2, 3, 4, 5].reduce((s, i) => s + [1, 2, 3].reduce((t, p) => t + 0.05 + 0.03 * i - 0.01 * p, 0) / 3, 0) / 6;
    for (const k of ['ipw', 'snipw', 'dr']) {
      const e = res.estimates.random[k];
      expect(e.ci[0] <= truth && truth <= e.ci[1], k).toBe(true);
    }
  });

  it('names a missing file', () => {
    let stderr = '';
    try {
      execFileSync('npx', ['tsx', '--conditions=source', 'models/src/ope-cli.ts', '--obd', '/nonexistent'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      stderr = String((e as { stderr?: string }).stderr);
    }
    expect(stderr).toMatch(/ope: \/nonexistent\/random\/men\.csv not found/);
  });
});
