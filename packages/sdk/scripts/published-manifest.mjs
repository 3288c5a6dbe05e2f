// The package.json that ships differs from the one in this repository in one way that matters:
// inside the monorepo, `source` export conditions point at src/ (TypeScript, never published) and
// `./internals` exists only for this repository's Node tools. A shop whose own tooling enables a
// `source` condition (a common monorepo convention) would resolve @vitrine/sdk to a missing file,
// so the published manifest drops them. npm has no `publishConfig.exports`, and it packs the
// package.json that is on disk, so `prepack` writes the published manifest and `postpack` puts the
// repository's back (the original waits in node_modules/.cache, which npm never packs; an
// interrupted pack is repaired by the next one, or by `node scripts/published-manifest.mjs restore`;
// edits made after an interrupted pack are never undone by its stale backup). Two packs of this
// package at the same moment are not supported: pack one at a time.
//
//   node scripts/published-manifest.mjs write | restore | print
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = join(root, 'package.json');
const backup = join(root, 'node_modules', '.cache', 'vitrine-sdk-pack', 'package.json');

/** The published form of a manifest: no `source` conditions, no entry left without a target. */
function publishedManifest(pkg) {
  const out = structuredClone(pkg);
  const exportsOut = {};
  for (const [subpath, target] of Object.entries(out.exports ?? {})) {
    if (typeof target === 'string') {
      exportsOut[subpath] = target;
      continue;
    }
    const conditions = Object.fromEntries(Object.entries(target).filter(([c]) => c !== 'source'));
    if (Object.keys(conditions).length > 0) exportsOut[subpath] = conditions;
  }
  out.exports = exportsOut;
  // Build and repository tooling: nothing a consumer installs or runs.
  delete out.scripts;
  delete out.devDependencies;
  return out;
}

/** Whether a manifest is the repository's (the published form has no `scripts`). */
const isRepositoryForm = (text) => 'scripts' in JSON.parse(text);
/**
 * The repository's manifest: the file on disk whenever it is in the repository's form (it may have
 * been edited since an interrupted pack, and a stale backup must never undo that); the backup only
 * when the disk holds a published form an interrupted pack left behind.
 */
const original = () => {
  const current = readFileSync(manifest, 'utf8');
  return isRepositoryForm(current) || !existsSync(backup) ? current : readFileSync(backup, 'utf8');
};
const command = process.argv[2];
if (command === 'write') {
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    console.error('@vitrine/sdk: dist/ is not built: run `npm run build` at the repository root first');
    process.exit(1);
  }
  const text = original();
  mkdirSync(dirname(backup), { recursive: true });
  writeFileSync(backup, text);
  writeFileSync(manifest, `${JSON.stringify(publishedManifest(JSON.parse(text)), null, 2)}\n`);
} else if (command === 'restore') {
  if (existsSync(backup)) {
    // Only a published form is replaced: a repository form on disk is newer than any backup.
    if (!isRepositoryForm(readFileSync(manifest, 'utf8'))) writeFileSync(manifest, readFileSync(backup, 'utf8'));
    rmSync(backup);
  }
} else if (command === 'print') {
  process.stdout.write(`${JSON.stringify(publishedManifest(JSON.parse(original())), null, 2)}\n`);
} else if (command !== undefined) {
  console.error(`unknown command ${command}: write | restore | print`);
  process.exit(1);
}
