// Single-file components for TypeScript (tsc checks the .ts files; Vite compiles the .vue ones).
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}
