// Lazily loaded chunk: the WASM backend with only the kernel the MLP needs.
import { registerKernel } from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm/dist/base';
import { _fusedMatMulConfig } from '@tensorflow/tfjs-backend-wasm/dist/kernels/_FusedMatMul';

registerKernel(_fusedMatMulConfig);

/** Points the backend at its .wasm binaries (shipped beside the SDK's files by default). */
export function configure(wasmPaths: string | undefined): void {
  if (wasmPaths) setWasmPaths(wasmPaths.endsWith('/') ? wasmPaths : `${wasmPaths}/`);
  // In Node the backend finds its binaries in its own package directory.
  else if (typeof window !== 'undefined') setWasmPaths(new URL('./', import.meta.url).href);
}
