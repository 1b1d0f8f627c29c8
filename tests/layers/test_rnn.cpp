// LSTM and GRU layers: PyTorch's parameter names, shapes and initialization; outputs against a loop written
// out here in plain doubles; float64 gradient checks through the layers (2 layers, with and without initial
// states, batch_first); PyTorch's own numbers (tests/golden/rnn.safetensors, from make_rnn.py); dropout
// between layers in training only; unbatched input; shape and argument errors.
#include <algorithm>
#include <cmath>
#include <map>

#include "core/autograd/grad_mode.h"
#include "core/serialization/safetensors.h"
#include "golden_harness.h"
#include "kiln_test.h"
#include "layers/layers.h"

using namespace kiln;
using kiln::test::names_of;
using kiln::test::random_input;

namespace {

double sig(double v) { return 1 / (1 + std::exp(-v)); }

// The LSTM/GRU recurrence written out in plain doubles (independent of kiln's ops): x [T, N, in] row-major,
// w = 4 vectors per layer (weight_ih, weight_hh, bias_ih, bias_hh), h0/c0 [L, N, H] (empty: zeros).
struct LoopResult {
  std::vector<double> out, h_n, c_n;
};
LoopResult reference_loop(bool lstm, const std::vector<std::vector<double>>& w, const std::vector<double>& x,
                          int64_t T, int64_t N, int64_t in, int64_t H, int64_t L, const std::vector<double>& h0,
                          const std::vector<double>& c0) {
  const int64_t G = lstm ? 4 : 3;
  std::vector<double> input = x;
  LoopResult r;
  for (int64_t l = 0; l < L; ++l) {
    const int64_t in_l = l == 0 ? in : H;
    const auto &w_ih = w[size_t(4 * l)], &w_hh = w[size_t(4 * l + 1)], &b_ih = w[size_t(4 * l + 2)],
               &b_hh = w[size_t(4 * l + 3)];
    std::vector<double> h(size_t(N * H), 0.0), c(size_t(N * H), 0.0), out(size_t(T * N * H));
    if (!h0.empty()) std::copy(h0.begin() + l * N * H, h0.begin() + (l + 1) * N * H, h.begin());
    if (!c0.empty()) std::copy(c0.begin() + l * N * H, c0.begin() + (l + 1) * N * H, c.begin());
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n) {
        std::vector<double> gi(size_t(G * H)), gh(size_t(G * H));
        for (int64_t row = 0; row < G * H; ++row) {
          double si = b_ih[size_t(row)], sh = b_hh[size_t(row)];
          for (int64_t k = 0; k < in_l; ++k) si += w_ih[size_t(row * in_l + k)] * input[size_t((t * N + n) * in_l + k)];
          for (int64_t k = 0; k < H; ++k) sh += w_hh[size_t(row * H + k)] * h[size_t(n * H + k)];
          gi[size_t(row)] = si;
          gh[size_t(row)] = sh;
        }
        for (int64_t j = 0; j < H; ++j) {
          double& hj = h[size_t(n * H + j)];
          if (lstm) {
            auto a = [&](int64_t gate) { return gi[size_t(gate * H + j)] + gh[size_t(gate * H + j)]; };
            double i = sig(a(0)), f = sig(a(1)), g = std::tanh(a(2)), o = sig(a(3));
            double& cj = c[size_t(n * H + j)];
            cj = f * cj + i * g;
            hj = o * std::tanh(cj);
          } else {
            double rr = sig(gi[size_t(j)] + gh[size_t(j)]), z = sig(gi[size_t(H + j)] + gh[size_t(H + j)]);
            double nn = std::tanh(gi[size_t(2 * H + j)] + rr * gh[size_t(2 * H + j)]);
            hj = (1 - z) * nn + z * hj;
          }
          out[size_t((t * N + n) * H + j)] = hj;
        }
      }
    r.h_n.insert(r.h_n.end(), h.begin(), h.end());
    r.c_n.insert(r.c_n.end(), c.begin(), c.end());
    input = out;
  }
  r.out = input;
  return r;
}

std::vector<std::vector<double>> weight_values(const RNNBase& m) {
  std::vector<std::vector<double>> w;
  for (const Tensor& t : m.all_weights()) w.push_back(t.to_vector<double>());
  return w;
}

// The tensors of a golden case whose names start with prefix, the prefix removed.
std::map<std::string, Tensor> with_prefix(const SafetensorsFile& file, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : file.tensors)
    if (name.rfind(prefix, 0) == 0) out[name.substr(prefix.size())] = t;
  return out;
}

}  // namespace

