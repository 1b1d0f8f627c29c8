// The attention layers: PyTorch's names, shapes and initialization, float64 gradient checks, causality
// (an output never depends on later inputs), attention dropout, errors, and PyTorch 1.13 golden data
// (tests/golden/make_attention.py: torch.nn.MultiheadAttention and a pre-LayerNorm block) in every
// configuration of golden_configs() (tests/golden_harness.h).
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "golden_harness.h"
#include "kiln_test.h"
#include "layers/layers.h"

using namespace kiln;
using kiln::test::names_of;
using kiln::test::random_input;

namespace {

// Every value within ±bound and reaching close to it (the distribution itself is Linear's, tested there).
void check_bound(const Tensor& t, double bound) {
  std::vector<double> v = t.to_vector<double>();
  const double lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
  INFO("bound " << bound << " min " << lo << " max " << hi);
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  CHECK(hi > 0.9 * bound);
  CHECK(lo < -0.9 * bound);
}

// Converts the module to float64 and checks the gradient of fn(x) with respect to x and every parameter.
void gradcheck_module(Module& m, const std::function<Tensor(const Tensor&)>& fn, const Tensor& x) {
  m.to(DType::Float64);
  std::vector<Tensor> inputs = {x};
  for (const Tensor& p : m.parameters()) inputs.push_back(p);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return fn(in[0]); }, inputs);
}

// ---------------------------------------------------------------- golden data

const test::GoldenFile& golden() {
  static const test::GoldenFile file("attention.safetensors");
  return file;
}

// Backpropagates sum(y·w) and compares y and the gradients of the inputs and of every parameter with
// PyTorch's, within the configuration's tolerance (float64: 1e-10, the sums differ only in order).
void check_against_golden(const Module& m, const std::string& prefix, const test::GoldenConfig& config,
                          const Tensor& y, const std::vector<std::pair<std::string, Tensor>>& inputs) {
  const test::GoldenFile& g = golden();
  test::GoldenReport report(prefix, config);
  CHECK_GOLDEN(report, "output", y, g.raw(prefix + ".output"));
  sum(mul(y, g.get(prefix + ".w", config))).backward();
  for (const auto& [name, x] : inputs) {
    REQUIRE(x.grad().defined());
    CHECK_GOLDEN(report, "grad." + name, x.grad(), g.raw(prefix + ".grad." + name));
  }
  for (const auto& [name, p] : m.named_parameters()) {
    INFO("gradient of parameter " << name);
    REQUIRE(p.grad().defined());
    CHECK_GOLDEN(report, "grad." + name, p.grad(), g.raw(prefix + ".grad." + name));
  }
}

// y = fn(x) and fn(x') where x' differs from x only at positions > t along `time_dim`: the outputs must
// agree at positions ≤ t and differ after (so the check is not vacuous).
void check_causal(const std::function<Tensor(const Tensor&)>& fn, const Tensor& x, int64_t time_dim, int64_t t) {
  NoGradGuard no_grad;
  const int64_t T = x.size(time_dim);
  Tensor changed = x.clone();
  narrow(changed, time_dim, t + 1, T - t - 1).add_(ones(narrow(changed, time_dim, t + 1, T - t - 1).shape(),
                                                        changed.options()),
                                                   0.75);
  Tensor y = fn(x), y2 = fn(changed);
  INFO("positions up to " << t << " of " << T);
  CHECK_CLOSE(narrow(y2, time_dim, 0, t + 1), narrow(y, time_dim, 0, t + 1), 1e-12, 1e-12);
  CHECK(max(abs(sub(narrow(y2, time_dim, t + 1, T - t - 1), narrow(y, time_dim, t + 1, T - t - 1))), 0)
            .first.to_vector<double>()[0] > 1e-3);
}

}  // namespace

