#pragma once
// Lets one definition serve both the CPU loops and the CUDA kernels.
#if defined(__CUDACC__)
#define EMBER_HOST_DEVICE __host__ __device__
#define EMBER_INLINE __host__ __device__ __forceinline__
#else
#define EMBER_HOST_DEVICE
#define EMBER_INLINE inline __attribute__((always_inline))
#endif
