// GPT: PyTorch's parameter names and count for the anchor configuration, shapes, causality; and
// next-token sampling (greedy limits, top-k, frequencies).
#include <cmath>

#include "core/random.h"
#include "kiln_test.h"
#include "models/gpt.h"
#include "models/sampling.h"

using namespace kiln;
using namespace kiln::models;

TEST_CASE("GPT: names, parameter count, shapes and causality", "[models][gpt]") {
  GPT anchor;  // vocab 65, context 256, 6 layers, 6 heads, width 384
  CHECK(anchor.parameter_count() == 10795776);  // PyTorch's count for torch_anchors.GPT()
  auto names = anchor.state_dict();
  CHECK(names[0].first == "wte.weight");
  CHECK(names[2].first == "blocks.0.ln1.weight");
  CHECK(names.back().first == "head.weight");

  Generator g(2);
  GPT gpt(GptConfig{.vocab = 7, .context = 8, .layers = 2, .heads = 2, .width = 8}, g);
  Tensor ids = from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, {1, 6}, {.dtype = DType::Int64});
  Tensor logits = gpt.forward(ids);
  CHECK(logits.shape() == Shape{1, 6, 7});
  // Changing the last token leaves the logits of every earlier position unchanged.
  Tensor other = from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 0}, {1, 6}, {.dtype = DType::Int64});
  CHECK_CLOSE(gpt.forward(other).narrow(1, 0, 5), logits.narrow(1, 0, 5), 1e-6, 1e-6);
  CHECK_THROWS_WITH_TEXT(gpt.forward(zeros({1, 9}, {.dtype = DType::Int64})), "sequence length 9 exceeds the context of 8");
  CHECK_THROWS_WITH_TEXT(GPT(GptConfig{.heads = 5}), "width 384 is not a multiple of heads 5");
}

TEST_CASE("sampling: temperature, top-k and frequencies", "[models][sampling]") {
  Generator g(1);
  Tensor logits = from_vector(std::vector<double>{0.0, 2.0, 1.0, -1.0}, {4}, {.dtype = DType::Float64});
  CHECK(sample_token(logits, 1e-6, 0, g) == 1);
  CHECK(sample_token(logits, 10.0, 1, g) == 1);
  int counts[4] = {};
  for (int i = 0; i < 4000; ++i) ++counts[sample_token(logits, 1.0, 2, g)];
  CHECK(counts[0] == 0);
  CHECK(counts[3] == 0);
  // Top-2 softmax: p(1) = e²/(e² + e) = 0.731.
  CHECK(std::abs(counts[1] / 4000.0 - 0.731) < 0.03);
  CHECK_THROWS_WITH_TEXT(sample_token(logits, 0.0, 0, g), "temperature must be positive");
  // −∞ masks a token out; NaN (a diverged model) is an error, not a silently arbitrary sample
  Tensor masked = from_vector(std::vector<double>{-INFINITY, 2.0, -INFINITY}, {3}, {.dtype = DType::Float64});
  CHECK(sample_token(masked, 1.0, 2, g) == 1);
  Tensor diverged = from_vector(std::vector<double>{0.0, NAN, 1.0}, {3}, {.dtype = DType::Float64});
  CHECK_THROWS_WITH_TEXT(sample_token(diverged, 1.0, 2, g), "the logits hold nan (has the model diverged?");
}
