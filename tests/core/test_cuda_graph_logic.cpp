// The device-independent half of whole-step CUDA graphs (core/cuda_graph.h, core/graph_capture.h): when a
// step runs eagerly, is captured or replayed; why capture is refused; and the Philox arithmetic that
// makes a replayed step draw the numbers an uncaptured one would. The CUDA half is in
// tests/cuda/test_cuda_graph.cpp.
#include <string>
#include <vector>

#include "core/cuda_graph.h"
#include "core/graph_capture.h"
#include "core/random.h"
#include "kernels/common/philox.h"
#include "kiln_test.h"

using namespace kiln;

namespace {
std::vector<StepMode> modes(CapturePolicy& policy, const std::vector<std::string>& signatures) {
  std::vector<StepMode> out;
  for (const std::string& s : signatures) {
    out.push_back(policy.next(s));
    if (out.back() == StepMode::Capture) policy.captured();
  }
  return out;
}
constexpr StepMode E = StepMode::Eager, C = StepMode::Capture, R = StepMode::Replay;
}  // namespace

TEST_CASE("capture policy: warm-up, one capture, then replays", "[graph]") {
  CapturePolicy policy(2, 4);
  CHECK(modes(policy, {"b128", "b128", "b128", "b128", "b128"}) == std::vector<StepMode>{E, E, C, R, R});
  CHECK(policy.captures() == 1);
  CHECK_FALSE(policy.disabled());
}

TEST_CASE("capture policy: a last smaller batch runs eagerly and the graph is kept", "[graph]") {
  CapturePolicy policy(1, 4);
  CHECK(modes(policy, {"b64", "b64", "b64", "b10", "b64", "b64", "b10", "b64"}) ==
        std::vector<StepMode>{E, C, R, E, R, R, E, R});
  CHECK(policy.captures() == 1);
}

TEST_CASE("capture policy: a new batch size that persists is captured again", "[graph]") {
  CapturePolicy policy(1, 4);
  CHECK(modes(policy, {"b64", "b64", "b32", "b32", "b32"}) == std::vector<StepMode>{E, C, E, C, R});
  CHECK(policy.captures() == 2);
}

TEST_CASE("capture policy: shapes that change every few steps end capture with a reason", "[graph]") {
  CapturePolicy policy(1, 2);
  CHECK(modes(policy, {"t10", "t10", "t20", "t20", "t30", "t30", "t30"}) == std::vector<StepMode>{E, C, E, C, E, E, E});
  CHECK(policy.disabled());
  CHECK_THAT(policy.reason(), Catch::Contains("input shapes keep changing") && Catch::Contains("t30"));
  CHECK(policy.next("t20") == E);  // disabled for good, even for a signature it had a graph for
}

TEST_CASE("capture policy: dropping the graph captures again after warm-up, and bad settings are refused", "[graph]") {
  CapturePolicy policy(1, 4);
  CHECK(modes(policy, {"a", "a", "a"}) == std::vector<StepMode>{E, C, R});
  policy.drop_graph();
  CHECK(modes(policy, {"a", "a", "a"}) == std::vector<StepMode>{E, C, R});
  CHECK_THROWS_WITH(CapturePolicy(0, 4), Catch::Contains("warmup_steps must be at least 1"));
  CHECK_THROWS_WITH(CapturePolicy(1, 0), Catch::Contains("max_captures"));
}

TEST_CASE("CapturedStep on the CPU runs the step eagerly every time and says why", "[graph]") {
  int calls = 0;
  CapturedStep step(Device::cpu(), [&] { ++calls; }, {.warmup_steps = 1, .max_captures = 4});
  for (int i = 0; i < 5; ++i) step.run("same");
  CHECK(calls == 5);
  CHECK(step.last_mode() == StepMode::Eager);
  CHECK(step.replays() == 0);
  CHECK_THAT(step.unsupported_reason(), Catch::Contains("CPU"));
  CHECK(CapturedStep::device_reason(Device::cpu()) == step.unsupported_reason());
#if !KILN_HAVE_CUDA
  CHECK_THAT(CapturedStep::device_reason(Device::cuda(0)), Catch::Contains("built without CUDA"));
#else
  CHECK(CapturedStep::device_reason(Device::cuda(0)).empty());
#endif
  CHECK_THROWS_WITH(CapturedStep(Device::cpu(), nullptr), Catch::Contains("step function is empty"));
}

TEST_CASE("a failed capture names the likely cause: a host read inside the step", "[graph]") {
  // What CUDA reports when item() synchronizes the capturing stream.
  const std::string why = CapturedStep::explain_capture_failure(
      "CUDA call failed: cudaStreamSynchronize(stream): operation not permitted when stream is capturing");
  CHECK_THAT(why, Catch::Contains("item()") && Catch::Contains("waits for the GPU") &&
                      Catch::Contains("operation not permitted when stream is capturing"));
  const std::string other = CapturedStep::explain_capture_failure("conv2d: shapes do not match");
  CHECK_THAT(other, Catch::Contains("capturing the step into a CUDA graph failed: conv2d"));
  CHECK_THAT(other, !Catch::Contains("item()"));
}