TEST_CASE("MultiheadAttention: PyTorch's parameter names, shapes and initialization", "[attention]") {
  const int64_t E = 64;
  MultiheadAttention mha(E, 4);
  CHECK(names_of(mha.named_parameters()) ==
        std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"});
  CHECK(mha.in_proj_weight.shape() == Shape{3 * E, E});
  CHECK(mha.in_proj_bias.shape() == Shape{3 * E});
  CHECK(mha.out_proj->weight.shape() == Shape{E, E});
  CHECK(mha.head_dim == 16);
  check_bound(mha.in_proj_weight, std::sqrt(6.0 / (E + 3 * E)));  // xavier_uniform_
  check_bound(mha.out_proj->weight, 1 / std::sqrt(double(E)));    // Linear's default
  CHECK_CLOSE(mha.in_proj_bias, std::vector<double>(3 * E, 0.0), 0, 0);
  CHECK_CLOSE(mha.out_proj->bias, std::vector<double>(E, 0.0), 0, 0);
  CHECK(names_of(MultiheadAttention(8, 2, 0.0, false).named_parameters()) ==
        std::vector<std::string>{"in_proj_weight", "out_proj.weight"});
  Generator g1(5), g2(5);
  CHECK_CLOSE(MultiheadAttention(8, 2, 0.0, true, false, g1).in_proj_weight,
              MultiheadAttention(8, 2, 0.0, true, false, g2).in_proj_weight, 0, 0);
}

TEST_CASE("CausalSelfAttention and TransformerBlock: submodule and state dict names", "[attention]") {
  CausalSelfAttention attn(12, 3);
  CHECK(names_of(attn.named_parameters()) ==
        std::vector<std::string>{"qkv.weight", "qkv.bias", "proj.weight", "proj.bias"});
  CHECK(attn.qkv->weight.shape() == Shape{36, 12});
  CHECK(attn.proj->weight.shape() == Shape{12, 12});
  CHECK(attn.head_dim == 4);
  CHECK(names_of(CausalSelfAttention(12, 3, 0.0, false).named_parameters()) ==
        std::vector<std::string>{"qkv.weight", "proj.weight"});

  TransformerBlock block(12, 3);
  CHECK(names_of(block.state_dict()) ==
        std::vector<std::string>{"ln1.weight", "ln1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
                                 "attn.proj.bias", "ln2.weight", "ln2.bias", "mlp.fc.weight", "mlp.fc.bias",
                                 "mlp.fc2.weight", "mlp.fc2.bias"});
  CHECK(block.mlp->fc->weight.shape() == Shape{48, 12});
  CHECK(block.mlp->fc2->weight.shape() == Shape{12, 48});
  CHECK(TransformerBlock(12, 3, 2.0).mlp->fc->weight.shape() == Shape{24, 12});
  CHECK(block.parameter_count() == 2 * 12 * 2 + 36 * 12 + 36 + 12 * 12 + 12 + 48 * 12 + 48 + 12 * 48 + 12);
  CHECK(block(randn({2, 5, 12})).shape() == Shape{2, 5, 12});
}

TEST_CASE("attention layers: shapes for batch_first, seq-first and unbatched inputs", "[attention]") {
  Generator gen(3);
  MultiheadAttention seq_first(8, 2, 0.0, true, false, gen), batch_first(8, 2, 0.0, true, true, gen);
  batch_first.load_state_dict(seq_first.state_dict());
  Tensor q = randn({5, 3, 8}, {}, gen), kv = randn({7, 3, 8}, {}, gen);
  Tensor y = seq_first(q, kv, kv);
  CHECK(y.shape() == Shape{5, 3, 8});
  // batch_first computes the same on transposed inputs
  CHECK_CLOSE(batch_first(q.transpose(0, 1), kv.transpose(0, 1), kv.transpose(0, 1)), y.transpose(0, 1), 1e-6, 1e-6);
  // an unbatched [L, E] input is batch element 0 of a batch of one
  Tensor y0 = seq_first(q.select(1, 0), kv.select(1, 0), kv.select(1, 0));
  CHECK(y0.shape() == Shape{5, 8});
  CHECK_CLOSE(y0, y.select(1, 0), 1e-6, 1e-6);
  CHECK(CausalSelfAttention(8, 2)(randn({3, 4, 8})).shape() == Shape{3, 4, 8});
}

TEST_CASE("attention layers: float64 gradient checks", "[attention][gradcheck]") {
  Generator gen(11);
  SECTION("MultiheadAttention, cross-attention and causal self-attention, both layouts") {
    for (bool batch_first : {false, true}) {
      INFO("batch_first " << batch_first);
      MultiheadAttention mha(4, 2, 0.0, true, batch_first, gen);
      {
        NoGradGuard no_grad;
        mha.in_proj_bias.copy_(uniform({12}, -0.5, 0.5, {}, gen));  // non-zero biases
      }
      Tensor kv = random_input(batch_first ? Shape{2, 4, 4} : Shape{4, 2, 4}, 21);
      gradcheck_module(mha, [&](const Tensor& x) { return mha(x, kv, kv); },
                       random_input(batch_first ? Shape{2, 3, 4} : Shape{3, 2, 4}, 22));
      gradcheck_module(mha, [&](const Tensor& x) { return mha(x, x, x, true); },
                       random_input(batch_first ? Shape{2, 3, 4} : Shape{3, 2, 4}, 23));
    }
  }
  SECTION("CausalSelfAttention") {
    CausalSelfAttention attn(4, 2, 0.0, true, gen);
    gradcheck_module(attn, [&](const Tensor& x) { return attn(x); }, random_input({2, 3, 4}, 24));
  }
  SECTION("TransformerBlock") {
    TransformerBlock block(4, 2, 2.0, 0.0, gen);
    gradcheck_module(block, [&](const Tensor& x) { return block(x); }, random_input({1, 3, 4}, 25));
  }
}

TEST_CASE("attention layers: causal outputs do not depend on later positions", "[attention]") {
  Generator gen(12);
  MultiheadAttention mha(8, 2, 0.0, true, false, gen);  // [T, N, E]
  CausalSelfAttention attn(8, 2, 0.0, true, gen);
  TransformerBlock block(8, 2, 4.0, 0.0, gen);
  Tensor x = randn({2, 6, 8}, {}, gen);
  for (int64_t t : {0, 2, 4}) {
    check_causal([&](const Tensor& in) { return mha(in, in, in, true); }, x.transpose(0, 1).contiguous(), 0, t);
    check_causal([&](const Tensor& in) { return attn(in); }, x, 1, t);
    check_causal([&](const Tensor& in) { return block(in); }, x, 1, t);
  }
}

TEST_CASE("MultiheadAttention: attention dropout in training only, through the composed path", "[attention]") {
  Generator gen(13);
  MultiheadAttention plain(8, 2, 0.0, true, true, gen), dropped(8, 2, 0.5, true, true, gen);
  dropped.load_state_dict(plain.state_dict());
  Tensor x = randn({2, 5, 8}, {}, gen);
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    dropped.eval();  // eval: the fused op, no dropout
    CHECK_CLOSE(dropped(x, x, x, causal), plain(x, x, x, causal), 0, 0);
    dropped.train();
    Tensor y1 = dropped(x, x, x, causal), y2 = dropped(x, x, x, causal);
    CHECK(max(abs(sub(y1, y2)), 0).first.to_vector<double>()[0] > 1e-3);  // fresh masks each call
    // a vanishing dropout probability: the composed softmax path computes what the fused op does
    MultiheadAttention tiny(8, 2, 1e-12, true, true, gen);
    tiny.load_state_dict(plain.state_dict());
    tiny.to(DType::Float64);
    plain.to(DType::Float64);
    Tensor x64 = x.to(DType::Float64);
    CHECK_CLOSE(tiny(x64, x64, x64, causal), plain(x64, x64, x64, causal), 1e-10, 1e-10);
    plain.to(DType::Float32);
  }
}

