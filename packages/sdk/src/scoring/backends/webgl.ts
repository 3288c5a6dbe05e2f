// Lazily loaded chunk: the WebGL backend with only the kernel the MLP needs.
import { registerKernel } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl/dist/base';
import { _fusedMatMulConfig } from '@tensorflow/tfjs-backend-webgl/dist/kernels/_FusedMatMul';

registerKernel(_fusedMatMulConfig);
export function configure(): void {}
