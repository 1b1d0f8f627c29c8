// KILN_HD marks math shared by the CPU reference kernels and the CUDA kernels.
#pragma once
#if defined(__CUDACC__)
#define KILN_HD __host__ __device__ __forceinline__
#else
#define KILN_HD inline
#endif
