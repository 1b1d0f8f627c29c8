// CPU kernels of 2-D convolution by im2col + GEMM (kernels/cpu/gemm), and their adjoints: the entry points
// (the fast path, kernels/cpu/conv_batched.cpp) and the plain reference loops
// (one image at a time, *_reference) that the tests compare them with. All tensors are contiguous NCHW;
// weights are [C_out, C_in/groups, kH, kW]. Compute only: no autograd. conv_transpose2d is the adjoint
// of conv2d, so it runs on these same kernels with the roles swapped.
#pragma once
#include <cstdint>

namespace kiln::cpu {

// The geometry of one conv2d: the "image" is its input [N, C_in, in_h, in_w], the "columns" are the
// output positions [N, C_out, out_h, out_w]. out_h/out_w are given, not derived, so that a transposed
// convolution (whose output is this image) can use an image taller than the columns reach.
struct Conv2dGeometry {
  int64_t batch = 0, in_channels = 0, out_channels = 0, groups = 1;
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
};

// The reference im2col: col [C·kH·kW, out_h·out_w] of one image x [C, in_h, in_w]: col[(c·kH + i)·kW + j, p] is the input element
// that tap (i, j) of output position p reads, 0 in the padding.
template <class T>
void im2col(const Conv2dGeometry& g, int64_t channels, const T* x, T* col);
// The reference col2im, the adjoint of im2col: x[C, in_h, in_w] = 0, then every col element is added to the input element it was read from.
template <class T>
void col2im(const Conv2dGeometry& g, int64_t channels, const T* col, T* x);

// ---- The entry points (the fast path, kernels/cpu/conv_batched.cpp): a kernel covering the whole image is
// one fully connected GEMM over the batch; tiny output planes group images into one column matrix
// [C_in·kH·kW, images·L] (bounded workspace) and one GEMM per channel group; other planes run one GEMM
// per image; im2col/col2im work row by row with contiguous inner loops, OpenMP across a group's images.
// y = conv2d(x, w) + bias (bias may be null).
template <class T>
void conv2d_forward(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y);
// dx = Kᵀ·dy, the adjoint of conv2d in its input (overwrites dx).
template <class T>
void conv2d_backward_input(const Conv2dGeometry& g, const T* dy, const T* w, T* dx);
// dw = Σ over images of dY_g · col_gᵀ (overwrites dw): one GEMM over every column of an image group.
template <class T>
void conv2d_backward_weight(const Conv2dGeometry& g, const T* x, const T* dy, T* dw);

// The fast path's workspace bound in elements (column matrix + gathered outputs of one image group; at
// least one image per group whatever the bound). Process-wide; returns the previous bound. For tests
// (several groups, one image per group) and the kernel lab; the default suits 28×28-sized layers.
int64_t set_conv_workspace_elements(int64_t elements);

// ---- The plain reference loops (today's first implementation; the oracle of the tests).
// y = conv2d(x, w) + bias:  per image and group, Y_g [C_out/G, L] = W_g [C_out/G, C_in/G·kH·kW] · col_g.
template <class T>
void conv2d_forward_reference(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y);
// dx = col2im(W_gᵀ · dY_g) per image and group (overwrites dx).
template <class T>
void conv2d_backward_input_reference(const Conv2dGeometry& g, const T* dy, const T* w, T* dx);
// dw = Σ over images of dY_g · col_gᵀ, im2col recomputed per image (overwrites dw).
template <class T>
void conv2d_backward_weight_reference(const Conv2dGeometry& g, const T* x, const T* dy, T* dw);

// The fast path's row-wise im2col/col2im: as im2col/col2im, but row r of col starts at col + r·ld (so
// several images' columns can sit side by side in one matrix); col2im_rows overwrites x.
template <class T>
void im2col_rows(const Conv2dGeometry& g, int64_t channels, const T* x, T* col, int64_t ld);
template <class T>
void col2im_rows(const Conv2dGeometry& g, int64_t channels, const T* col, int64_t ld, T* x);

// y[n, c, :] += bias[c] for y [N, C, spatial].
template <class T>
void add_channel_bias(int64_t batch, int64_t channels, int64_t spatial, const T* bias, T* y);
// db[c] = Σ over n and spatial of dy[n, c, :] (accumulated in double).
template <class T>
void sum_per_channel(int64_t batch, int64_t channels, int64_t spatial, const T* dy, T* db);

}  // namespace kiln::cpu
