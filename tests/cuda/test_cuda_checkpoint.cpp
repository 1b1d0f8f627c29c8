// Checkpoints and the device: bit-exact resume of a training run on the GPU in deterministic mode,
// GPU state snapshotted to the CPU and loaded back onto the model's device, and the on-device int64
// counter of BatchNorm (int64 add on CUDA, momentum = None) against the CPU.
// Skipped with a visible warning where no CUDA device is present.
#include <filesystem>

#include <unistd.h>

#include "core/checkpoint_resume.h"
#include "core/cuda_context.h"
#include "cuda/conformance.h"
#include "layers/norm.h"

using namespace kiln;

namespace {

// Deterministic mode for the scope (restored afterwards).
struct DeterministicScope {
  bool before = deterministic();
  DeterministicScope() { set_deterministic(true); }
  ~DeterministicScope() { set_deterministic(before); }
};

std::string temp_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("kiln_test_cuda_checkpoint_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace

TEST_CASE("CUDA checkpoint: N steps straight equal N/2 + save + load + N/2, bit for bit (deterministic)",
          "[cuda][checkpoint]") {
  REQUIRE_CUDA_OR_SKIP();
  DeterministicScope deterministic_mode;
  for (int64_t split : {int64_t(0), int64_t(5), int64_t(7)})
    kiln::test::resume::check_resume_is_bit_exact(Device::cuda(0), split, temp_dir());
}

TEST_CASE("CUDA checkpoint: GPU state is saved from the CPU copy and loaded back onto the device",
          "[cuda][checkpoint]") {
  REQUIRE_CUDA_OR_SKIP();
  manual_seed(3);
  kiln::test::resume::Net net;
  net.to(Device::cuda(0));
  AdamW opt(net.parameters());
  sum(net.forward(randn({4, kiln::test::resume::kFeatures}).to(Device::cuda(0)))).backward();
  opt.step();
  Checkpoint ck;
  ck.add_state("model", net.state_dict());
  ck.add_state("optimizer", opt.state_tensors());
  for (const auto& [name, t] : ck.state("model")) CHECK(t.device().is_cpu());
  const std::string path = temp_dir() + "/gpu.ckpt";
  save_checkpoint(path, ck);

  manual_seed(4);
  kiln::test::resume::Net fresh;
  fresh.to(Device::cuda(0));
  AdamW fresh_opt(fresh.parameters());
  Checkpoint back = load_checkpoint(path);
  fresh.load_state_dict(back.state("model"));
  fresh_opt.load_state_tensors(back.state("optimizer"));
  CHECK(fresh.fc1->weight.device() == Device::cuda(0));
  CHECK(fresh.bn->num_batches_tracked.device() == Device::cuda(0));
  kiln::test::resume::check_identical(fresh.state_dict(), net.state_dict(), "model");
  kiln::test::resume::check_identical(fresh_opt.state_tensors(), opt.state_tensors(), "optimizer");
  for (const auto& [name, t] : fresh_opt.state_tensors())
    if (name.find("exp_avg") != std::string::npos) CHECK(t.device() == Device::cuda(0));
}

TEST_CASE("CUDA int64 add, sub, mul, maximum, minimum equal the CPU exactly", "[cuda][checkpoint]") {
  REQUIRE_CUDA_OR_SKIP();
  const int64_t big = (int64_t(1) << 60) + 1;
  Tensor a = from_vector(std::vector<int64_t>{1, -2, 3, big, 5, -6, 7, 8, 9, 10, 11, -12, 13, 14, 15}, {3, 5},
                         {.dtype = DType::Int64});
  Tensor b = from_vector(std::vector<int64_t>{10, -20, 30, 40, 50}, {5}, {.dtype = DType::Int64});
  Tensor ga = a.to(Device::cuda(0)), gb = b.to(Device::cuda(0));
  CHECK((ga + gb).cpu().to_vector<int64_t>() == (a + b).to_vector<int64_t>());
  CHECK((ga - gb).cpu().to_vector<int64_t>() == (a - b).to_vector<int64_t>());
  CHECK((ga * gb).cpu().to_vector<int64_t>() == (a * b).to_vector<int64_t>());
  CHECK(maximum(ga, gb).cpu().to_vector<int64_t>() == maximum(a, b).to_vector<int64_t>());
  CHECK(minimum(ga, gb).cpu().to_vector<int64_t>() == minimum(a, b).to_vector<int64_t>());
  CHECK((ga.t() + ga.t()).cpu().to_vector<int64_t>() == (a.t() + a.t()).to_vector<int64_t>());  // strided
  CHECK_THROWS_WITH_TEXT(div(ga, ga), "float32 or float64");
}

TEST_CASE("CUDA BatchNorm counts batches on the device, and momentum None matches the CPU", "[cuda][checkpoint]") {
  REQUIRE_CUDA_OR_SKIP();
  for (bool cumulative : {false, true}) {
    INFO("momentum " << (cumulative ? "None" : "0.1"));
    BatchNormOptions options;
    if (cumulative) options.momentum = std::nullopt;
    BatchNorm1d cpu_bn(3, options), gpu_bn(3, options);
    cpu_bn.to(DType::Float64);
    gpu_bn.to(DType::Float64);
    gpu_bn.to(Device::cuda(0));
    for (int k = 0; k < 4; ++k) {
      Tensor x = kiln::test::random_input({6, 3}, uint64_t(50 + k)).detach();
      Tensor y_cpu = cpu_bn(x);
      Tensor y_gpu = gpu_bn(x.to(Device::cuda(0)));
      CHECK_CLOSE(y_gpu.cpu(), y_cpu, 1e-12, 1e-10);
    }
    CHECK(gpu_bn.num_batches_tracked.device() == Device::cuda(0));
    CHECK(gpu_bn.num_batches_tracked.cpu().to_vector<int64_t>() == std::vector<int64_t>{4});
    CHECK_CLOSE(gpu_bn.running_mean.cpu(), cpu_bn.running_mean, 1e-12, 1e-10);
    CHECK_CLOSE(gpu_bn.running_var.cpu(), cpu_bn.running_var, 1e-12, 1e-10);
  }
}
