// Bundled from package.json at build time (@rollup/plugin-json keeps only this field).
export { version } from '../package.json';
