/** Owns the schema: forward-only migrations, applied once at start-up on PGlite and PostgreSQL alike. */
import type { Db } from './db';

/**
 * Forward-only migrations, the same on PGlite and PostgreSQL. On PostgreSQL an advisory lock
 * makes several servers starting at once apply them exactly once.
 */
export const MIGRATIONS: string[] = [
  `create table models (
     version text primary key,
     manifest jsonb not null,
     weights bytea not null,
     status text not null check (status in ('current', 'shadow', 'retired', 'rejected')),
     parent text references models(version),
     round_id integer,
     created_at timestamptz not null default now(),
     promoted_at timestamptz
   );
   create unique index models_one_current on models (status) where status = 'current';
   create unique index models_one_shadow on models (status) where status = 'shadow';

   create table batches (
     id text primary key,
     received_at timestamptz not null default now(),
     model text not null,
     shadow text,
     events jsonb not null,
     n_events integer not null,
     update_vec jsonb,
     round_id integer
   );
   create index batches_pending_updates on batches (model) where round_id is null and update_vec is not null;
   create index batches_shadow on batches (shadow) where shadow is not null;

   create table rounds (
     id serial primary key,
     at timestamptz not null default now(),
     model text not null,
     status text not null,
     cohort integer not null,
     candidate text,
     report jsonb not null
   );

   create table promotions (
     id serial primary key,
     at timestamptz not null default now(),
     shadow text not null,
     current text not null,
     decision text not null,
     report jsonb not null
   );

   create table counters (name text primary key, value bigint not null);
   insert into counters values ('duplicates', 0), ('rejected', 0);`,
  // Float32 master weights: what the next round starts from (the published uint8 weights are
  // rounded; rounding every round would swallow small updates).
  `alter table models add column master bytea;`,
  // The residual-head loop: the curvature vector, the sender's network key (a keyed hash of its
  // /24 or /48, never the address) and the body's hash (a reused batch id with other content is
  // refused); the seed's update prior; each published round's noised sums (DP outputs).
  `alter table batches add column curvature_vec jsonb;
   alter table batches add column network text;
   alter table batches add column body_hash text;
   create table update_priors (model text primary key, params jsonb not null, fisher bytea not null);
   create table round_statistics (
     round integer primary key,
     base text not null,
     model text not null,
     gradient jsonb not null,
     curvature jsonb not null,
     sigma_gradient double precision not null,
     sigma_curvature double precision not null
   );
   create table server_secrets (name text primary key, value text not null);`,
  // Signed publications (registry/signing.ts): every publish of a version (seed, shadow, promotion,
  // rollback, re-signing under a new key) gets the next sequence and its signed manifest, kept as
  // the exact JSON text that was signed and is served.
  `create table model_publications (
     sequence bigint primary key,
     version text not null references models(version),
     role text not null,
     manifest text not null,
     key_id text not null,
     rollback_of text,
     created_at timestamptz not null default now()
   );
   create index model_publications_version on model_publications (version, sequence);`,
  // Merchant controls (issue #12): the randomized segment report a batch carries (the policy
  // version it names and the reported index); the merchant's rules and segments, newest row in
  // force; every policy version served, with its segment list (shared by the versions that differ
  // only in pacing multipliers) and the segment ε in force, so reports can be debiased; the pacing
  // controller's state per budget. Batches by receive time: today's pacing counts, the report.
  `alter table batches add column seg_policy text;
   alter table batches add column seg_index integer;
   create index batches_received_at on batches (received_at);
   create table policies (
     id serial primary key,
     rules jsonb not null,
     segments jsonb not null,
     source text not null,
     created_at timestamptz not null default now()
   );
   create table policy_segments (key text primary key, segments jsonb not null);
   create table policy_versions (
     version text primary key,
     segments_key text not null references policy_segments(key),
     segment_epsilon double precision,
     issued_at timestamptz not null default now()
   );
   create table pacing_state (budget text primary key, state jsonb not null, updated_at timestamptz not null default now());`,
];

export async function migrate(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    if (db.kind === 'postgres') await tx.query('select pg_advisory_xact_lock(7463729)');
    await tx.query(
      'create table if not exists schema_migrations (version integer primary key, applied_at timestamptz not null default now())',
    );
    const done = new Set((await tx.query<{ version: number }>('select version from schema_migrations')).map((r) => Number(r.version)));
    for (let i = 0; i < MIGRATIONS.length; i++) {
      if (done.has(i + 1)) continue;
      for (const statement of MIGRATIONS[i]
        .split(/;\s*$/m)
        .map((s) => s.trim())
        .filter(Boolean))
        await tx.query(statement);
      await tx.query('insert into schema_migrations (version) values ($1)', [i + 1]);
    }
  });
}