TEST_CASE("LSTM and GRU: PyTorch parameter names, shapes and U(-1/sqrt(H), 1/sqrt(H)) initialization", "[rnn]") {
  LSTM lstm(10, 20, {.num_layers = 2});
  CHECK(names_of(lstm.named_parameters()) ==
        std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l1",
                                 "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"});
  const std::vector<Shape> lstm_shapes = {{80, 10}, {80, 20}, {80}, {80}, {80, 20}, {80, 20}, {80}, {80}};
  for (size_t k = 0; k < lstm_shapes.size(); ++k) CHECK(lstm.parameters()[k].shape() == lstm_shapes[k]);
  GRU gru(7, 30, {.num_layers = 3, .bias = false});
  CHECK(names_of(gru.named_parameters()) ==
        std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1", "weight_ih_l2",
                                 "weight_hh_l2"});
  CHECK(gru.parameters()[0].shape() == Shape{90, 7});
  CHECK(gru.parameters()[1].shape() == Shape{90, 30});
  CHECK(gru.parameters()[2].shape() == Shape{90, 30});

  // Every parameter ~ U(−1/√H, 1/√H): within the bound, reaching close to it, with U's mean and variance.
  for (const Module* m : {static_cast<const Module*>(&lstm), static_cast<const Module*>(&gru)}) {
    const double bound = 1 / std::sqrt(m == &lstm ? 20.0 : 30.0);
    std::vector<double> all;
    for (const Tensor& p : m->parameters()) {
      std::vector<double> v = p.to_vector<double>();
      CHECK(*std::max_element(v.begin(), v.end()) <= bound);
      CHECK(*std::min_element(v.begin(), v.end()) >= -bound);
      all.insert(all.end(), v.begin(), v.end());
    }
    double mean = 0, sq = 0;
    for (double v : all) mean += v;
    mean /= double(all.size());
    for (double v : all) sq += (v - mean) * (v - mean);
    INFO(m->type_name() << " mean " << mean << " variance " << sq / double(all.size()));
    CHECK(std::fabs(mean) < 0.05 * bound);
    CHECK(std::fabs(sq / double(all.size()) - bound * bound / 3) < 0.05 * bound * bound / 3);
    CHECK(*std::max_element(all.begin(), all.end()) > 0.99 * bound);
  }
  // The same seed gives the same layer.
  Generator g1(3), g2(3);
  CHECK_CLOSE(LSTM(4, 5, {}, g1).parameters()[1], LSTM(4, 5, {}, g2).parameters()[1], 0, 0);
  // Printed as PyTorch prints them.
  CHECK(lstm.str() == "LSTM(10, 20, num_layers=2)");
  CHECK(GRU(3, 4, {.bias = false, .batch_first = true, .dropout = 0.5}).str() ==
        "GRU(3, 4, bias=False, batch_first=True, dropout=0.5)");
}

TEST_CASE("LSTM and GRU: outputs and final states equal a loop written out by hand", "[rnn]") {
  const int64_t T = 3, N = 2, in = 2, H = 3, L = 2;
  for (bool is_lstm : {true, false})
    for (bool with_state : {false, true}) {
      INFO((is_lstm ? "LSTM" : "GRU") << (with_state ? " with initial state" : " from zeros"));
      Generator gen(11);
      std::unique_ptr<RNNBase> m;
      if (is_lstm) m = std::make_unique<LSTM>(in, H, RNNOptions{.num_layers = L}, gen);
      else m = std::make_unique<GRU>(in, H, RNNOptions{.num_layers = L}, gen);
      m->to(DType::Float64);
      Tensor x = random_input({T, N, in}, 1).detach();
      Tensor h0 = with_state ? random_input({L, N, H}, 2).detach() : Tensor();
      Tensor c0 = with_state && is_lstm ? random_input({L, N, H}, 3).detach() : Tensor();
      RnnOutput r = is_lstm ? static_cast<LSTM&>(*m)(x, h0, c0) : static_cast<GRU&>(*m)(x, h0);
      LoopResult e = reference_loop(is_lstm, weight_values(*m), x.to_vector<double>(), T, N, in, H, L,
                                    h0.defined() ? h0.to_vector<double>() : std::vector<double>(),
                                    c0.defined() ? c0.to_vector<double>() : std::vector<double>());
      CHECK(r.output.shape() == Shape{T, N, H});
      CHECK(r.h_n.shape() == Shape{L, N, H});
      CHECK_CLOSE(r.output, e.out, 1e-12, 1e-12);
      CHECK_CLOSE(r.h_n, e.h_n, 1e-12, 1e-12);
      if (is_lstm) CHECK_CLOSE(r.c_n, e.c_n, 1e-12, 1e-12);
      else CHECK(!r.c_n.defined());
      // the last layer's last output is its final h
      CHECK_CLOSE(select(r.output, 0, T - 1), select(r.h_n, 0, L - 1), 0, 0);
    }
}

