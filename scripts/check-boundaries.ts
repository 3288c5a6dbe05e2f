/**
 * Workspace boundary check (part of `npm run lint`). Fails on:
 *
 *  1. a relative import (static `import`/`export … from`, `import()`, `import('…')` types,
 *     `require`/`require.resolve`/`createRequire(…).resolve`, `vi.mock` and friends) whose target
 *     lies in a different workspace than the importing file. Files outside every workspace
 *     (scripts/, e2e/, root config files) belong to the root workspace, which must import packages
 *     by name too;
 *  2. an import of a workspace package by name (or of any name in a workspace scope, such as
 *     `@vitrine/…`, subpaths included) that the importing workspace's package.json does not declare
 *     in dependencies or devDependencies (the root workspace: the root package.json);
 *  3. a cycle in the graph of workspace dependencies declared in the package.json files
 *     (dependencies + devDependencies).
 *
 * Prints the package graph and each violation as file:line. Usage: `tsx scripts/check-boundaries.ts [root]`.
 * Imports are read from the syntax tree (TypeScript's parser), so comments and strings never count.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

export interface Workspace {
  name: string;
  /** Directory relative to the root, '' for the root workspace. */
  dir: string;
  /** Declared dependencies (dependencies + devDependencies) on other workspaces, with their kind. */
  deps: { name: string; dev: boolean; line: number }[];
  /** Every name declared in dependencies or devDependencies. */
  declared: Set<string>;
}

export interface Violation {
  kind: 'relative' | 'undeclared' | 'cycle';
  file: string;
  line: number;
  message: string;
}

export interface Report {
  workspaces: Workspace[];
  violations: Violation[];
  filesChecked: number;
}

const SOURCE_EXTENSIONS = /\.(?:[cm]?[jt]sx?|vue)$/;
/** Never walked: dependencies, build output, test output; hidden directories (.git, .vitrine*, .ci) too. */
const SKIP_DIRS = new Set(['node_modules', 'dist', 'test-results', 'playwright-report', 'coverage']);
/** `vi.<method>(specifier, …)` calls that name a module. */
const VI_MODULE_METHODS = new Set(['mock', 'doMock', 'unmock', 'doUnmock', 'importActual', 'importMock']);

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** The workspace directories the root package.json lists (exact paths or `dir/*`). */
function workspaceDirs(root: string, patterns: string[]): string[] {
  const dirs: string[] = [];
  for (const pattern of patterns) {
    const clean = pattern.replace(/\/+$/, '');
    if (clean.endsWith('/*')) {
      const parent = clean.slice(0, -2);
      if (!existsSync(join(root, parent))) continue;
      for (const entry of readdirSync(join(root, parent)).sort()) {
        if (existsSync(join(root, parent, entry, 'package.json'))) dirs.push(`${parent}/${entry}`);
      }
    } else if (clean.includes('*')) {
      throw new Error(`unsupported workspace pattern ${pattern} (only exact paths and dir/*)`);
    } else if (existsSync(join(root, clean, 'package.json'))) {
      dirs.push(clean);
    }
  }
  return dirs;
}

function lineOfKey(text: string, key: string): number {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.includes(`"${key}"`) && /"\s*:/.test(l));
  return i + 1;
}

export function loadWorkspaces(root: string): Workspace[] {
  const rootPkg = readJson(join(root, 'package.json'));
  const patterns = Array.isArray(rootPkg.workspaces)
    ? (rootPkg.workspaces as string[])
    : (((rootPkg.workspaces as { packages?: string[] } | undefined)?.packages ?? []) as string[]);
  const raw = [
    { dir: '', pkg: rootPkg },
    ...workspaceDirs(root, patterns).map((dir) => ({ dir, pkg: readJson(join(root, dir, 'package.json')) })),
  ];
  const names = new Set(raw.map((w) => String(w.pkg.name)));
  return raw.map(({ dir, pkg }) => {
    const text = readFileSync(join(root, dir, 'package.json'), 'utf8');
    const runtime = Object.keys((pkg.dependencies as object | undefined) ?? {});
    const dev = Object.keys((pkg.devDependencies as object | undefined) ?? {});
    const deps = [
      ...runtime.filter((n) => names.has(n)).map((name) => ({ name, dev: false, line: lineOfKey(text, name) })),
      ...dev.filter((n) => names.has(n) && !runtime.includes(n)).map((name) => ({ name, dev: true, line: lineOfKey(text, name) })),
    ];
    return { name: String(pkg.name ?? (dir || 'root')), dir, deps, declared: new Set([...runtime, ...dev]) };
  });
}