TEST_CASE("Philox arguments resolve against a graph's state like the uncaptured draw", "[graph][random]") {
  const uint64_t state[2] = {0x1234567890abcdefull, 1000};
  const philox::Args captured{0, 25, state};
  const philox::Args r = philox::resolve(captured);
  CHECK(r.seed == state[0]);
  CHECK(r.offset == 1025);
  CHECK(r.graph_state == nullptr);
  const philox::Args plain{7, 9, nullptr};
  CHECK(philox::resolve(plain).seed == 7);
  CHECK(philox::resolve(plain).offset == 9);
  // The numbers themselves: element i of the captured draw is element i of the plain draw at 1025.
  for (int64_t i = 0; i < 9; ++i) CHECK(philox::word(r.seed, r.offset, i) == philox::word(state[0], 1025, i));
}

// One "step" of three draws (dropout masks, noise), captured once and replayed, against the same step
// run without a graph: every replay must draw exactly the uncaptured step's numbers, and the generators
// must end where the uncaptured run's are (what a checkpoint saves).
TEST_CASE("a captured step's draws advance per replay exactly as uncaptured steps do", "[graph][random]") {
  const std::vector<int64_t> sizes = {10, 3, 4096 + 1};
  Generator plain(99), graphed(99), other_plain(5), other_graphed(5);
  plain.advance(17);  // the warm-up steps drew already
  graphed.advance(17);

  GraphCapture capture(Device::cpu());  // the CPU stands in for the device: its "device state" is host memory
  std::vector<philox::Args> recorded;
  for (int64_t n : sizes) recorded.push_back(capture.philox(graphed, n));
  recorded.push_back(capture.philox(other_graphed, 6));
  CHECK(graphed.offset() == plain.offset());  // the capture itself draws nothing
  CHECK(capture.increment(graphed) == (10 + 3) / 4 + (3 + 3) / 4 + (4097 + 3) / 4);
  CHECK(capture.increment(other_graphed) == 2);
  CHECK(capture.increment(plain) == 0);

  for (int replay = 0; replay < 3; ++replay) {
    if (replay == 1) {  // reseeding between steps (manual_seed) is seen by the next replay
      plain.manual_seed(3);
      graphed.manual_seed(3);
    }
    capture.prepare_replay();
    for (size_t k = 0; k < sizes.size(); ++k) {
      const uint64_t expected_offset = plain.advance(sizes[k]);
      const philox::Args r = philox::resolve(recorded[k]);
      CHECK(r.seed == plain.seed());
      CHECK(r.offset == expected_offset);
      CHECK(philox::word(r.seed, r.offset, sizes[k] - 1) == philox::word(plain.seed(), expected_offset, sizes[k] - 1));
    }
    const philox::Args r = philox::resolve(recorded.back());
    CHECK(r.offset == other_plain.advance(6));
    CHECK(graphed.offset() == plain.offset());
    CHECK(graphed.seed() == plain.seed());
    CHECK(other_graphed.offset() == other_plain.offset());
  }
}

TEST_CASE("replay hooks run before every replay, in order, never at capture", "[graph]") {
  GraphCapture capture(Device::cpu());
  std::vector<int> calls;
  capture.before_replay([&] { calls.push_back(1); });
  capture.before_replay([&] { calls.push_back(2); });
  CHECK(calls.empty());
  capture.prepare_replay();
  capture.prepare_replay();
  CHECK(calls == std::vector<int>{1, 2, 1, 2});
  CHECK(GraphCapture::current() == nullptr);
  {
    GraphCaptureScope scope(capture);
    CHECK(GraphCapture::current() == &capture);
    GraphCapture inner(Device::cpu());
    {
      GraphCaptureScope nested(inner);
      CHECK(GraphCapture::current() == &inner);
    }
    CHECK(GraphCapture::current() == &capture);
  }
  CHECK(GraphCapture::current() == nullptr);
}

TEST_CASE("CPU draws ignore a current capture: only device kernels read a graph's state", "[graph][random]") {
  GraphCapture capture(Device::cuda(0));
  GraphCaptureScope scope(capture);
  Generator g(11), reference(11);
  Tensor x = rand({6}, {}, g);
  CHECK(x.to_vector<float>() == rand({6}, {}, reference).to_vector<float>());
  CHECK(g.offset() == 2);
  const philox::Args cpu = g.draw(8, Device::cpu());
  CHECK(cpu.graph_state == nullptr);
  CHECK(cpu.offset == 2);
  CHECK(g.offset() == 4);
}
