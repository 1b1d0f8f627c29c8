#include "kernels/cpu/elementwise.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/cpu/flat_loop.h"
#include "kernels/cpu/strided_loop.h"

namespace kiln::cpu {
namespace {
// The output's own strides: contiguous.
Dims contiguous(const Dims& shape) {
  Dims s(shape.size());
  int64_t st = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = st;
    st *= shape[i];
  }
  return s;
}
}  // namespace

void unary_forward_strided(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* y, const void* x,
                           const int64_t* x_strides) {
  Dims ys = contiguous(shape);
  KILN_DISPATCH_FLOAT(dtype, "unary op", [&]<class T>() {
    T* yp = static_cast<T*>(y);
    const T* xp = static_cast<const T*>(x);
    KILN_UNARY_SWITCH(op, OP, for_each_strided<2>(shape, {ys.data(), x_strides}, [&](const std::array<int64_t, 2>& o) {
      yp[o[0]] = kiln::unary_forward<OP, T>(xp[o[1]], p);
    }));
  });
}

void unary_backward_strided(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* dx, const void* x,
                            const int64_t* x_strides, const void* y, const int64_t* y_strides, const void* dy,
                            const int64_t* dy_strides) {
  Dims ds = contiguous(shape);
  KILN_DISPATCH_FLOAT(dtype, "unary backward", [&]<class T>() {
    T* dxp = static_cast<T*>(dx);
    const T *xp = static_cast<const T*>(x), *yp = static_cast<const T*>(y), *dyp = static_cast<const T*>(dy);
    KILN_UNARY_SWITCH(op, OP,
                      for_each_strided<4>(shape, {ds.data(), x_strides, y_strides, dy_strides},
                                          [&](const std::array<int64_t, 4>& o) {
                                            dxp[o[0]] = kiln::unary_backward<OP, T>(xp[o[1]], yp[o[2]], dyp[o[3]], p);
                                          }));
  });
}

void binary_forward_strided(BinaryOp op, DType dtype, const Dims& shape, void* y, const void* a,
                            const int64_t* a_strides, const void* b, const int64_t* b_strides) {
  Dims ys = contiguous(shape);
  if (dtype == DType::Int64) {  // the integer-exact ops only (binary_supports_int64)
    KILN_CHECK(binary_supports_int64(op), "binary op: this op is not defined for int64 (float32 or float64 expected)");
    int64_t* yp = static_cast<int64_t*>(y);
    const int64_t *ap = static_cast<const int64_t*>(a), *bp = static_cast<const int64_t*>(b);
    KILN_BINARY_INT_SWITCH(op, OP,
                           for_each_strided<3>(shape, {ys.data(), a_strides, b_strides},
                                               [&](const std::array<int64_t, 3>& o) {
                                                 yp[o[0]] = kiln::binary_forward<OP, int64_t>(ap[o[1]],
                                                                                              bp[o[2]]);
                                               }));
    return;
  }
  KILN_DISPATCH_FLOAT(dtype, "binary op", [&]<class T>() {
    T* yp = static_cast<T*>(y);
    const T *ap = static_cast<const T*>(a), *bp = static_cast<const T*>(b);
    KILN_BINARY_SWITCH(op, OP,
                       for_each_strided<3>(shape, {ys.data(), a_strides, b_strides}, [&](const std::array<int64_t, 3>& o) {
                         yp[o[0]] = kiln::binary_forward<OP, T>(ap[o[1]], bp[o[2]]);
                       }));
  });
}

void binary_backward_strided(BinaryOp op, DType dtype, const Dims& shape, void* da, void* db, const void* a,
                             const int64_t* a_strides, const void* b, const int64_t* b_strides, const void* dy,
                             const int64_t* dy_strides) {
  Dims os = contiguous(shape);
  KILN_DISPATCH_FLOAT(dtype, "binary backward", [&]<class T>() {
    T *dap = static_cast<T*>(da), *dbp = static_cast<T*>(db);
    const T *ap = static_cast<const T*>(a), *bp = static_cast<const T*>(b), *dyp = static_cast<const T*>(dy);
    KILN_BINARY_SWITCH(op, OP,
                       for_each_strided<4>(shape, {os.data(), a_strides, b_strides, dy_strides},
                                           [&](const std::array<int64_t, 4>& o) {
                                             T ga, gb;
                                             kiln::binary_backward<OP, T>(ap[o[1]], bp[o[2]], dyp[o[3]], ga, gb);
                                             if (dap) dap[o[0]] = ga;
                                             if (dbp) dbp[o[0]] = gb;
                                           }));
  });
}

