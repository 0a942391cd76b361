// What libtorch this process runs on (for `tunevlseg doctor` and benchmark headers).
import { N, addonPath } from './native.js';

export interface RuntimeInfo {
  libtorchVersion: string;
  threads: number;
  blas: string;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  cxx11Abi: boolean;
  addonPath: string;
  parallelInfo: string;
  buildConfig: string;
}

export function runtimeInfo(): RuntimeInfo {
  const c = N.config() as {
    version: string;
    threads: number;
    parallelInfo: string;
    buildConfig: string;
    cudaAvailable: boolean;
    cudaDeviceCount: number;
    cxx11Abi: boolean;
  };
  const blas = /BLAS_INFO=([^,\s]+)/.exec(c.buildConfig)?.[1] ?? 'unknown';
  return {
    libtorchVersion: c.version,
    threads: c.threads,
    blas,
    cudaAvailable: c.cudaAvailable,
    cudaDeviceCount: c.cudaDeviceCount,
    cxx11Abi: c.cxx11Abi,
    addonPath,
    parallelInfo: c.parallelInfo,
    buildConfig: c.buildConfig,
  };
}

export function setNumThreads(n: number): void {
  N.setNumThreads(n);
}
export function getNumThreads(): number {
  return N.getNumThreads() as number;
}

/** Waits for queued CUDA work (no-op without CUDA); needed before reading GPU timings. */
export function synchronize(deviceIndex?: number): void {
  N.synchronize(deviceIndex ?? null);
}
