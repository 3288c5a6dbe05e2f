/**
 * The loop against one bad client (one address, at most 600 requests in a window, under the
 * rate limit): it can move a published model no more than one honest contributor can, cannot get
 * a shadow promoted or rejected, cannot inflate the noise with far-off time buckets, cannot
 * store absurd updates, and cannot overwrite a batch by reusing its id.
 */
import { describe, expect, it } from 'vitest';
import { headLayout, unfoldHead, type HeadLayout } from '@vitrine/core/privacy';
import { seededRandom } from '@vitrine/core/random';
import { createServer, type VitrineServer } from '../src/http/server';
import { openDb } from '../src/store/db';
import { masterWeights, toMlp } from '../src/registry/weights';
import { SEED_PRIOR, deviceUpdate, honestAddress, postFrom, signalBatch as batch, signalEvent as event, testConfig } from './helpers';

const D = SEED_PRIOR.dimension;
const ATTACKER = '203.0.113.66';
const noiseless = () =>
  testConfig({ privacy: { ...testConfig().privacy, noise: 'none', minCohort: 10 }, rateLimit: { max: 600, windowMs: 60_000 } });

/** θ of the shadow a round published (exact: from the float32 master). */
async function shadowTheta(server: VitrineServer): Promise<Float64Array> {
  const shadow = server.registry.getShadow()!;
  const base = (await server.registry.get(server.registry.baseOf(shadow)))!;
  const layout = headLayout(shadow.manifest) as HeadLayout;
  return unfoldHead(toMlp(base, masterWeights(base)), toMlp(shadow, masterWeights(shadow)), layout);
}

const distance = (a: Float64Array, b: Float64Array) => Math.sqrt(a.reduce((s, x, j) => s + (x - b[j]) ** 2, 0));

/** 30 honest devices, each from its own network, with updates in random directions. */
async function honestRound(server: VitrineServer) {
  const random = seededRandom(42);
  for (let i = 0; i < 30; i++) {
    const dir = Array.from({ length: D }, () => random() - 0.5);
    const res = await postFrom(server, batch({ update: deviceUpdate((j) => dir[j], 0.6) }), honestAddress(i));
    expect(res.statusCode).toBe(202);
  }
}

