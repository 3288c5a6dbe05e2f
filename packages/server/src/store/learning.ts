/** Owns the SQL of the residual head's state: the seed's update prior and each published round's noised sums. */
import type { UpdatePrior } from '@vitrine/core/privacy';
import { float32sOf } from '@vitrine/core/bytes';
import { fromJson, type Queryable } from './db';

export async function insertUpdatePrior(tx: Queryable, prior: UpdatePrior): Promise<void> {
  const { fisher, ...params } = prior;
  await tx.query('insert into update_priors (model, params, fisher) values ($1, $2, $3) on conflict (model) do nothing', [
    prior.model,
    JSON.stringify(params),
    new Uint8Array(Float32Array.from(fisher).buffer),
  ]);
}

export async function selectUpdatePrior(db: Queryable, model: string): Promise<UpdatePrior | null> {
  const [row] = await db.query<{ params: Omit<UpdatePrior, 'fisher'> | string; fisher: Uint8Array }>(
    'select params, fisher from update_priors where model = $1',
    [model],
  );
  if (!row) return null;
  return { ...fromJson(row.params), fisher: Float64Array.from(float32sOf(new Uint8Array(row.fisher))) };
}

/** A published round's noised sums, and the model (head θ) the devices computed them at. */
export interface RoundStatistics {
  round: number;
  base: string;
  model: string;
  gradient: number[];
  curvature: number[];
  sigmaGradient: number;
  sigmaCurvature: number;
}

export async function insertRoundStatistics(tx: Queryable, s: RoundStatistics): Promise<void> {
  await tx.query(
    `insert into round_statistics (round, base, model, gradient, curvature, sigma_gradient, sigma_curvature)
     values ($1, $2, $3, $4, $5, $6, $7)`,
    [s.round, s.base, s.model, JSON.stringify(s.gradient), JSON.stringify(s.curvature), s.sigmaGradient, s.sigmaCurvature],
  );
}

/** The newest `limit` rounds' statistics for heads on `base`, oldest first. */
export async function selectRoundStatistics(db: Queryable, base: string, limit: number): Promise<RoundStatistics[]> {
  const rows = await db.query<{
    round: number;
    base: string;
    model: string;
    gradient: number[] | string;
    curvature: number[] | string;
    sigma_gradient: number;
    sigma_curvature: number;
  }>('select * from round_statistics where base = $1 order by round desc limit $2', [base, limit]);
  return rows.reverse().map((r) => ({
    round: Number(r.round),
    base: r.base,
    model: r.model,
    gradient: fromJson(r.gradient),
    curvature: fromJson(r.curvature),
    sigmaGradient: Number(r.sigma_gradient),
    sigmaCurvature: Number(r.sigma_curvature),
  }));
}

/** A server secret (e.g. the network-key HMAC key), created on first use and kept across restarts. */
export async function serverSecret(db: Queryable, name: string, create: () => string): Promise<string> {
  await db.query('insert into server_secrets (name, value) values ($1, $2) on conflict (name) do nothing', [name, create()]);
  const [row] = await db.query<{ value: string }>('select value from server_secrets where name = $1', [name]);
  return row.value;
}
