// Indexing on the GPU: index_select/embedding and gather with their deterministic scatter-add
// backwards, and one_hot. Forwards are one thread per output element. index_select's backward sorts
// the indices once (CUB's stable radix sort) so that each element of dx finds its rows of dy by
// binary search and sums them in index order, like the CPU; gather's backward lets each element of dx
// scan the index entries that could point at it. No float atomics: results are bit-reproducible.
//
// Out-of-range index values are found on the device: the kernel writes 0 (forward) or skips the entry
// (backward) and records the first bad value in pinned host memory mapped into the device; the host
// reads that record, without synchronizing, at the next CUDA indexing call and throws.
#include <cuda_runtime.h>

#include <atomic>
#include <climits>
#include <cstring>

#include "core/cuda_check.h"
#include "core/error.h"
#include "kernels/cuda/index.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/strided_index.cuh"
#include "kernels/cuda/tree_reduce.cuh"

namespace kiln::cuda {
namespace {

// ---------------------------------------------------------------------------- the error record

enum IndexOp : int { kOpIndexSelect = 1, kOpGather = 2, kOpOneHot = 3 };

struct IndexErrorRecord {
  volatile int ready;  // set last, after the fields below are visible to the host
  volatile int op;
  volatile long long value;
  volatile long long size;
};

// Which thread records: the first to claim it (per device) until the host clears the claim.
__device__ unsigned int g_index_error_claimed = 0;

__device__ void report_index_error(IndexErrorRecord* rec, int op, int64_t value, int64_t size) {
  if (atomicCAS(&g_index_error_claimed, 0u, 1u) != 0u) return;
  rec->op = op;
  rec->value = value;
  rec->size = size;
  __threadfence_system();
  rec->ready = 1;
}

struct ErrorRecordPointers {
  IndexErrorRecord* host = nullptr;
  IndexErrorRecord* device = nullptr;
};

// The record, allocated once (pinned, mapped, usable from every device) on first use.
const ErrorRecordPointers& error_record() {
  static const ErrorRecordPointers ptrs = [] {
    ErrorRecordPointers p;
    void* h = nullptr;
    KILN_CUDA_CHECK(cudaHostAlloc(&h, sizeof(IndexErrorRecord), cudaHostAllocMapped | cudaHostAllocPortable));
    std::memset(h, 0, sizeof(IndexErrorRecord));
    void* d = nullptr;
    KILN_CUDA_CHECK(cudaHostGetDevicePointer(&d, h, 0));
    p.host = static_cast<IndexErrorRecord*>(h);
    p.device = static_cast<IndexErrorRecord*>(d);
    return p;
  }();
  return ptrs;
}

const char* op_name(int op) {
  switch (op) {
    case kOpIndexSelect: return "index_select/embedding";
    case kOpGather: return "gather";
    case kOpOneHot: return "one_hot";
    default: return "indexing";
  }
}

// Checks the record (raise_index_errors) and returns the device pointer kernels write to.
IndexErrorRecord* checked_error_record() {
  raise_index_errors();
  return error_record().device;
}

// ---------------------------------------------------------------------------- index_select

// x seen as [outer, size, inner] around `dim` (strided); y or dx contiguous [outer, n, inner].
struct SelectDesc {
  StridedDesc outer, inner;  // the dims before and after `dim`, with the strided operand's strides
  int64_t outer_n, inner_n, n, size, dim_stride;
};

SelectDesc make_select_desc(const Dims& shape, const int64_t* strides, int64_t dim, int64_t n) {
  SelectDesc d{};
  d.outer = make_desc(Dims(shape.begin(), shape.begin() + dim), strides);
  d.inner = make_desc(Dims(shape.begin() + dim + 1, shape.end()), strides + dim + 1);
  d.outer_n = desc_numel(d.outer);
  d.inner_n = desc_numel(d.inner);
  d.n = n;
  d.size = shape[size_t(dim)];
  d.dim_stride = strides[dim];
  return d;
}

// One thread per element (o, i, r) of y: y = x[o, index[i], r].
template <class T>
__global__ void index_select_forward_kernel(SelectDesc d, const T* x, const int64_t* index, T* y,
                                            IndexErrorRecord* rec) {
  const int64_t total = d.outer_n * d.n * d.inner_n;
  for (int64_t lin = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; lin < total;
       lin += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = lin % d.inner_n, t = lin / d.inner_n, i = t % d.n, o = t / d.n;
    const int64_t idx = index[i];
    if (idx < 0 || idx >= d.size) {
      if (o == 0 && r == 0) report_index_error(rec, kOpIndexSelect, idx, d.size);
      y[lin] = T(0);
      continue;
    }
    y[lin] = x[strided_offset(d.outer, o) + idx * d.dim_stride + strided_offset(d.inner, r)];
  }
}

// One thread per index entry i: the sort key (the row, or `size` for entries that add nothing:
// skip or out of range) and the value i.
__global__ void select_keys_kernel(const int64_t* index, int64_t n, int64_t size, int64_t skip, uint64_t* keys,
                                   int64_t* vals, IndexErrorRecord* rec) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t idx = index[i];
    const bool in_range = idx >= 0 && idx < size;
    if (!in_range) report_index_error(rec, kOpIndexSelect, idx, size);
    keys[i] = in_range && idx != skip ? uint64_t(idx) : uint64_t(size);
    vals[i] = i;
  }
}

