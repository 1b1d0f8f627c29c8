// CUDA kernels of the elementwise ops (kernels/cuda/elementwise.h). Each op and dtype gets its own
// specialized kernel: the op is a template parameter of the functor (KILN_UNARY_SWITCH /
// KILN_BINARY_SWITCH) and the math is kernels/common/{unary,binary}_math.h, shared with the CPU.
// The launch (contiguous vectorized path or strided path) is kernels/cuda/elementwise_launch.cuh.
#include "kernels/cuda/elementwise.h"

#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/cuda/elementwise_launch.cuh"

namespace kiln::cuda {
namespace {

using ew::OutPtrs;
using ew::Res;

// ---------------------------------------------------------------- functors (one element each)

template <UnaryOp OP, class T>
struct UnaryForwardF {
  UnaryParams p;
  __host__ __device__ Res<T, 1> operator()(T x) const { return ew::result(::kiln::unary_forward<OP, T>(x, p)); }
};

template <UnaryOp OP, class T>
struct UnaryBackwardF {
  UnaryParams p;
  __host__ __device__ Res<T, 1> operator()(T x, T y, T dy) const {
    return ew::result(::kiln::unary_backward<OP, T>(x, y, dy, p));
  }
};

template <BinaryOp OP, class T>
struct BinaryForwardF {
  __host__ __device__ Res<T, 1> operator()(T a, T b) const { return ew::result(::kiln::binary_forward<OP, T>(a, b)); }
};

template <BinaryOp OP, class T>
struct BinaryBackwardF {
  __host__ __device__ Res<T, 2> operator()(T a, T b, T dy) const {
    Res<T, 2> r;
    ::kiln::binary_backward<OP, T>(a, b, dy, r.v[0], r.v[1]);
    return r;
  }
};

template <class T>
struct CompareF {
  CompareOp op;
  __host__ __device__ Res<bool, 1> operator()(T a, T b) const { return ew::result(::kiln::compare<T>(op, a, b)); }
};

template <class T>
struct WhereF {
  __host__ __device__ Res<T, 1> operator()(bool c, T a, T b) const { return ew::result(c ? a : b); }
};

// ---------------------------------------------------------------- per-dtype bodies

template <class T>
void unary_forward_t(UnaryOp op, UnaryParams p, const Dims& shape, void* y, const void* x, const int64_t* xs) {
  KILN_UNARY_SWITCH(op, OP,
                    ew::launch(UnaryForwardF<OP, T>{p}, shape, OutPtrs<T, 1>{{static_cast<T*>(y)}}, nullptr,
                               std::array<const int64_t*, 1>{xs}, static_cast<const T*>(x)));
}

template <class T>
void unary_backward_t(UnaryOp op, UnaryParams p, const Dims& shape, void* dx, const void* x, const int64_t* xs,
                      const void* y, const int64_t* ys, const void* dy, const int64_t* dys) {
  KILN_UNARY_SWITCH(op, OP,
                    ew::launch(UnaryBackwardF<OP, T>{p}, shape, OutPtrs<T, 1>{{static_cast<T*>(dx)}}, nullptr,
                               std::array<const int64_t*, 3>{xs, ys, dys}, static_cast<const T*>(x),
                               static_cast<const T*>(y), static_cast<const T*>(dy)));
}

template <class T>
void binary_forward_t(BinaryOp op, const Dims& shape, void* y, const void* a, const int64_t* as, const void* b,
                      const int64_t* bs) {
  KILN_BINARY_SWITCH(op, OP,
                     ew::launch(BinaryForwardF<OP, T>{}, shape, OutPtrs<T, 1>{{static_cast<T*>(y)}}, nullptr,
                                std::array<const int64_t*, 2>{as, bs}, static_cast<const T*>(a),
                                static_cast<const T*>(b)));
}

// int64: the integer-exact ops only (binary_supports_int64, checked by the caller).
void binary_forward_int64(BinaryOp op, const Dims& shape, void* y, const void* a, const int64_t* as, const void* b,
                          const int64_t* bs) {
  KILN_BINARY_INT_SWITCH(op, OP,
                         ew::launch(BinaryForwardF<OP, int64_t>{}, shape,
                                    OutPtrs<int64_t, 1>{{static_cast<int64_t*>(y)}}, nullptr,
                                    std::array<const int64_t*, 2>{as, bs}, static_cast<const int64_t*>(a),
                                    static_cast<const int64_t*>(b)));
}

template <class T>
void binary_backward_t(BinaryOp op, const Dims& shape, void* da, void* db, const void* a, const int64_t* as,
                       const void* b, const int64_t* bs, const void* dy, const int64_t* dys) {
  KILN_BINARY_SWITCH(op, OP,
                     ew::launch(BinaryBackwardF<OP, T>{}, shape,
                                OutPtrs<T, 2>{{static_cast<T*>(da), static_cast<T*>(db)}}, nullptr,
                                std::array<const int64_t*, 3>{as, bs, dys}, static_cast<const T*>(a),
                                static_cast<const T*>(b), static_cast<const T*>(dy)));
}

template <class T>
void compare_t(CompareOp op, const Dims& shape, bool* y, const void* a, const int64_t* as, const void* b,
               const int64_t* bs) {
  ew::launch(CompareF<T>{op}, shape, OutPtrs<bool, 1>{{y}}, nullptr, std::array<const int64_t*, 2>{as, bs},
             static_cast<const T*>(a), static_cast<const T*>(b));
}

template <class T>
void where_t(const Dims& shape, void* y, const bool* cond, const int64_t* cs, const void* a, const int64_t* as,
             const void* b, const int64_t* bs) {
  ew::launch(WhereF<T>{}, shape, OutPtrs<T, 1>{{static_cast<T*>(y)}}, nullptr,
             std::array<const int64_t*, 3>{cs, as, bs}, cond, static_cast<const T*>(a), static_cast<const T*>(b));
}

[[noreturn]] void unsupported(const char* what, DType dtype, const char* expected) {
  KILN_FAIL(what, ": dtype ", dtype_name(dtype), " is not supported", expected);
}
constexpr const char* kFloatOnly = " (float32 or float64 expected)";
constexpr const char* kNotYet = " yet";

}  // namespace

// Host entry points: dtype dispatch (float types; all types for compare and where), as on the CPU.

void unary_forward(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* y, const void* x,
                   const int64_t* x_strides) {
  switch (dtype) {
    case DType::Float32: return unary_forward_t<float>(op, p, shape, y, x, x_strides);
    case DType::Float64: return unary_forward_t<double>(op, p, shape, y, x, x_strides);
    default: unsupported("unary op", dtype, kFloatOnly);
  }
}

void unary_backward(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* dx, const void* x,
                    const int64_t* x_strides, const void* y, const int64_t* y_strides, const void* dy,
                    const int64_t* dy_strides) {
  switch (dtype) {
    case DType::Float32:
      return unary_backward_t<float>(op, p, shape, dx, x, x_strides, y, y_strides, dy, dy_strides);
    case DType::Float64:
      return unary_backward_t<double>(op, p, shape, dx, x, x_strides, y, y_strides, dy, dy_strides);
    default: unsupported("unary backward", dtype, kFloatOnly);
  }
}

void binary_forward(BinaryOp op, DType dtype, const Dims& shape, void* y, const void* a, const int64_t* a_strides,
                    const void* b, const int64_t* b_strides) {
  switch (dtype) {
    case DType::Float32: return binary_forward_t<float>(op, shape, y, a, a_strides, b, b_strides);
    case DType::Float64: return binary_forward_t<double>(op, shape, y, a, a_strides, b, b_strides);
    case DType::Int64:
      if (!binary_supports_int64(op)) unsupported("binary op (division, power)", dtype, kFloatOnly);
      return binary_forward_int64(op, shape, y, a, a_strides, b, b_strides);
    default: unsupported("binary op", dtype, kFloatOnly);
  }
}

void binary_backward(BinaryOp op, DType dtype, const Dims& shape, void* da, void* db, const void* a,
                     const int64_t* a_strides, const void* b, const int64_t* b_strides, const void* dy,
                     const int64_t* dy_strides) {
  if (!da && !db) return;
  switch (dtype) {
    case DType::Float32:
      return binary_backward_t<float>(op, shape, da, db, a, a_strides, b, b_strides, dy, dy_strides);
    case DType::Float64:
      return binary_backward_t<double>(op, shape, da, db, a, a_strides, b, b_strides, dy, dy_strides);
    default: unsupported("binary backward", dtype, kFloatOnly);
  }
}

void compare(CompareOp op, DType dtype, const Dims& shape, bool* y, const void* a, const int64_t* a_strides,
             const void* b, const int64_t* b_strides) {
  switch (dtype) {
    case DType::Float32: return compare_t<float>(op, shape, y, a, a_strides, b, b_strides);
    case DType::Float64: return compare_t<double>(op, shape, y, a, a_strides, b, b_strides);
    case DType::Int64: return compare_t<int64_t>(op, shape, y, a, a_strides, b, b_strides);
    case DType::Int32: return compare_t<int32_t>(op, shape, y, a, a_strides, b, b_strides);
    case DType::UInt8: return compare_t<uint8_t>(op, shape, y, a, a_strides, b, b_strides);
    case DType::Bool: return compare_t<bool>(op, shape, y, a, a_strides, b, b_strides);
    default: unsupported("comparison", dtype, kNotYet);
  }
}

void where(DType dtype, const Dims& shape, void* y, const bool* cond, const int64_t* cond_strides, const void* a,
           const int64_t* a_strides, const void* b, const int64_t* b_strides) {
  switch (dtype) {
    case DType::Float32: return where_t<float>(shape, y, cond, cond_strides, a, a_strides, b, b_strides);
    case DType::Float64: return where_t<double>(shape, y, cond, cond_strides, a, a_strides, b, b_strides);
    case DType::Int64: return where_t<int64_t>(shape, y, cond, cond_strides, a, a_strides, b, b_strides);
    case DType::Int32: return where_t<int32_t>(shape, y, cond, cond_strides, a, a_strides, b, b_strides);
    case DType::UInt8: return where_t<uint8_t>(shape, y, cond, cond_strides, a, a_strides, b, b_strides);
    case DType::Bool: return where_t<bool>(shape, y, cond, cond_strides, a, a_strides, b, b_strides);
    default: unsupported("where", dtype, kNotYet);
  }
}

}  // namespace kiln::cuda
