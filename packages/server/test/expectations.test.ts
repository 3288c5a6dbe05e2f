// GET /v1/privacy tells a shop what it can expect at its size: the simulation's share of the
// central gain at its observed contributors per window, interpolated in log(contributors).
import { describe, expect, it } from 'vitest';
import { expectations } from '../src/http/privacy';

const curve = {
  source: 'npm run simulate (test curve)',
  epsilon: 8,
  curve: [
    { contributors: 300, share: 0.3 },
    { contributors: 3000, share: 0.85 },
    { contributors: 30000, share: 0.9 },
  ],
};

describe('expectations', () => {
  it('interpolates the simulated share in log(contributors), 0 below the smallest population', () => {
    expect(expectations(curve, 0).shareOfCentralGain).toBe(0);
    expect(expectations(curve, 100).shareOfCentralGain).toBe(0);
    expect(expectations(curve, 300).shareOfCentralGain).toBeCloseTo(0.3, 12);
    expect(expectations(curve, Math.sqrt(300 * 3000)).shareOfCentralGain).toBeCloseTo(0.575, 12);
    expect(expectations(curve, 3000).shareOfCentralGain).toBeCloseTo(0.85, 12);
    expect(expectations(curve, 1e6).shareOfCentralGain).toBe(0.9);
    expect(expectations(curve, 1000)).toMatchObject({ contributorsPerWindow: 1000, source: curve.source });
  });
});