// First position in sorted keys[0, n) whose key is ≥ key.
__device__ int64_t lower_bound(const uint64_t* keys, int64_t n, uint64_t key) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// One thread per element (o, row, r) of dx: the sum, in index order, of dy[o, i, r] over the entries i
// with index[i] = row (positions[lo, hi) of the sorted entries; d holds dy's strides).
template <class T>
__global__ void index_select_backward_kernel(SelectDesc d, const uint64_t* keys, const int64_t* positions,
                                             const T* dy, T* dx) {
  const int64_t total = d.outer_n * d.size * d.inner_n;
  for (int64_t lin = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; lin < total;
       lin += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = lin % d.inner_n, t = lin / d.inner_n, row = t % d.size, o = t / d.size;
    const int64_t lo = lower_bound(keys, d.n, uint64_t(row)), hi = lower_bound(keys, d.n, uint64_t(row) + 1);
    const int64_t base = strided_offset(d.outer, o) + strided_offset(d.inner, r);
    double acc = 0.0;
    for (int64_t k = lo; k < hi; ++k) acc += double(dy[base + positions[k] * d.dim_stride]);
    dx[lin] = T(acc);
  }
}

// ---------------------------------------------------------------------------- gather

struct GatherDesc {
  int ndim, dim;
  int64_t index_shape[kMaxDims], index_strides[kMaxDims];
  int64_t x_shape[kMaxDims];     // backward only: dx's (contiguous) shape
  int64_t other_strides[kMaxDims];  // x's strides (forward) or dy's (backward)
};

GatherDesc make_gather_desc(const Dims& index_shape, const int64_t* index_strides, const int64_t* other_strides,
                            int64_t dim) {
  KILN_CHECK(index_shape.size() <= size_t(kMaxDims), "CUDA kernels take at most ", kMaxDims, " dims, got ",
             index_shape.size());
  GatherDesc g{};
  g.ndim = int(index_shape.size());
  g.dim = int(dim);
  for (int d = 0; d < g.ndim; ++d) {
    g.index_shape[d] = index_shape[size_t(d)];
    g.index_strides[d] = index_strides[d];
    g.other_strides[d] = other_strides[d];
  }
  return g;
}

// One thread per element p of y (row-major over the index's shape): y[p] = x[p with p[dim] = index[p]].
template <class T>
__global__ void gather_forward_kernel(GatherDesc g, const int64_t* index, const T* x, int64_t x_dim_size, T* y,
                                      int64_t total, IndexErrorRecord* rec) {
  for (int64_t lin = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; lin < total;
       lin += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = lin, ioff = 0, xoff = 0;
    for (int d = g.ndim - 1; d >= 0; --d) {
      const int64_t c = rem % g.index_shape[d];
      rem /= g.index_shape[d];
      ioff += c * g.index_strides[d];
      if (d != g.dim) xoff += c * g.other_strides[d];
    }
    const int64_t idx = index[ioff];
    if (idx < 0 || idx >= x_dim_size) {
      report_index_error(rec, kOpGather, idx, x_dim_size);
      y[lin] = T(0);
      continue;
    }
    y[lin] = x[xoff + idx * g.other_strides[g.dim]];
  }
}