TEST_CASE("attention layers: errors name the layer and the shapes", "[attention]") {
  CHECK_THROWS_WITH_TEXT(MultiheadAttention(10, 3), "embed_dim (10) must be divisible by num_heads (3)");
  CHECK_THROWS_WITH_TEXT(CausalSelfAttention(10, 4), "embed_dim (10) must be divisible by num_heads (4)");
  CHECK_THROWS_WITH_TEXT(TransformerBlock(10, 3), "must be divisible by num_heads");
  CHECK_THROWS_WITH_TEXT(MultiheadAttention(8, 0), "must be positive");
  CHECK_THROWS_WITH_TEXT(MultiheadAttention(8, 2, 1.5), "between 0 and 1");
  MultiheadAttention mha(8, 2);
  CHECK_THROWS_WITH_TEXT(mha(randn({5, 2, 6}), randn({5, 2, 6}), randn({5, 2, 6})), "embed_dim = 8");
  CHECK_THROWS_WITH_TEXT(mha(randn({5, 2, 8}), randn({5, 8}), randn({5, 8})), "must all be 3-D (batched) or all 2-D");
  CHECK_THROWS_WITH_TEXT(mha(randn({5, 2, 8}), randn({4, 2, 8}), randn({3, 2, 8})), "does not match value shape");
  CHECK_THROWS_WITH_TEXT(mha(randn({5, 2, 8}), randn({4, 3, 8}), randn({4, 3, 8})), "batch size 2");
  CausalSelfAttention attn(8, 2);
  CHECK_THROWS_WITH_TEXT(attn(randn({4, 8})), "expected input [B, T, embed_dim = 8]");
  CHECK_THROWS_WITH_TEXT(attn(randn({2, 4, 6})), "got shape [2, 4, 6]");
  CHECK_THROWS_WITH_TEXT(TransformerBlock(8, 2)(randn({2, 4, 6})), "TransformerBlock: expected input [B, T, embed_dim = 8]");
}