TEST_CASE("LSTM and GRU: gradient checks through two layers, with and without initial states, batch_first",
          "[rnn][gradcheck]") {
  const int64_t T = 3, N = 2, in = 2, H = 3, L = 2;
  for (bool is_lstm : {true, false})
    for (bool batch_first : {false, true})
      for (bool with_state : {false, true}) {
        INFO((is_lstm ? "LSTM" : "GRU") << " batch_first " << batch_first << " initial state " << with_state);
        Generator gen(21);
        RNNOptions options{.num_layers = L, .batch_first = batch_first};
        std::unique_ptr<RNNBase> m;
        if (is_lstm) m = std::make_unique<LSTM>(in, H, options, gen);
        else m = std::make_unique<GRU>(in, H, options, gen);
        m->to(DType::Float64);
        Tensor x = random_input(batch_first ? Shape{N, T, in} : Shape{T, N, in}, 31, -1, 1);
        Tensor h0 = with_state ? random_input({L, N, H}, 32, -1, 1) : Tensor();
        Tensor c0 = with_state && is_lstm ? random_input({L, N, H}, 33, -1, 1) : Tensor();
        std::vector<Tensor> inputs = {x, h0, c0};
        for (const Tensor& p : m->parameters()) inputs.push_back(p);
        CHECK_GRADCHECK(
            [&](const std::vector<Tensor>& v) {
              RnnOutput r = is_lstm ? static_cast<LSTM&>(*m)(v[0], v[1], v[2]) : static_cast<GRU&>(*m)(v[0], v[1]);
              std::vector<Tensor> out = {r.output, r.h_n};
              if (is_lstm) out.push_back(r.c_n);
              return out;
            },
            inputs);
      }
}

TEST_CASE("LSTM and GRU match PyTorch: outputs, final states and every gradient (golden)", "[rnn][golden]") {
  const test::GoldenFile file("rnn.safetensors");
  const SafetensorsFile raw = load_safetensors(test::golden_path("rnn.safetensors"));
  for (const test::GoldenConfig& config : test::golden_configs())
    for (const char* name : {"lstm", "lstm_batch_first", "gru", "gru_batch_first"}) {
      INFO("case " << name << " [" << config.name() << "]");
      const std::string p = std::string(name) + ".";
      const bool is_lstm = p.rfind("lstm", 0) == 0, batch_first = p.find("batch_first") != std::string::npos;
      RNNOptions options{.num_layers = 2, .batch_first = batch_first};
      std::unique_ptr<RNNBase> m;
      if (is_lstm) m = std::make_unique<LSTM>(3, 5, options);
      else m = std::make_unique<GRU>(3, 5, options);
      file.load_weights(*m, p + "state", config);
      Tensor x = file.get(p + "x", config, true), h0 = file.get(p + "h0", config, true);
      Tensor c0 = is_lstm ? file.get(p + "c0", config, true) : Tensor();
      RnnOutput r = is_lstm ? static_cast<LSTM&>(*m)(x, h0, c0) : static_cast<GRU&>(*m)(x, h0);
      test::GoldenReport report(name, config);
      CHECK_GOLDEN(report, "out", r.output, file.raw(p + "out"));
      CHECK_GOLDEN(report, "h_n", r.h_n, file.raw(p + "h_n"));
      Tensor loss = sum(mul(r.output, file.get(p + "w_out", config))) + sum(mul(r.h_n, file.get(p + "w_h", config)));
      if (is_lstm) {
        CHECK_GOLDEN(report, "c_n", r.c_n, file.raw(p + "c_n"));
        loss = loss + sum(mul(r.c_n, file.get(p + "w_c", config)));
      }
      loss.backward();
      CHECK_GOLDEN(report, "grad_x", x.grad(), file.raw(p + "grad_x"));
      CHECK_GOLDEN(report, "grad_h0", h0.grad(), file.raw(p + "grad_h0"));
      if (is_lstm) CHECK_GOLDEN(report, "grad_c0", c0.grad(), file.raw(p + "grad_c0"));
      CHECK(with_prefix(raw, p + "grad.").size() == m->named_parameters().size());  // none left unchecked
      for (const auto& [param_name, param] : m->named_parameters()) {
        INFO("gradient of " << param_name);
        REQUIRE(file.has(p + "grad." + param_name));
        REQUIRE(param.grad().defined());
        CHECK_GOLDEN(report, "grad." + param_name, param.grad(), file.raw(p + "grad." + param_name));
      }
    }
}