// One thread per element c of dx (contiguous, x's shape): the sum over k of dy[c with c[dim] = k] for
// the entries index[c with c[dim] = k] equal to c[dim], k ascending (the CPU's order). Elements outside
// the index's extent in the other dims get 0.
template <class T>
__global__ void gather_backward_kernel(GatherDesc g, const int64_t* index, const T* dy, T* dx, int64_t total,
                                       IndexErrorRecord* rec) {
  const int64_t L = g.index_shape[g.dim], size = g.x_shape[g.dim];
  for (int64_t lin = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; lin < total;
       lin += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = lin, ibase = 0, dbase = 0, row = 0;
    bool inside = true;
    for (int d = g.ndim - 1; d >= 0; --d) {
      const int64_t c = rem % g.x_shape[d];
      rem /= g.x_shape[d];
      if (d == g.dim) {
        row = c;
        continue;
      }
      inside = inside && c < g.index_shape[d];
      ibase += c * g.index_strides[d];
      dbase += c * g.other_strides[d];
    }
    double acc = 0.0;
    if (inside)
      for (int64_t k = 0; k < L; ++k) {
        const int64_t idx = index[ibase + k * g.index_strides[g.dim]];
        if (idx == row) acc += double(dy[dbase + k * g.other_strides[g.dim]]);
        else if (row == 0 && (idx < 0 || idx >= size)) report_index_error(rec, kOpGather, idx, size);
      }
    dx[lin] = T(acc);
  }
}

// ---------------------------------------------------------------------------- one_hot

// One thread per element (i, c) of y.
__global__ void one_hot_kernel(const int64_t* indices, int64_t n, int64_t classes, int64_t* y, IndexErrorRecord* rec) {
  for (int64_t lin = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; lin < n * classes;
       lin += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = lin / classes, c = lin - i * classes, v = indices[i];
    if (c == 0 && (v < 0 || v >= classes)) report_index_error(rec, kOpOneHot, v, classes);
    y[lin] = v == c ? 1 : 0;
  }
}

int64_t numel(const Dims& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

}  // namespace

// ------------------------------------------------------------------------------------ host side

void raise_index_errors() {
  IndexErrorRecord* rec = error_record().host;
  if (!rec->ready) return;
  std::atomic_thread_fence(std::memory_order_acquire);
  const int op = rec->op;
  const long long value = rec->value, size = rec->size;
  rec->ready = 0;
  // Let kernels record again (on the current device; the claim is per device).
  void* claim = nullptr;
  KILN_CUDA_CHECK(cudaGetSymbolAddress(&claim, g_index_error_claimed));
  KILN_CUDA_CHECK(cudaMemsetAsync(claim, 0, sizeof(unsigned int), launch_stream()));
  KILN_FAIL(op_name(op), " on CUDA: index ", value, " is out of range for a dim of size ", size,
            " (found on the device by a kernel queued earlier; CUDA index values are checked there and reported "
            "at the next CUDA indexing call)");
}

// One compare-exchange step of a bitonic sorting network over m (a power of two) (key, position)
// pairs, ordered by key then position. Positions are unique, so the order is fully determined:
// the same input always gives the same output, whatever the scheduling. One thread per pair i
// whose partner i ^ j is above it.
__global__ void bitonic_step_kernel(uint64_t* keys, int64_t* pos, int64_t m, int64_t j, int64_t k) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < m; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t partner = i ^ j;
    if (partner <= i) continue;
    const bool ascending = (i & k) == 0;
    const bool greater = keys[i] > keys[partner] || (keys[i] == keys[partner] && pos[i] > pos[partner]);
    if (greater == ascending) {
      uint64_t tk = keys[i];
      keys[i] = keys[partner];
      keys[partner] = tk;
      int64_t tp = pos[i];
      pos[i] = pos[partner];
      pos[partner] = tp;
    }
  }
}

// Copies n pairs into arrays of m ≥ n entries, padding with pairs that sort last.
__global__ void bitonic_pad_kernel(const uint64_t* keys_in, const int64_t* pos_in, int64_t n, uint64_t* keys,
                                   int64_t* pos, int64_t m) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < m; i += int64_t(gridDim.x) * blockDim.x) {
    keys[i] = i < n ? keys_in[i] : ~uint64_t(0);
    pos[i] = i < n ? pos_in[i] : INT64_MAX;
  }
}