/** The workspace a path (relative to the root, '/'-separated) belongs to: the deepest one containing it. */
function ownerOf(workspaces: Workspace[], rel: string): Workspace {
  let best = workspaces.find((w) => w.dir === '')!;
  for (const w of workspaces) {
    if (w.dir && (rel === w.dir || rel.startsWith(`${w.dir}/`)) && w.dir.length > best.dir.length) best = w;
  }
  return best;
}

function walk(root: string, dir = root, out: string[] = []): string[] {
  for (const entry of readdirSync(dir).sort()) {
    if (entry.startsWith('.') || SKIP_DIRS.has(entry)) continue;
    const full = join(dir, entry);
    const st = statSync(full);
    if (st.isDirectory()) walk(root, full, out);
    else if (SOURCE_EXTENSIONS.test(entry)) out.push(full);
  }
  return out;
}

const blank = (s: string) => s.replace(/[^\n]/g, ' ');

/** A .vue file's <script> blocks, everything else blanked out so that line numbers stay right. */
function vueScripts(source: string): string {
  let out = '';
  let pos = 0;
  for (const m of source.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)) {
    const bodyStart = m.index + m[0].indexOf('>') + 1;
    out += blank(source.slice(pos, bodyStart)) + m[1];
    pos = bodyStart + m[1].length;
  }
  return out + blank(source.slice(pos));
}

