// The op table: every op kiln can differentiate (and the few it cannot) is listed here once.
// The enum OpId, the op names, and the gradient-check coverage test are all generated from this
// list, so they cannot drift apart. Each op's forward, backward (math in a comment) and shape
// rules live together in one file of core/ops/; the file is named in the third column.
//
// X(name, differentiable, file)
#pragma once
#include <cstdint>

#define KILN_OPS(X)                                  \
  /* views and copies: core/ops/views.cpp */         \
  X(view, true, "views")                             \
  X(permute, true, "views")                          \
  X(expand, true, "views")                           \
  X(slice, true, "views")                            \
  X(select, true, "views")                           \
  X(clone, true, "views")                            \
  X(to_dtype, true, "views")                         \
  X(to_device, true, "views")                        \
  /* elementwise unary: core/ops/unary.cpp */        \
  X(neg, true, "unary")                              \
  X(exp, true, "unary")                              \
  X(log, true, "unary")                              \
  X(sqrt, true, "unary")                             \
  X(rsqrt, true, "unary")                            \
  X(abs, true, "unary")                              \
  X(tanh, true, "unary")                             \
  X(sigmoid, true, "unary")                          \
  X(relu, true, "unary")                             \
  X(leaky_relu, true, "unary")                       \
  X(elu, true, "unary")                              \
  X(gelu, true, "unary")                             \
  X(gelu_tanh, true, "unary")                        \
  X(silu, true, "unary")                             \
  X(softplus, true, "unary")                         \
  X(pow_scalar, true, "unary")                       \
  X(clamp, true, "unary")                            \
  X(add_scalar, true, "unary")                       \
  X(mul_scalar, true, "unary")                       \
  X(reciprocal, true, "unary")                       \
  /* elementwise binary with broadcasting: core/ops/binary.cpp */ \
  X(add, true, "binary")                             \
  X(sub, true, "binary")                             \
  X(mul, true, "binary")                             \
  X(div, true, "binary")                             \
  X(pow, true, "binary")                             \
  X(maximum, true, "binary")                         \
  X(minimum, true, "binary")                         \
  X(where, true, "binary")                           \
  X(eq, false, "binary")                             \
  X(ne, false, "binary")                             \
  X(lt, false, "binary")                             \
  X(le, false, "binary")                             \
  X(gt, false, "binary")                             \
  X(ge, false, "binary")                             \
  /* reductions: core/ops/reduce.cpp */              \
  X(sum, true, "reduce")                             \
  X(mean, true, "reduce")                            \
  X(amax, true, "reduce")                            \
  X(amin, true, "reduce")                            \
  X(max_dim, true, "reduce")                         \
  X(min_dim, true, "reduce")                         \
  X(argmax, false, "reduce")                         \
  X(argmin, false, "reduce")                         \
  X(var, true, "reduce")                             \
  X(stddev, true, "reduce")                          \
  X(logsumexp, true, "reduce")                       \
  /* matrix products: core/ops/matmul.cpp */         \
  X(matmul, true, "matmul")                          \
  X(linear, true, "matmul")                          \
  /* softmax and losses: core/ops/softmax.cpp, core/ops/loss.cpp */ \
  X(softmax, true, "softmax")                        \
  X(log_softmax, true, "softmax")                    \
  X(cross_entropy, true, "loss")                     \
  X(binary_cross_entropy_with_logits, true, "loss")  \
  X(mse_loss, true, "loss")                          \
  X(gaussian_kl, true, "loss")                       \
  /* indexing and joining: core/ops/index.cpp */     \
  X(embedding, true, "index")                        \
  X(index_select, true, "index")                     \
  X(gather, true, "index")                           \
  X(one_hot, false, "index")                         \
  X(cat, true, "index")                              \
  /* convolution and pooling: core/ops/conv.cpp, core/ops/pool.cpp */ \
  X(conv2d, true, "conv")                            \
  X(conv_transpose2d, true, "conv")                  \
  X(max_pool2d, true, "pool")                        \
  X(avg_pool2d, true, "pool")                        \
  X(adaptive_avg_pool2d, true, "pool")               \
  X(upsample_nearest2d, true, "pool")                \
  /* normalization and dropout: core/ops/norm.cpp */ \
  X(batch_norm, true, "norm")                        \
  X(layer_norm, true, "norm")                        \
  X(group_norm, true, "norm")                        \
  X(dropout, true, "norm")                           \
  /* attention and recurrent cells: core/ops/attention.cpp, core/ops/rnn_cell.cpp */ \
  X(scaled_dot_product_attention, true, "attention") \
  X(lstm_cell, true, "rnn_cell")                     \
  X(gru_cell, true, "rnn_cell")                      \
  /* whole recurrent stacks through cuDNN (its gradient check needs a GPU): core/ops/rnn.cpp */ \
  X(cudnn_rnn, true, "rnn")                          \
  /* one LSTM layer over all steps (the cell loop's fast path): core/ops/lstm_layer.cpp */ \
  X(lstm_layer, true, "lstm_layer")

namespace kiln {

enum class OpId : uint16_t {
#define KILN_OP_ENUM(name, differentiable, file) name,
  KILN_OPS(KILN_OP_ENUM)
#undef KILN_OP_ENUM
  Count  // not an op: marks nodes that are not ops (gradient accumulation into leaves)
};

constexpr int kOpCount = int(OpId::Count);
// Adding an op? Add it above, give it a gradient check, then bump this number.
static_assert(kOpCount == 81, "the op table changed: update kOpCount's expected value and the tests");

const char* op_name(OpId op);
bool op_is_differentiable(OpId op);

}  // namespace kiln
