// The fast path of CPU convolution (kernels/cpu/conv_batched.cpp: image groups, row-wise im2col/col2im)
// against the plain reference loops of kernels/cpu/conv.cpp, forward and both backward passes, float32
// and float64, at shapes that reach each of its branches: odd sizes, stride/padding/dilation/groups,
// batch 1, one channel, 1×1 kernels (the column matrix is the image), whole-image kernels (a fully connected
// layer: DCGAN's k7 on 7×7 and its transpose), large output planes (one GEMM per image),
// taps that read only padding, an image taller than the columns reach (transposed convolution's
// output_padding), and workspace bounds that force one image per group and an uneven last group.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/common/conv_math.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/gemm.h"
#include "kiln_test.h"

using kiln::cpu::Conv2dGeometry;

namespace {

// A conv2d geometry; in_h_extra rows/columns of image beyond what the columns reach (output_padding).
Conv2dGeometry geometry(int64_t n, int64_t c_in, int64_t c_out, int64_t h, int64_t w, int64_t kh, int64_t kw,
                        int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups,
                        int64_t extra = 0) {
  Conv2dGeometry g;
  g.batch = n, g.in_channels = c_in, g.out_channels = c_out, g.groups = groups;
  g.kernel_h = kh, g.kernel_w = kw, g.stride_h = sh, g.stride_w = sw, g.pad_h = ph, g.pad_w = pw;
  g.dilation_h = dh, g.dilation_w = dw;
  g.out_h = kiln::conv_out_size(h, kh, sh, ph, dh);
  g.out_w = kiln::conv_out_size(w, kw, sw, pw, dw);
  g.in_h = h + extra, g.in_w = w + extra;
  return g;
}

template <class T>
std::vector<T> random_values(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(count);
  for (T& e : v) e = T(dist(rng));
  return v;
}

// max |a − b| ≤ tol · max(1, max |b|): the two paths sum the same products in a different order.
template <class T>
void require_close(const std::vector<T>& fast, const std::vector<T>& ref, double tol) {
  REQUIRE(fast.size() == ref.size());
  double scale = 1, worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    scale = std::max(scale, std::abs(double(ref[i])));
    const double diff = std::abs(double(fast[i]) - double(ref[i]));
    worst = std::isnan(diff) ? INFINITY : std::max(worst, diff);  // an unwritten (NaN) element fails
  }
  INFO("max |fast − reference| = " << worst << ", scale " << scale);
  REQUIRE(worst <= tol * scale);
}

// Forward (with and without bias), input gradient and weight gradient of one geometry, fast vs reference.
// The outputs start as NaN so that an element the fast path forgets to write fails the comparison.
template <class T>
void compare_paths(const Conv2dGeometry& g, double tol) {
  const int64_t k = g.in_channels / g.groups * g.kernel_h * g.kernel_w;
  const size_t x_size = size_t(g.batch * g.in_channels * g.in_h * g.in_w);
  const size_t y_size = size_t(g.batch * g.out_channels * g.out_h * g.out_w);
  const size_t w_size = size_t(g.out_channels * k);
  const std::vector<T> x = random_values<T>(x_size, 1), w = random_values<T>(w_size, 2);
  const std::vector<T> bias = random_values<T>(size_t(g.out_channels), 3), dy = random_values<T>(y_size, 4);
  const T nan = std::numeric_limits<T>::quiet_NaN();
  for (const T* b : {bias.data(), static_cast<const T*>(nullptr)}) {
    std::vector<T> fast(y_size, nan), ref(y_size, nan);
    kiln::cpu::conv2d_forward<T>(g, x.data(), w.data(), b, fast.data());
    kiln::cpu::conv2d_forward_reference<T>(g, x.data(), w.data(), b, ref.data());
    INFO("forward, bias " << (b != nullptr));
    require_close(fast, ref, tol);
  }
  {
    std::vector<T> fast(x_size, nan), ref(x_size, nan);
    kiln::cpu::conv2d_backward_input<T>(g, dy.data(), w.data(), fast.data());
    kiln::cpu::conv2d_backward_input_reference<T>(g, dy.data(), w.data(), ref.data());
    INFO("input gradient");
    require_close(fast, ref, tol);
  }
  {
    std::vector<T> fast(w_size, nan), ref(w_size, nan);
    kiln::cpu::conv2d_backward_weight<T>(g, x.data(), dy.data(), fast.data());
    kiln::cpu::conv2d_backward_weight_reference<T>(g, x.data(), dy.data(), ref.data());
    INFO("weight gradient");
    require_close(fast, ref, tol);
  }
}

struct WorkspaceBound {
  int64_t previous;
  explicit WorkspaceBound(int64_t elements) : previous(kiln::cpu::set_conv_workspace_elements(elements)) {}
  ~WorkspaceBound() { kiln::cpu::set_conv_workspace_elements(previous); }
};

struct BlasSwitch {
  bool previous = kiln::cpu::blas_enabled();
  explicit BlasSwitch(bool on) { kiln::cpu::set_blas_enabled(on); }
  ~BlasSwitch() { kiln::cpu::set_blas_enabled(previous); }
};