TEST_CASE("LSTM and GRU: dropout between layers, in training only, from the layer's generator", "[rnn]") {
  const int64_t T = 4, N = 3, in = 2, H = 6;
  Tensor x = random_input({T, N, in}, 41).detach();
  for (bool is_lstm : {true, false}) {
    INFO((is_lstm ? "LSTM" : "GRU"));
    auto make = [&](int64_t layers, double p, Generator& g) -> std::unique_ptr<RNNBase> {
      RNNOptions o{.num_layers = layers, .dropout = p};
      if (is_lstm) return std::make_unique<LSTM>(in, H, o, g);
      return std::make_unique<GRU>(in, H, o, g);
    };
    auto run = [&](RNNBase& m, const Tensor& input) {
      return is_lstm ? static_cast<LSTM&>(m)(input) : static_cast<GRU&>(m)(input);
    };
    Generator g(5), g_plain(5);
    auto dropped = make(2, 0.5, g);
    auto plain = make(2, 0.0, g_plain);  // the same weights (same seed, same draws), no dropout
    dropped->to(DType::Float64);
    plain->to(DType::Float64);
    // eval: no dropout at all
    dropped->eval();
    CHECK_CLOSE(run(*dropped, x).output, run(*plain, x).output, 0, 0);
    // training: the second layer sees dropout(first layer's output); replay that by hand with the same stream
    dropped->train();
    const uint64_t seed = g.seed(), offset = g.offset();
    RnnOutput trained = run(*dropped, x);
    CHECK(g.offset() > offset);  // the mask was drawn from the layer's generator
    CHECK(kiln::test::all_close(trained.output, run(*plain, x).output, 1e-6, 0).ok == false);
    Generator replay(seed);
    replay.set_state(seed, offset);
    const std::vector<Tensor>& w = dropped->all_weights();
    RnnOutput first = rnn(is_lstm ? RnnMode::LSTM : RnnMode::GRU, x, Tensor(), Tensor(),
                          std::vector<Tensor>(w.begin(), w.begin() + 4));
    Tensor second_in = dropout(first.output, 0.5, true, replay);
    RnnOutput second = rnn(is_lstm ? RnnMode::LSTM : RnnMode::GRU, second_in, Tensor(), Tensor(),
                           std::vector<Tensor>(w.begin() + 4, w.end()));
    CHECK_CLOSE(trained.output, second.output, 1e-14, 1e-14);
    CHECK_CLOSE(trained.h_n, cat({first.h_n, second.h_n}, 0), 1e-14, 1e-14);
    // one layer: nothing after the last layer, so training changes nothing
    Generator g1(9), g2(9);
    auto single = make(1, 0.5, g1), single_plain = make(1, 0.0, g2);
    CHECK_CLOSE(run(*single, x.to(DType::Float32)).output, run(*single_plain, x.to(DType::Float32)).output, 0, 0);
  }
}

TEST_CASE("LSTM and GRU: unbatched input [T, in] and initial states [L, H]", "[rnn]") {
  const int64_t T = 5, in = 3, H = 4, L = 2;
  LSTM lstm(in, H, {.num_layers = L});
  GRU gru(in, H, {.num_layers = L, .batch_first = true});  // batch_first does not apply to unbatched input
  Tensor x = randn({T, in}), h0 = randn({L, H}), c0 = randn({L, H});
  RnnOutput a = lstm(x, h0, c0), b = lstm(unsqueeze(x, 1), unsqueeze(h0, 1), unsqueeze(c0, 1));
  CHECK(a.output.shape() == Shape{T, H});
  CHECK(a.h_n.shape() == Shape{L, H});
  CHECK(a.c_n.shape() == Shape{L, H});
  CHECK_CLOSE(a.output, squeeze(b.output, 1), 0, 0);
  CHECK_CLOSE(a.c_n, squeeze(b.c_n, 1), 0, 0);
  RnnOutput g = gru(x, h0), gb = gru(unsqueeze(x, 0), unsqueeze(h0, 1));
  CHECK(g.output.shape() == Shape{T, H});
  CHECK_CLOSE(g.output, squeeze(gb.output, 0), 0, 0);
  CHECK_CLOSE(g.h_n, squeeze(gb.h_n, 1), 0, 0);
}

