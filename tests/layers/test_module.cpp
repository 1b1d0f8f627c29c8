// Module: hierarchical names, state dicts and their errors, train/eval, zero_grad, dtype moves, summaries.
#include <map>

#include "kiln_test.h"
#include "layers/layers.h"

using namespace kiln;
using kiln::test::names_of;

namespace {

std::shared_ptr<Sequential> small_mlp(uint64_t seed) {
  Generator g(seed);
  auto first = std::make_shared<Linear>(4, 3, true, g);  // drawn before the second: a fixed order
  return make_sequential(first, std::make_shared<ReLU>(), std::make_shared<Linear>(3, 2, true, g));
}

// A user-defined module that nests others, as models will.
class Block : public UnaryModule {
 public:
  Block() : UnaryModule("Block") {
    scale = register_parameter("scale", ones({3}));
    norm = register_module("norm", std::make_shared<BatchNorm1d>(3));
    mlp = register_module("mlp", make_sequential(std::make_shared<Linear>(3, 3)));
  }
  Tensor forward(const Tensor& x) override { return (*mlp)((*norm)(x)) * scale; }
  Tensor scale;
  std::shared_ptr<BatchNorm1d> norm;
  std::shared_ptr<Sequential> mlp;
};

class Net : public Module {
 public:
  Net() : Module("Net") {
    blocks = register_module("blocks", make_sequential(std::make_shared<Block>(), std::make_shared<Block>()));
  }
  std::shared_ptr<Sequential> blocks;
};

}  // namespace

TEST_CASE("Sequential names its children 0, 1, ... and their parameters as PyTorch", "[layers]") {
  auto mlp = small_mlp(1);
  CHECK(names_of(mlp->named_parameters()) == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(mlp->parameters()[0].shape() == Shape{3, 4});
  CHECK(mlp->parameters()[3].shape() == Shape{2});
  CHECK(mlp->parameter_count() == 4 * 3 + 3 + 3 * 2 + 2);
  CHECK(mlp->named_children().size() == 3);
  CHECK(mlp->named_parameters(false).empty());
  for (const Tensor& p : mlp->parameters()) {
    CHECK(p.requires_grad());
    CHECK(p.is_leaf());
  }
  // The module's entries are the layer's own handles.
  auto first = std::dynamic_pointer_cast<Linear>((*mlp)[0]);
  REQUIRE(first);
  CHECK(first->weight.is_same(mlp->parameters()[0]));
  CHECK_THROWS_WITH_TEXT((*mlp)[3], "out of range");
}

TEST_CASE("nested modules give dotted names in registration order, and state_dict adds buffers", "[layers]") {
  Net net;
  std::vector<std::string> params = names_of(net.named_parameters());
  CHECK(params == std::vector<std::string>{"blocks.0.scale", "blocks.0.norm.weight", "blocks.0.norm.bias",
                                           "blocks.0.mlp.0.weight", "blocks.0.mlp.0.bias", "blocks.1.scale",
                                           "blocks.1.norm.weight", "blocks.1.norm.bias", "blocks.1.mlp.0.weight",
                                           "blocks.1.mlp.0.bias"});
  CHECK(names_of(net.named_buffers()) ==
        std::vector<std::string>{"blocks.0.norm.running_mean", "blocks.0.norm.running_var",
                                 "blocks.0.norm.num_batches_tracked", "blocks.1.norm.running_mean",
                                 "blocks.1.norm.running_var", "blocks.1.norm.num_batches_tracked"});
  std::vector<std::string> state = names_of(net.state_dict());
  REQUIRE(state.size() == 16);
  CHECK(std::vector<std::string>(state.begin(), state.begin() + 8) ==
        std::vector<std::string>{"blocks.0.scale", "blocks.0.norm.weight", "blocks.0.norm.bias",
                                 "blocks.0.norm.running_mean", "blocks.0.norm.running_var",
                                 "blocks.0.norm.num_batches_tracked", "blocks.0.mlp.0.weight", "blocks.0.mlp.0.bias"});
  CHECK(net.parameter_count() == 2 * (3 + 6 + 12));
}

TEST_CASE("registration refuses bad and duplicate names", "[layers]") {
  Module m("Thing");
  m.register_parameter("w", zeros({2}));
  CHECK_THROWS_WITH_TEXT(m.register_parameter("w", zeros({2})), "'w' is already registered");
  CHECK_THROWS_WITH_TEXT(m.register_buffer("w", zeros({2})), "'w' is already registered");
  CHECK_THROWS_WITH_TEXT(m.register_module("w", std::make_shared<ReLU>()), "'w' is already registered");
  CHECK_THROWS_WITH_TEXT(m.register_parameter("a.b", zeros({2})), "contains '.'");
  CHECK_THROWS_WITH_TEXT(m.register_parameter("", zeros({2})), "empty");
  CHECK_THROWS_WITH_TEXT(m.register_parameter("i", zeros({2}, {.dtype = DType::Int64})), "floating point");
  // An undefined tensor is not listed (PyTorch's None parameter), and a non-leaf is detached.
  m.register_parameter("none", Tensor());
  Tensor x = ones({2}, {.requires_grad = true});
  Tensor p = m.register_parameter("derived", x * 2.0);
  CHECK(p.is_leaf());
  CHECK(p.requires_grad());
  CHECK(names_of(m.named_parameters()) == std::vector<std::string>{"w", "derived"});
}

TEST_CASE("state_dict round trip reproduces a model's outputs", "[layers]") {
  auto a = small_mlp(1), b = small_mlp(2);
  Tensor x = randn({5, 4});
  CHECK(!(test::all_close((*a)(x), (*b)(x)).ok));
  b->load_state_dict(a->state_dict());
  CHECK_CLOSE((*b)(x), (*a)(x), 0, 0);
  // Values are copied, not shared.
  CHECK(!(b->parameters()[0].storage() == a->parameters()[0].storage()));
  CHECK(b->parameters()[0].requires_grad());
  // The map overload, and BatchNorm buffers (int64 num_batches_tracked included).
  BatchNorm1d n1(3), n2(3);
  n1(randn({4, 3}));
  std::map<std::string, Tensor> state;
  for (auto& [name, t] : n1.state_dict()) state[name] = t;
  n2.load_state_dict(state);
  CHECK(n2.num_batches_tracked.item() == 1);
  CHECK_CLOSE(n2.running_mean, n1.running_mean, 0, 0);
}

TEST_CASE("load_state_dict lists every missing, unexpected and mismatched tensor in one error", "[layers]") {
  auto mlp = small_mlp(1);
  NamedTensors state = small_mlp(2)->state_dict();
  Tensor before = mlp->parameters()[0].clone();
  state.erase(state.begin() + 1);                       // 0.bias missing
  state[1].second = zeros({5, 3});                      // 2.weight has the wrong shape
  state.emplace_back("3.weight", zeros({1}));           // unexpected
  state.emplace_back("0.extra", zeros({1}));            // unexpected
  state.emplace_back("x\x1b[2J", zeros({1}));          // unexpected, with an ESC a terminal would obey
  bool threw = false;
  try {
    mlp->load_state_dict(state);
  } catch (const Error& e) {
    threw = true;
    std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("missing keys: 0.bias;") != std::string::npos);
    CHECK(msg.find("unexpected keys: 3.weight; 0.extra; x\\x1b[2J;") != std::string::npos);  // quoted printably
    CHECK(msg.find("shape mismatches: 2.weight (checkpoint [5, 3], module [2, 3])") != std::string::npos);
  }
  CHECK(threw);
  CHECK_CLOSE(mlp->parameters()[0], before, 0, 0);  // nothing was copied
  // Not strict: missing and unexpected keys are allowed, the rest is loaded; shape mismatches still throw.
  state.erase(state.begin() + 1);
  mlp->load_state_dict(state, false);
  CHECK_CLOSE(mlp->parameters()[0], state[0].second, 0, 0);
  state.emplace_back("2.bias", zeros({7}));
  CHECK_THROWS_WITH_TEXT(mlp->load_state_dict(state, false), "2.bias (checkpoint [7], module [2])");
}