describe('one bad client', () => {
  it('moves the published model no more than one honest contributor can, with up to 600 requests', async () => {
    // Reference: the honest cohort alone, and with one more honest device sending the strongest
    // update an honest device can (clip norm, in the direction that reverses the output bias).
    const reverse = (j: number) => (j === D - 1 ? -1 : 0);
    const thetas: Float64Array[] = [];
    for (const extra of ['none', 'one-honest', 'attacker'] as const) {
      const server = await createServer(noiseless(), await openDb({}));
      await honestRound(server);
      if (extra === 'one-honest') {
        expect((await postFrom(server, batch({ update: deviceUpdate(reverse, 1) }), '192.0.2.10')).statusCode).toBe(202);
      }
      if (extra === 'attacker') {
        const codes = new Map<number, number>();
        for (let k = 0; k < 600; k++) {
          // Crafted updates: the clip norm exactly, absurd norms, and norms just above the clip.
          const update =
            k % 3 === 0
              ? deviceUpdate(reverse, 1)
              : k % 3 === 1
                ? { ...deviceUpdate(reverse, 1), g: Array.from({ length: D }, (_, j) => (j === D - 1 ? -1e301 : 0)) }
                : {
                    ...deviceUpdate(reverse, 1),
                    g: Array.from({ length: D }, (_, j) => (j === D - 1 ? -1.01 * SEED_PRIOR.clipGradient : 0)),
                  };
          const res = await postFrom(server, batch({ update }), ATTACKER);
          codes.set(res.statusCode, (codes.get(res.statusCode) ?? 0) + 1);
        }
        expect(codes.get(202)).toBe(200); // only the ones at the clip norm are stored
        expect(codes.get(400)).toBe(400); // absurd and over-clip norms are refused at ingest
      }
      const round = await server.aggregate();
      expect(round.status).toBe('published-shadow');
      expect(round.cohort).toBe(extra === 'none' ? 30 : 31); // the attacker's 200 stored updates are one network
      thetas.push(await shadowTheta(server));
      await server.close();
    }
    const [honest, oneHonest, attacked] = thetas;
    const honestInfluence = distance(oneHonest, honest);
    const attackerInfluence = distance(attacked, honest);
    expect(honestInfluence).toBeGreaterThan(0);
    expect(attackerInfluence).toBeLessThanOrEqual(honestInfluence * (1 + 1e-3));
  }, 120_000);

  it('cannot get a shadow promoted (q = p) or rejected (q = 0) with forged evidence', async () => {
    for (const forged of ['promote', 'reject'] as const) {
      const server = await createServer(
        testConfig({
          privacy: { ...noiseless().privacy },
          promotion: { minEvents: 20, margin: 0.01, minNetworks: 20 },
          rateLimit: { max: 600, windowMs: 60_000 },
        }),
        await openDb({}),
      );
      await honestRound(server);
      const shadow = (await server.aggregate()).candidate!;
      const model = server.registry.getCurrent()!.version;
      // Honest evidence from 20 networks that settles nothing: for half the shoppers the shadow
      // would rather not have shown what they took (q = p / 4), for the other half it would
      // rather have (q = 1.75 p).
      for (let i = 0; i < 20; i++) {
        const [p, q] = i % 2 ? [0.9, 0.225] : [0.45, 0.7875];
        const events = [event({ p, q, r: 1 }), event({ p, q, r: 0, s: 1 })];
        expect((await postFrom(server, batch({ model, shadow, events }), honestAddress(100 + i))).statusCode).toBe(202);
      }
      const before = await server.aggregate();
      expect(before.promotion?.decision).toBe('kept-shadow');
      // 600 forged batches from one address, 32 events each.
      for (let k = 0; k < 600; k++) {
        const events = Array.from({ length: 32 }, (_, s) =>
          forged === 'promote' ? event({ p: 1e-6, q: 1, r: 1, s: s % 8 }) : event({ p: 0.9, q: 0, r: 1, s: s % 8 }),
        );
        await postFrom(server, batch({ model, shadow: server.registry.getShadow()!.version, events }), ATTACKER);
      }
      const after = await server.aggregate();
      expect(after.promotion?.decision, forged).toBe('kept-shadow');
      expect(after.promotion?.networks).toBe(21);
      expect(server.registry.getCurrent()!.version).toBe(model);
      await server.close();
    }
  }, 120_000);

  it('cannot inflate the noise with time buckets far from now: refused, and the noise uses receive times', async () => {
    const server = await createServer(testConfig({ privacy: { ...testConfig().privacy, minCohort: 10 } }), await openDb({}));
    const year2999 = Math.floor(Date.UTC(2999, 0, 1) / 3_600_000 / 6) * 6;
    for (let k = 0; k < 110; k++) {
      const res = await postFrom(
        server,
        batch({ events: [event({ t: year2999 - 6 * (k % 11) * 4 })], update: deviceUpdate(() => 1) }),
        ATTACKER,
      );
      expect(res.statusCode).toBe(400);
      expect(res.json().field).toBe('events.0.t');
    }
    await honestRound(server);
    const round = await server.aggregate();
    expect(round.contributionsPerDevice).toBe(1);
    expect(round.sigmaGradient).toBeCloseTo(
      (await server.app.inject({ url: '/v1/privacy' })).json().update.noiseMultiplierGradient * SEED_PRIOR.clipGradient,
      9,
    );
    await server.close();
  });

  it('cannot replace a stored batch by reusing its id with other content (409), while a true resend stays a duplicate', async () => {
    const server = await createServer(testConfig(), await openDb({}));
    const original = batch({ events: [event({ r: 0 }), event({ a: 'bar-2h', r: 1, s: 1 })] });
    expect((await postFrom(server, original, honestAddress(1))).statusCode).toBe(202);
    const resend = await postFrom(server, original, honestAddress(1));
    expect(resend.json()).toMatchObject({ duplicate: true });
    const forged = await postFrom(server, { ...original, events: [event({ r: 1 })] }, ATTACKER);
    expect(forged.statusCode).toBe(409);
    expect(forged.json().field).toBe('id');
    // Two different bodies with one id in the same group commit: one stored, the other refused.
    const id = batch().id;
    const [a, b] = await Promise.all([
      postFrom(server, batch({ id, events: [event({ r: 1 })] }), honestAddress(2)),
      postFrom(server, batch({ id, events: [event({ r: 0 })] }), ATTACKER),
    ]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([202, 409]);
    const stats = (await server.app.inject({ url: '/v1/stats' })).json();
    expect(stats.signals.batches).toBe(2);
    await server.close();
  });
});