// ---- Fast paths: one flat loop when the operands allow it (flat_loop.h) ----

bool unary_forward_contiguous(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* y, const void* x,
                              const int64_t* x_strides) {
  if (flat_step(shape, x_strides) != 1) return false;
  const int64_t n = element_count(shape);
  KILN_DISPATCH_FLOAT(dtype, "unary op", [&]<class T>() {
    T* yp = static_cast<T*>(y);  // no __restrict: y may be x itself (in-place ops)
    const T* xp = static_cast<const T*>(x);
    KILN_UNARY_SWITCH(op, OP, for_each_chunk(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) yp[i] = kiln::unary_forward<OP, T>(xp[i], p);
    }));
  });
  return true;
}

bool unary_backward_contiguous(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* dx, const void* x,
                               const int64_t* x_strides, const void* y, const int64_t* y_strides, const void* dy,
                               const int64_t* dy_strides) {
  if (flat_step(shape, x_strides) != 1 || flat_step(shape, y_strides) != 1 || flat_step(shape, dy_strides) != 1)
    return false;
  const int64_t n = element_count(shape);
  KILN_DISPATCH_FLOAT(dtype, "unary backward", [&]<class T>() {
    T* dxp = static_cast<T*>(dx);
    const T *xp = static_cast<const T*>(x), *yp = static_cast<const T*>(y), *dyp = static_cast<const T*>(dy);
    KILN_UNARY_SWITCH(op, OP, for_each_chunk(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        dxp[i] = kiln::unary_backward<OP, T>(xp[i], yp[i], dyp[i], p);
    }));
  });
  return true;
}

namespace {
// y[i] = f(a[i·sa], b[i·sb]) with sa, sb ∈ {0, 1}, not both 0: each case its own loop, so that the
// compiler sees unit strides and a loop-invariant scalar. No __restrict: y may be a itself (the engine
// adds gradients in place, y = a + b), so the compiler checks for overlap before the vector loop.
template <class T, class F>
void binary_flat(int64_t n, T* y, const T* a, int64_t sa, const T* b, int64_t sb, F f) {
  for_each_chunk(n, [&](int64_t begin, int64_t end) {
    if (sa == 1 && sb == 1) {
      for (int64_t i = begin; i < end; ++i) y[i] = f(a[i], b[i]);
    } else if (sa == 1) {
      const T bv = b[0];
      for (int64_t i = begin; i < end; ++i) y[i] = f(a[i], bv);
    } else {
      const T av = a[0];
      for (int64_t i = begin; i < end; ++i) y[i] = f(av, b[i]);
    }
  });
}
}  // namespace

bool binary_forward_contiguous(BinaryOp op, DType dtype, const Dims& shape, void* y, const void* a,
                               const int64_t* a_strides, const void* b, const int64_t* b_strides) {
  const int64_t sa = flat_step(shape, a_strides), sb = flat_step(shape, b_strides);
  if (sa < 0 || sb < 0 || (sa == 0 && sb == 0) || dtype == DType::Int64) return false;
  const int64_t n = element_count(shape);
  KILN_DISPATCH_FLOAT(dtype, "binary op", [&]<class T>() {
    KILN_BINARY_SWITCH(op, OP,
                       binary_flat<T>(n, static_cast<T*>(y), static_cast<const T*>(a), sa, static_cast<const T*>(b), sb,
                                      [](T u, T v) { return kiln::binary_forward<OP, T>(u, v); }));
  });
  return true;
}

