// Registers the WebGPU backend and the single kernel the MLP needs (static: part of the initial bundle).
import { registerKernel } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu/dist/base';
import { _fusedMatMulConfig } from '@tensorflow/tfjs-backend-webgpu/dist/kernels/_FusedMatMul';

registerKernel(_fusedMatMulConfig);
