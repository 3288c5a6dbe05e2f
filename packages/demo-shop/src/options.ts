import type { BackendOption, Consent, FeatureRecord, VitrineOptions } from '@vitrine/sdk';

/** Set by the dev server (VITRINE_QA_LOOP=1, from `npm run start:qa-loop` and the e2e config). */
declare const __VITRINE_QA_LOOP__: boolean;
/** The server's model signing public key (VITRINE_MODEL_KEY, set by `npm start`): only models it signed are used. */
declare const __VITRINE_MODEL_KEY__: string;

/**
 * The client's options. A new object makes the provider create a new client (backend switch);
 * consent and the shopper's attributes change on the live client (setConsent, setUser).
 */
export function vitrineOptions(backend: BackendOption, consent: Consent, user: FeatureRecord): VitrineOptions {
  return {
    // The Vitrine server (proxied by the dev server at /v1) publishes the current model version.
    model: '/v1/models/current',
    endpoint: '/v1',
    consent,
    backend,
    user,
    // The SDK is imported as a module (vite serves its built dist); its wasm binaries are served at
    // /sdk/ beside the script-tag build (vite.config.ts), like a shop's CDN.
    wasmPaths: '/sdk/',
    // `npm run start:qa-loop` runs a server with QA privacy (one network per round, a huge
    // epsilon); devices refuse such parameters unless the shop loosens its floors, as here.
    ...(__VITRINE_QA_LOOP__ ? { privacyFloors: { maxEpsilon: Infinity, minCohort: 1, minKThreshold: 1 } } : {}),
    ...(__VITRINE_MODEL_KEY__ ? { modelKey: __VITRINE_MODEL_KEY__ } : {}),
  };
}

/** The QA panel's ranking budget choices: the package default, or waiting for the model (QA only). */
export const BUDGETS: { label: string; ms: number | undefined }[] = [
  { label: 'Package default (150 ms)', ms: undefined },
  { label: '1 s', ms: 1000 },
  { label: 'Wait for the model (QA)', ms: 60_000 },
];