void index_select_forward(DType dtype, const Dims& x_shape, const int64_t* x_strides, const void* x, int64_t dim,
                          const int64_t* index, int64_t n, void* y) {
  IndexErrorRecord* rec = checked_error_record();
  const SelectDesc d = make_select_desc(x_shape, x_strides, dim, n);
  const int64_t total = d.outer_n * n * d.inner_n;
  if (total == 0) return;
  KILN_DISPATCH_ALL(dtype, "index_select", [&]<class T>() {
    index_select_forward_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(
        d, static_cast<const T*>(x), index, static_cast<T*>(y), rec);
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void index_select_backward(DType dtype, const Dims& x_shape, int64_t dim, const int64_t* index, int64_t n, int64_t skip,
                           const void* dy, const int64_t* dy_strides, void* dx) {
  IndexErrorRecord* rec = checked_error_record();
  KILN_CHECK(n <= INT_MAX, "index_select backward on CUDA: at most ", INT_MAX, " indices, got ", n);
  const SelectDesc d = make_select_desc(x_shape, dy_strides, dim, n);  // d.size = x's size at dim
  cudaStream_t stream = launch_stream();
  // Sort (row, position) pairs by row, positions ascending within a row, with kiln's own bitonic
  // network (log²m simple launches; a faster sort is a kernel-lab item).
  int64_t m = 1;
  while (m < n) m <<= 1;
  DeviceScratch pairs((size_t(n) + size_t(m)) * 2 * sizeof(int64_t));
  uint64_t *keys_in = pairs.as<uint64_t>(), *keys = keys_in + n;
  int64_t *pos_in = reinterpret_cast<int64_t*>(keys + m), *pos = pos_in + n;
  if (n > 0) {
    select_keys_kernel<<<grid_for(n), kBlock, 0, stream>>>(index, n, d.size, skip, keys_in, pos_in, rec);
    KILN_CUDA_CHECK_LAUNCH();
    bitonic_pad_kernel<<<grid_for(m), kBlock, 0, stream>>>(keys_in, pos_in, n, keys, pos, m);
    KILN_CUDA_CHECK_LAUNCH();
    for (int64_t k = 2; k <= m; k <<= 1)
      for (int64_t j = k >> 1; j > 0; j >>= 1) {
        bitonic_step_kernel<<<grid_for(m), kBlock, 0, stream>>>(keys, pos, m, j, k);
        KILN_CUDA_CHECK_LAUNCH();
      }
  }
  const int64_t total = d.outer_n * d.size * d.inner_n;
  if (total == 0) return;
  KILN_DISPATCH_FLOAT(dtype, "index_select_backward", [&]<class T>() {
    index_select_backward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(d, keys, pos, static_cast<const T*>(dy),
                                                                            static_cast<T*>(dx));
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void gather_forward(DType dtype, const Dims& index_shape, const int64_t* index_strides, const int64_t* index,
                    const int64_t* x_strides, const void* x, int64_t dim, void* y, int64_t x_dim_size) {
  IndexErrorRecord* rec = checked_error_record();
  const GatherDesc g = make_gather_desc(index_shape, index_strides, x_strides, dim);
  const int64_t total = numel(index_shape);
  if (total == 0) return;
  KILN_DISPATCH_ALL(dtype, "gather", [&]<class T>() {
    gather_forward_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(
        g, index, static_cast<const T*>(x), x_dim_size, static_cast<T*>(y), total, rec);
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void gather_backward(DType dtype, const Dims& x_shape, const Dims& index_shape, const int64_t* index_strides,
                     const int64_t* index, int64_t dim, const void* dy, const int64_t* dy_strides, void* dx) {
  IndexErrorRecord* rec = checked_error_record();
  KILN_CHECK(x_shape.size() == index_shape.size(), "gather_backward: x and index must have the same number of dims");
  GatherDesc g = make_gather_desc(index_shape, index_strides, dy_strides, dim);
  for (int d = 0; d < g.ndim; ++d) g.x_shape[d] = x_shape[size_t(d)];
  const int64_t total = numel(x_shape);
  if (total == 0) return;
  KILN_DISPATCH_FLOAT(dtype, "gather_backward", [&]<class T>() {
    gather_backward_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(
        g, index, static_cast<const T*>(dy), static_cast<T*>(dx), total, rec);
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void one_hot(const int64_t* indices, int64_t n, int64_t num_classes, int64_t* y) {
  IndexErrorRecord* rec = checked_error_record();
  const int64_t total = n * num_classes;
  if (total == 0) return;
  one_hot_kernel<<<grid_for(total), kBlock, 0, launch_stream()>>>(indices, n, num_classes, y, rec);
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