TEST_CASE("MultiheadAttention matches torch.nn.MultiheadAttention (golden)", "[attention][golden]") {
  const test::GoldenFile& g = golden();
  for (const test::GoldenConfig& config : test::golden_configs()) {
    for (const std::string prefix : {"mha_cross", "mha_cross_bf"}) {
      INFO(prefix << " [" << config.name() << "]");
      MultiheadAttention mha(8, 2, 0.0, true, prefix == "mha_cross_bf");
      g.load_weights(mha, prefix, config);
      Tensor q = g.get(prefix + ".query", config, true), k = g.get(prefix + ".key", config, true),
             v = g.get(prefix + ".value", config, true);
      check_against_golden(mha, prefix, config, mha(q, k, v), {{"query", q}, {"key", k}, {"value", v}});
    }
    for (const std::string prefix : {"mha_causal", "mha_causal_bf"}) {
      INFO(prefix << " [" << config.name() << "]");
      MultiheadAttention mha(8, 2, 0.0, true, prefix == "mha_causal_bf");
      g.load_weights(mha, prefix, config);
      Tensor x = g.get(prefix + ".x", config, true);
      check_against_golden(mha, prefix, config, mha(x, x, x, /*causal=*/true), {{"x", x}});
    }
  }
}

TEST_CASE("TransformerBlock matches a PyTorch pre-LayerNorm block (golden)", "[attention][golden]") {
  for (const test::GoldenConfig& config : test::golden_configs()) {
    INFO(config.name());
    TransformerBlock block(16, 4);
    golden().load_weights(block, "block", config);
    Tensor x = golden().get("block.x", config, true);
    check_against_golden(block, "block", config, block(x), {{"x", x}});
  }
}
