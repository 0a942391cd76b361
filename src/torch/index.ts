// tunevlseg's tensor engine: libtorch through a Node-API addon, with a PyTorch-like API.
export * from './tensor.js';
export * from './dtype.js';
export {
  tidy,
  keep,
  noGrad,
  enableGrad,
  isGradEnabled,
  dispose,
  memoryStats,
  liveTensors,
  resetPeakMemory,
  type MemoryStats,
} from './scope.js';
export * as F from './functional.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export { loadSafetensors, saveSafetensors, rawToTensor, tensorToRaw } from './io.js';
export { SafetensorsError } from './safetensors.js';
export { runtimeInfo, setNumThreads, getNumThreads, synchronize, type RuntimeInfo } from './runtime.js';
export { gradcheck, type GradcheckResult } from './gradcheck.js';
export { startOpProfile, takeOpProfile, stopOpProfile, type OpProfile, type OpProfileRow } from './profiler.js';
export { readTorchSaveZip, isTorchSaveZip, type PickledCheckpoint } from './torch-pickle.js';
export {
  autocast,
  autocastState,
  autocastDeviceOf,
  cudaFlags,
  setCudaFlags,
  applyTf32,
  cudaMemory,
  cudaResetPeakMemory,
  cudaEmptyCache,
  cudaAllocatorBuilt,
  cudaIndexOf,
  processPeakRss,
  type AutocastDevice,
  type AutocastDtype,
  type CudaFlags,
  type Tf32Mode,
  type CudaMemory,
} from './amp.js';
