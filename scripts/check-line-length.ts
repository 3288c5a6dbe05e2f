/**
 * No source line over 140 columns in the files ESLint does not read (its `max-len` covers
 * .ts/.tsx/.js): HTML, CSS and Vue files anywhere in the repository (the demo shop, e2e pages).
 * Lines holding a URL are exempt, as with `max-len`'s ignoreUrls. Part of `npm run lint`.
 * Usage: `tsx scripts/check-line-length.ts [root]`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

export const MAX_COLUMNS = 140;
const EXTENSIONS = /\.(?:html|css|scss|vue)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'test-results', 'playwright-report', 'coverage']);
/** Generated output, by path from the root: the typedoc reference (`npm run docs`). */
const SKIP_PATHS = new Set(['docs/reference']);
const URL = /[a-z][a-z0-9+.-]*:\/\/\S/i;

export function longLines(root: string): { file: string; line: number; columns: number }[] {
  const out: { file: string; line: number; columns: number }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      if (entry.startsWith('.') || SKIP_DIRS.has(entry)) continue;
      const full = join(dir, entry);
      if (SKIP_PATHS.has(relative(root, full).split(sep).join('/'))) continue;
      if (statSync(full).isDirectory()) walk(full);
      else if (EXTENSIONS.test(entry)) {
        readFileSync(full, 'utf8')
          .split(/\r?\n/)
          .forEach((text, i) => {
            const columns = [...text.replace(/\t/g, '  ')].length;
            if (columns > MAX_COLUMNS && !URL.test(text)) {
              out.push({ file: relative(root, full).split(sep).join('/'), line: i + 1, columns });
            }
          });
      }
    }
  };
  walk(resolve(root));
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const found = longLines(process.argv[2] ?? process.cwd());
  for (const f of found) console.log(`${f.file}:${f.line}: ${f.columns} columns (max ${MAX_COLUMNS})`);
  console.log(
    found.length
      ? `${found.length} line(s) over ${MAX_COLUMNS} columns in HTML/CSS/Vue files`
      : `HTML/CSS/Vue lines OK (max ${MAX_COLUMNS} columns)`,
  );
  process.exitCode = found.length ? 1 : 0;
}