TEST_CASE("train and eval reach every submodule", "[layers]") {
  Net net;
  CHECK(net.is_training());
  net.eval();
  for (const auto& [name, block] : net.blocks->named_children()) {
    CHECK(!(block->is_training()));
    auto b = std::dynamic_pointer_cast<Block>(block);
    CHECK(!(b->norm->is_training()));
  }
  net.train();
  CHECK(std::dynamic_pointer_cast<Block>((*net.blocks)[1])->norm->is_training());
}

TEST_CASE("zero_grad leaves gradients undefined", "[layers]") {
  auto mlp = small_mlp(3);
  sum((*mlp)(randn({2, 4}))).backward();
  for (const Tensor& p : mlp->parameters()) CHECK(p.grad().defined());
  mlp->zero_grad();
  for (const Tensor& p : mlp->parameters()) CHECK(!(p.grad().defined()));
}

TEST_CASE("Module::to(DType) converts parameters and buffers in place, keeping leaves that require grad", "[layers]") {
  Sequential model{std::make_shared<Linear>(3, 2), std::make_shared<BatchNorm1d>(2)};
  auto linear = std::dynamic_pointer_cast<Linear>(model[0]);
  auto norm = std::dynamic_pointer_cast<BatchNorm1d>(model[1]);
  std::vector<double> w = linear->weight.to_vector<double>();
  sum(model(randn({4, 3}))).backward();
  model.to(DType::Float64);
  CHECK(linear->weight.dtype() == DType::Float64);  // the layer's own handle sees the conversion
  CHECK(linear->weight.is_leaf());
  CHECK(linear->weight.requires_grad());
  CHECK(linear->weight.grad().dtype() == DType::Float64);
  CHECK_CLOSE(linear->weight, w, 0, 0);
  CHECK(norm->running_var.dtype() == DType::Float64);
  CHECK(norm->num_batches_tracked.dtype() == DType::Int64);
  Tensor y = model(randn({4, 3}, {.dtype = DType::Float64}));
  CHECK(y.dtype() == DType::Float64);
  model.to(Device::cpu());  // a no-op on the same device
  CHECK(linear->weight.dtype() == DType::Float64);
  CHECK_THROWS_WITH_TEXT(model.to(DType::Int64), "not floating point");
}

TEST_CASE("the summary reads like PyTorch's repr", "[layers]") {
  auto mlp = small_mlp(1);
  CHECK(mlp->str() ==
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=3, out_features=2, bias=True)\n"
        ")");
  Net net;
  std::string s = net.str();
  INFO(s);
  CHECK(s.find("Net(\n  (blocks): Sequential(\n    (0): Block(\n      (norm): BatchNorm1d(3, eps=1e-05, momentum=0.1, "
               "affine=True, track_running_stats=True)\n      (mlp): Sequential(\n        (0): Linear(") == 0);
  std::ostringstream os;
  os << ReLU();
  CHECK(os.str() == "ReLU()");
  CHECK(repr::py_float(1e-5) == "1e-05");
  CHECK(repr::py_float(0.0001) == "0.0001");
  CHECK(repr::py_float(20) == "20.0");
  CHECK(repr::py_float(0.1) == "0.1");
  CHECK(repr::py_float(1e16) == "1e+16");
  CHECK(repr::py_tuple({8}) == "(8,)");
}