/** The module specifiers a source file names, with their 1-based lines. */
export function findSpecifiers(fileName: string, source: string): { specifier: string; line: number }[] {
  if (fileName.endsWith('.vue')) source = vueScripts(source);
  const kind = /\.[cm]?tsx$|\.jsx$/.test(fileName) ? ts.ScriptKind.TSX : fileName.endsWith('.vue') ? ts.ScriptKind.TS : undefined;
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, kind);
  const found: { specifier: string; line: number }[] = [];
  const add = (node: ts.Node | undefined) => {
    if (node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node))) {
      found.push({ specifier: node.text, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 });
    }
  };
  const isRequire = (e: ts.Expression) =>
    (ts.isIdentifier(e) && e.text === 'require') ||
    (ts.isCallExpression(e) && ts.isIdentifier(e.expression) && e.expression.text === 'createRequire');
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const first = node.arguments[0];
      if (callee.kind === ts.SyntaxKind.ImportKeyword)
        add(first); // import('x')
      else if (isRequire(callee))
        add(first); // require('x'), createRequire(url)('x')
      else if (ts.isPropertyAccessExpression(callee)) {
        const target = callee.expression;
        const method = callee.name.text;
        if (method === 'resolve' && isRequire(target))
          add(first); // require.resolve('x'), createRequire(url).resolve('x')
        else if (method === 'resolve' && ts.isMetaProperty(target))
          add(first); // import.meta.resolve('x')
        else if (ts.isIdentifier(target) && target.text === 'vi' && VI_MODULE_METHODS.has(method)) add(first);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** `@scope/name/sub/path` -> `@scope/name`; `name/sub` -> `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Elementary cycles are many; one cycle per strongly connected component is enough to report. */
function findCycles(workspaces: Workspace[]): string[][] {
  const byName = new Map(workspaces.map((w) => [w.name, w]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  const strongConnect = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const { name: w } of byName.get(v)!.deps) {
      if (!index.has(w)) {
        strongConnect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfLoop = byName.get(v)!.deps.some((d) => d.name === v);
      if (component.length > 1 || selfLoop) components.push(component);
    }
  };
  for (const w of workspaces) if (!index.has(w.name)) strongConnect(w.name);
  // Within each component, a concrete cycle: breadth-first from its first member back to itself.
  return components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort()[0];
    const prev = new Map<string, string>();
    const queue = [start];
    while (queue.length) {
      const v = queue.shift()!;
      for (const { name: w } of byName.get(v)!.deps) {
        if (!members.has(w)) continue;
        if (w === start) {
          const path = [v];
          while (path[0] !== start) path.unshift(prev.get(path[0])!);
          return [...path, start];
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    return [...component, component[0]];
  });
}

export function checkBoundaries(root: string): Report {
  root = resolve(root);
  const workspaces = loadWorkspaces(root);
  const byName = new Map(workspaces.map((w) => [w.name, w]));
  const scopes = new Set(workspaces.filter((w) => w.dir && w.name.startsWith('@')).map((w) => w.name.split('/')[0]));
  const violations: Violation[] = [];
  const toRel = (p: string) => relative(root, p).split(sep).join('/');
  const label = (w: Workspace) => (w.dir ? `${w.name} (${w.dir})` : `the root workspace (${w.name})`);

  const files = walk(root);
  for (const file of files) {
    const rel = toRel(file);
    const owner = ownerOf(workspaces, rel);
    for (const { specifier, line } of findSpecifiers(file, readFileSync(file, 'utf8'))) {
      if (specifier.startsWith('./') || specifier.startsWith('../') || specifier === '.' || specifier === '..') {
        const targetRel = toRel(resolve(dirname(file), specifier));
        if (targetRel.startsWith('../')) {
          violations.push({ kind: 'relative', file: rel, line, message: `relative import '${specifier}' leaves the repository` });
          continue;
        }
        const target = ownerOf(workspaces, targetRel);
        if (target !== owner) {
          const how = target.dir ? `import it as '${target.name}…' and declare the dependency` : 'move the shared code into a package';
          violations.push({
            kind: 'relative',
            file: rel,
            line,
            message: `relative import '${specifier}' reaches from ${label(owner)} into ${label(target)}: ${how}`,
          });
        }
        continue;
      }
      const name = packageName(specifier);
      const isWorkspaceName = byName.has(name) || (name.startsWith('@') && scopes.has(name.split('/')[0]));
      if (!isWorkspaceName || name === owner.name || owner.declared.has(name)) continue;
      const where = owner.dir ? `${owner.dir}/package.json` : 'package.json';
      violations.push({
        kind: 'undeclared',
        file: rel,
        line,
        message: byName.has(name)
          ? `imports '${specifier}' but ${where} does not declare ${name} (dependencies or devDependencies)`
          : `imports '${specifier}': no workspace is named ${name}, and ${where} does not declare it`,
      });
    }
  }

  for (const cycle of findCycles(workspaces)) {
    const from = byName.get(cycle[0])!;
    const dep = from.deps.find((d) => d.name === cycle[1])!;
    violations.push({
      kind: 'cycle',
      file: from.dir ? `${from.dir}/package.json` : 'package.json',
      line: dep.line,
      message: `workspace dependency cycle: ${cycle.join(' -> ')}`,
    });
  }
  return { workspaces, violations, filesChecked: files.length };
}

export function formatReport(report: Report): string {
  const lines = ['Workspace graph (dependencies; [dev] = devDependencies only):'];
  const width = Math.max(...report.workspaces.map((w) => (w.dir ? `${w.name} (${w.dir})` : `${w.name} (root)`).length));
  for (const w of report.workspaces) {
    const head = (w.dir ? `${w.name} (${w.dir})` : `${w.name} (root)`).padEnd(width);
    const deps = w.deps.map((d) => (d.dev ? `[dev] ${d.name}` : d.name)).join(', ') || '(none)';
    lines.push(`  ${head} -> ${deps}`);
  }
  lines.push('');
  const kinds = { relative: 'cross-workspace relative import', undeclared: 'undeclared workspace import', cycle: 'dependency cycle' };
  for (const v of report.violations) lines.push(`${v.file}:${v.line}: ${kinds[v.kind]}: ${v.message}`);
  const n = report.violations.length;
  lines.push(
    n
      ? `${n} boundary violation${n === 1 ? '' : 's'} in ${report.filesChecked} files checked`
      : `Boundaries OK: ${report.filesChecked} files checked, no cross-workspace relative imports, undeclared imports or cycles`,
  );
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const report = checkBoundaries(process.argv[2] ?? process.cwd());
  console.log(formatReport(report));
  process.exitCode = report.violations.length ? 1 : 0;
}