bool binary_backward_contiguous(BinaryOp op, DType dtype, const Dims& shape, void* da, void* db, const void* a,
                                const int64_t* a_strides, const void* b, const int64_t* b_strides, const void* dy,
                                const int64_t* dy_strides) {
  if (flat_step(shape, a_strides) != 1 || flat_step(shape, b_strides) != 1 || flat_step(shape, dy_strides) != 1)
    return false;
  const int64_t n = element_count(shape);
  KILN_DISPATCH_FLOAT(dtype, "binary backward", [&]<class T>() {
    T *dap = static_cast<T*>(da), *dbp = static_cast<T*>(db);
    const T *ap = static_cast<const T*>(a), *bp = static_cast<const T*>(b), *dyp = static_cast<const T*>(dy);
    KILN_BINARY_SWITCH(op, OP, for_each_chunk(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        T ga, gb;
        kiln::binary_backward<OP, T>(ap[i], bp[i], dyp[i], ga, gb);
        if (dap) dap[i] = ga;
        if (dbp) dbp[i] = gb;
      }
    }));
  });
  return true;
}

// ---- The kernels the ops call: the fast path where it applies, else the strided reference ----

void unary_forward(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* y, const void* x,
                   const int64_t* x_strides) {
  if (!unary_forward_contiguous(op, p, dtype, shape, y, x, x_strides))
    unary_forward_strided(op, p, dtype, shape, y, x, x_strides);
}

void unary_backward(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* dx, const void* x,
                    const int64_t* x_strides, const void* y, const int64_t* y_strides, const void* dy,
                    const int64_t* dy_strides) {
  if (!unary_backward_contiguous(op, p, dtype, shape, dx, x, x_strides, y, y_strides, dy, dy_strides))
    unary_backward_strided(op, p, dtype, shape, dx, x, x_strides, y, y_strides, dy, dy_strides);
}

void binary_forward(BinaryOp op, DType dtype, const Dims& shape, void* y, const void* a, const int64_t* a_strides,
                    const void* b, const int64_t* b_strides) {
  if (!binary_forward_contiguous(op, dtype, shape, y, a, a_strides, b, b_strides))
    binary_forward_strided(op, dtype, shape, y, a, a_strides, b, b_strides);
}

void binary_backward(BinaryOp op, DType dtype, const Dims& shape, void* da, void* db, const void* a,
                     const int64_t* a_strides, const void* b, const int64_t* b_strides, const void* dy,
                     const int64_t* dy_strides) {
  if (!binary_backward_contiguous(op, dtype, shape, da, db, a, a_strides, b, b_strides, dy, dy_strides))
    binary_backward_strided(op, dtype, shape, da, db, a, a_strides, b, b_strides, dy, dy_strides);
}

void compare(CompareOp op, DType dtype, const Dims& shape, bool* y, const void* a, const int64_t* a_strides,
             const void* b, const int64_t* b_strides) {
  Dims ys = contiguous(shape);
  KILN_DISPATCH_ALL(dtype, "comparison", [&]<class T>() {
    const T *ap = static_cast<const T*>(a), *bp = static_cast<const T*>(b);
    for_each_strided<3>(shape, {ys.data(), a_strides, b_strides}, [&](const std::array<int64_t, 3>& o) {
      y[o[0]] = kiln::compare(op, ap[o[1]], bp[o[2]]);
    });
  });
}

void where(DType dtype, const Dims& shape, void* y, const bool* cond, const int64_t* cond_strides, const void* a,
           const int64_t* a_strides, const void* b, const int64_t* b_strides) {
  Dims ys = contiguous(shape);
  KILN_DISPATCH_ALL(dtype, "where", [&]<class T>() {
    T* yp = static_cast<T*>(y);
    const T *ap = static_cast<const T*>(a), *bp = static_cast<const T*>(b);
    for_each_strided<4>(shape, {ys.data(), cond_strides, a_strides, b_strides}, [&](const std::array<int64_t, 4>& o) {
      yp[o[0]] = cond[o[1]] ? ap[o[2]] : bp[o[3]];
    });
  });
}

}  // namespace kiln::cpu
