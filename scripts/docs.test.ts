import { describe, expect, it } from 'vitest';
import { Application, DeclarationReflection, ReflectionKind, type ProjectReflection } from 'typedoc';

/** `npm run docs` (typedoc.json): the API reference of the SDK and both bindings converts, and names what shops call. */
describe('API reference (npm run docs)', () => {
  it('documents the SDK, @vitrine/react and @vitrine/vue entry points', { timeout: 120_000 }, async () => {
    const app = await Application.bootstrapWithPlugins({ options: 'typedoc.json', logLevel: 'Error' });
    const project = (await app.convert()) as ProjectReflection | undefined;
    expect(project, 'typedoc could not convert the entry points').toBeDefined();
    const modules = Object.fromEntries(
      project!.getChildrenByKind(ReflectionKind.Module).map((m) => [m.name, new Set((m.children ?? []).map((c) => c.name))]),
    );
    expect(Object.keys(modules).sort()).toEqual(['@vitrine/react', '@vitrine/sdk', '@vitrine/vue']);
    for (const name of ['createVitrine', 'VitrineError', 'Vitrine', 'Decision', 'Explanation', 'Consent']) {
      expect(modules['@vitrine/sdk'].has(name), `@vitrine/sdk ${name}`).toBe(true);
    }
    for (const name of ['VitrineProvider', 'useVitrine', 'useRanking']) expect(modules['@vitrine/react'].has(name), name).toBe(true);
    for (const name of ['useVitrine', 'useRanking']) expect(modules['@vitrine/vue'].has(name), name).toBe(true);
    // Undocumented exports are a bug in the reference: every function a shop calls says what it does.
    const undocumented = Object.values(project!.reflections)
      .filter((r): r is DeclarationReflection => r instanceof DeclarationReflection && r.kindOf(ReflectionKind.Function))
      .filter((r) => r.parent?.kindOf(ReflectionKind.Module) && !(r.comment ?? r.signatures?.some((s) => s.comment)))
      .map((r) => `${r.parent!.name}.${r.name}`);
    expect(undocumented).toEqual([]);
  });
});