std::vector<Conv2dGeometry> fast_path_cases() {
  return {
      // n  cin cout  h   w  kh kw sh sw ph pw dh dw groups extra
      geometry(3, 1, 4, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1),        // the classifier's first layer, one channel
      geometry(5, 3, 6, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1),        // its second, odd size
      geometry(2, 3, 5, 10, 10, 4, 4, 2, 2, 1, 1, 1, 1, 1),      // DCGAN/VAE k4 s2 p1
      geometry(3, 4, 6, 5, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1),        // 1×1: the columns are the image
      geometry(3, 4, 6, 5, 7, 1, 1, 2, 2, 0, 0, 1, 1, 1),        // 1×1 stride 2
      geometry(2, 3, 4, 7, 11, 3, 2, 1, 2, 2, 1, 2, 3, 1),       // dilation, non-square kernel, odd sizes
      geometry(2, 4, 6, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2),        // groups
      geometry(2, 3, 3, 6, 5, 3, 3, 2, 1, 1, 1, 1, 1, 3),        // depthwise
      geometry(4, 5, 1, 7, 7, 7, 7, 1, 1, 0, 0, 1, 1, 1),        // k7 on 7×7: a fully connected layer (DCGAN D)
      geometry(3, 3, 5, 4, 4, 4, 4, 2, 2, 0, 0, 1, 1, 1),        // fully connected, several outputs, stride 2
      geometry(3, 4, 6, 5, 5, 5, 5, 1, 1, 0, 0, 1, 1, 2),        // whole-image kernel with groups: grouped path
      geometry(2, 3, 4, 5, 5, 5, 5, 1, 1, 1, 1, 1, 1, 1),        // whole-image kernel with padding: 3×3 columns
      geometry(2, 2, 3, 12, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1),      // 144 columns: one GEMM per image
      geometry(5, 3, 4, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 1),        // 2×2 columns: images grouped
      geometry(4, 4, 6, 5, 3, 3, 3, 2, 1, 1, 0, 1, 1, 2),        // 3×1 columns, groups: images grouped
      geometry(3, 2, 3, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1),        // 1×1 kernel on 3×3: grouped (im2col is a gather)
      geometry(64, 16, 8, 5, 5, 3, 3, 1, 1, 0, 0, 1, 1, 1),      // grouped and large enough for OpenMP across images
      geometry(3, 2, 3, 6, 6, 3, 3, 3, 3, 0, 0, 1, 1, 1, 2),     // image taller than the columns reach
      geometry(1, 1, 2, 5, 6, 2, 3, 2, 1, 3, 0, 1, 1, 1),        // batch 1, taps in the padding only
      geometry(2, 2, 3, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1),     // stride 3, dilation 2, extra rows
  };
}

template <class T>
void compare_all(double tol) {
  for (bool blas : {true, false}) {
    BlasSwitch blas_switch(blas);
    for (const Conv2dGeometry& g : fast_path_cases()) {
      // Default bound: every image in one group. 1: one image per group. Three images' worth: groups of
      // three with an uneven last group (β = 1 accumulation of the weight gradient across groups).
      const int64_t per_image = (g.in_channels * g.kernel_h * g.kernel_w + g.out_channels) * g.out_h * g.out_w;
      for (int64_t bound : {int64_t(1) << 21, int64_t(1), 3 * per_image}) {
        WorkspaceBound workspace(bound);
        INFO("N " << g.batch << " C " << g.in_channels << "→" << g.out_channels << " image " << g.in_h << "×"
                  << g.in_w << " columns " << g.out_h << "×" << g.out_w << " k " << g.kernel_h << "×" << g.kernel_w
                  << " stride " << g.stride_h << "," << g.stride_w << " pad " << g.pad_h << "," << g.pad_w
                  << " dilation " << g.dilation_h << "," << g.dilation_w << " groups " << g.groups << " bound "
                  << bound << " blas " << blas);
        compare_paths<T>(g, tol);
      }
    }
  }
}

}  // namespace

TEST_CASE("conv fast path: forward, input and weight gradients match the reference loops (float64)", "[conv][conv_fast]") {
  compare_all<double>(1e-12);
}

TEST_CASE("conv fast path: forward, input and weight gradients match the reference loops (float32)", "[conv][conv_fast]") {
  compare_all<float>(1e-4);
}

TEST_CASE("conv fast path: row-wise im2col and col2im equal the reference ones", "[conv][conv_fast]") {
  for (const Conv2dGeometry& g : fast_path_cases()) {
    const int64_t rows = g.in_channels * g.kernel_h * g.kernel_w, cols = g.out_h * g.out_w;
    const std::vector<double> x = random_values<double>(size_t(g.in_channels * g.in_h * g.in_w), 5);
    // Two images side by side: the first at column 0, ld = 2·cols; the second half stays untouched.
    std::vector<double> col_rows(size_t(rows * 2 * cols), 7.0), col_ref(size_t(rows * cols));
    kiln::cpu::im2col_rows(g, g.in_channels, x.data(), col_rows.data(), 2 * cols);
    kiln::cpu::im2col(g, g.in_channels, x.data(), col_ref.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t p = 0; p < cols; ++p) {
        REQUIRE(col_rows[size_t(r * 2 * cols + p)] == col_ref[size_t(r * cols + p)]);
        REQUIRE(col_rows[size_t(r * 2 * cols + cols + p)] == 7.0);
      }
    std::vector<double> x_rows(x.size(), 7.0), x_ref(x.size(), 7.0);
    kiln::cpu::col2im_rows(g, g.in_channels, col_rows.data(), 2 * cols, x_rows.data());
    kiln::cpu::col2im(g, g.in_channels, col_ref.data(), x_ref.data());
    for (size_t i = 0; i < x.size(); ++i) REQUIRE(x_rows[i] == Approx(x_ref[i]).margin(1e-12));
  }
}
