// Lazily loaded chunk: the plain-JS CPU backend with only the kernel the MLP needs.
import { registerKernel } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu/dist/base';
import { _fusedMatMulConfig } from '@tensorflow/tfjs-backend-cpu/dist/kernels/_FusedMatMul';

registerKernel(_fusedMatMulConfig);
export function configure(): void {}