TEST_CASE("LSTM and GRU: errors name the layer, the argument and the shapes", "[rnn]") {
  LSTM lstm(3, 4, {.num_layers = 2});
  GRU gru(3, 4, {.batch_first = true});
  CHECK_THROWS_WITH_TEXT(lstm(randn({5, 2, 7})), "LSTM: input has shape [5, 2, 7], expected [T, N, input_size]");
  CHECK_THROWS_WITH_TEXT(lstm(randn({3})), "or unbatched [T, input_size] with input_size = 3");
  CHECK_THROWS_WITH_TEXT(gru(randn({2, 5, 3, 1})), "GRU: input has shape [2, 5, 3, 1], expected [N, T, input_size]");
  CHECK_THROWS_WITH_TEXT(lstm(randn({5, 2, 3}), randn({1, 2, 4}), randn({2, 2, 4})),
                         "LSTM: h0 has shape [1, 2, 4], expected [2, 2, 4]");
  CHECK_THROWS_WITH_TEXT(lstm(randn({5, 2, 3}), randn({2, 2, 4}), randn({2, 3, 4})),
                         "LSTM: c0 has shape [2, 3, 4], expected [2, 2, 4]");
  CHECK_THROWS_WITH_TEXT(lstm(randn({5, 2, 3}), randn({2, 2, 4})), "pass both initial states (h0, c0) or neither");
  CHECK_THROWS_WITH_TEXT(gru(randn({2, 5, 3}), randn({1, 5, 4})), "GRU: h0 has shape [1, 5, 4], expected [1, 2, 4]");
  CHECK_THROWS_WITH_TEXT(lstm(randn({5, 2, 3}, {.dtype = DType::Float64})),
                         "LSTM: input is float64 on cpu but the parameters are float32 on cpu");
  CHECK_THROWS_WITH_TEXT(lstm(randn({0, 2, 3})), "expected at least one time step");
  // Options PyTorch has and kiln does not support, or that make no sense.
  CHECK_THROWS_WITH_TEXT(LSTM(3, 4, {.bidirectional = true}), "LSTM: bidirectional=True is not supported");
  CHECK_THROWS_WITH_TEXT(LSTM(3, 4, {.proj_size = 2}), "LSTM: proj_size=2 is not supported");
  CHECK_THROWS_WITH_TEXT(GRU(3, 4, {.proj_size = 2}), "projections exist only for LSTM");
  CHECK_THROWS_WITH_TEXT(GRU(3, 4, {.dropout = 1.5}), "GRU: dropout must be a probability between 0 and 1, got 1.5");
  CHECK_THROWS_WITH_TEXT(LSTM(3, 0), "LSTM: input_size and hidden_size must be positive, got 3 and 0");
  CHECK_THROWS_WITH_TEXT(GRU(3, 4, {.num_layers = 0}), "GRU: num_layers must be positive");
  // The functional form checks its weights by PyTorch's names.
  const std::vector<Tensor>& w = lstm.all_weights();
  CHECK_THROWS_WITH_TEXT(
      kiln::lstm(randn({5, 2, 3}), Tensor(), Tensor(), {w[0], w[1], w[2], w[3], w[0], w[5], w[6], w[7]}),
      "lstm: weight_ih_l1 has shape [16, 3], expected [16, 4]");
  CHECK_THROWS_WITH_TEXT(kiln::lstm(randn({5, 2, 3}), Tensor(), Tensor(), {w[0], w[1], w[2], Tensor()}),
                         "lstm: bias_hh_l0 is undefined but bias_ih_l0 is defined");
  CHECK_THROWS_WITH_TEXT(kiln::lstm(randn({5, 2, 3}), Tensor(), Tensor(), {w[0], w[1], w[2]}),
                         "expected 4 weights per layer");
  CHECK_THROWS_WITH_TEXT(kiln::gru(randn({5, 2, 3}), Tensor(), gru.all_weights(), {.dropout = -0.1}),
                         "gru: dropout must be between 0 and 1");
  CHECK_THROWS_WITH_TEXT(rnn(RnnMode::GRU, randn({5, 2, 3}), Tensor(), randn({1, 2, 4}), gru.all_weights()),
                         "gru: c0 was given but a GRU has no cell state");
  if (!cudnn_rnn_available())
    CHECK_THROWS_WITH_TEXT(kiln::gru(randn({5, 2, 3}), Tensor(), gru.all_weights(), {.backend = RnnBackend::Cudnn}),
                           "gru: the cuDNN backend was asked for but cannot run");
  CHECK_THROWS_WITH_TEXT(cudnn_rnn(RnnMode::GRU, randn({5, 2, 3}), Tensor(), Tensor(), gru.all_weights()),
                         "cudnn_rnn: x is on cpu, expected a CUDA device");
}
