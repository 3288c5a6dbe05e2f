/** Owns the noise source of a round: crypto-random standard normals (seedable in tests and simulations). */
export { gaussian } from '@vitrine/core/privacy';
