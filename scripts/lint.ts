/**
 * `npm run lint`: every check runs (one failing does not hide the others), then a summary; the
 * exit status is non-zero if any failed. Each check is also its own script: `npm run lint:<name>`.
 */
import { spawnSync } from 'node:child_process';

const CHECKS = [
  ['format', 'Prettier (formatting; `npm run format` fixes)'],
  ['eslint', 'ESLint + typescript-eslint'],
  ['boundaries', 'workspace boundaries'],
  ['lines', 'line length of HTML/CSS/Vue files'],
] as const;

const failed: string[] = [];
for (const [name, what] of CHECKS) {
  console.log(`\n── lint:${name}: ${what}`);
  const r = spawnSync('npm', ['run', '--silent', `lint:${name}`], { stdio: 'inherit' });
  if (r.status !== 0) failed.push(`lint:${name}`);
}
console.log(failed.length ? `\nlint failed: ${failed.join(', ')}` : '\nlint: all checks passed');
process.exitCode = failed.length ? 1 : 0;
