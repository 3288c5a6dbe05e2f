/** One Cache API bucket for model files and the remembered backend race (nothing personal). */
export const MODEL_CACHE = 'vitrine-models-v1';
