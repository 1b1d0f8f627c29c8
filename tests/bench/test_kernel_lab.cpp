// The kernel lab's engine (apps/bench/lab_run.h): a version whose output differs from the CPU reference is
// reported FAILED with its error and is never timed, so a broken kernel cannot show up as a fast one.
#include <cmath>
#include <limits>
#include <memory>

#include "apps/bench/lab_run.h"
#include "kiln_test.h"

using namespace kiln;
using namespace kiln::apps::bench;

namespace {

// y = 2·x on the host: the smallest family the engine can run.
struct DoubleProblem {
  std::vector<double> x, y;
};

std::shared_ptr<LabFamily<DoubleProblem>> doubling_family() {
  auto f = std::make_shared<LabFamily<DoubleProblem>>();
  f->name = "doubling";
  f->measures = "y = 2x";
  f->cost_model = "bytes = 16·n";
  f->check_shapes = {{1}, {7}, {33}};
  f->cpu_shape = f->cuda_shape = f->quick_shape = {64};
  f->work = [](const LabDims& d) { return 16.0 * double(d[0]); };
  f->make = [](const LabDims& d, Device) {
    auto p = std::make_unique<DoubleProblem>();
    for (int64_t i = 0; i < d[0]; ++i) p->x.push_back(0.5 + double(i));
    p->y.assign(p->x.size(), 0.0);
    return p;
  };
  f->expected = [](const DoubleProblem& p) {
    std::vector<double> y;
    for (double v : p.x) y.push_back(2 * v);
    return y;
  };
  f->result = [](const DoubleProblem& p) { return p.y; };
  return f;
}

}  // namespace

TEST_CASE("kernel lab reports a wrong version as FAILED and does not time it", "[kernel_lab]") {
  auto f = doubling_family();
  f->add(DeviceType::CPU, "v1", "right", [](DoubleProblem& p) {
    for (size_t i = 0; i < p.x.size(); ++i) p.y[i] = 2 * p.x[i];
  });
  // Off by 1e-3 relative only at the last element of the larger shapes: a check on one small shape would miss it.
  f->add(DeviceType::CPU, "v2", "wrong at odd sizes", [](DoubleProblem& p) {
    for (size_t i = 0; i < p.x.size(); ++i) p.y[i] = 2 * p.x[i];
    if (p.x.size() > 1) p.y.back() *= 1.001;
  });
  f->add(DeviceType::CPU, "v3", "writes nothing", [](DoubleProblem&) {});
  f->add(DeviceType::CPU, "v4", "NaN", [](DoubleProblem& p) {
    for (size_t i = 0; i < p.x.size(); ++i) p.y[i] = 2 * p.x[i];
    p.y[0] = std::numeric_limits<double>::quiet_NaN();
  });

  LabOptions options;
  options.quick = true;
  LabTimer timer(options.device, true);
  const LabReport report = run_kernel_lab({f}, nullptr, options, timer, nullptr);
  REQUIRE(report.families.size() == 1);
  const auto& versions = report.families[0].versions;
  REQUIRE(versions.size() == 4);

  CHECK(versions[0].passed);
  CHECK(versions[0].timed);
  CHECK_FALSE(versions[0].times_ms.empty());
  for (size_t v = 1; v < 4; ++v) {
    INFO("version " << versions[v].info.name);
    CHECK_FALSE(versions[v].passed);
    CHECK_FALSE(versions[v].timed);
    CHECK(versions[v].times_ms.empty());
    CHECK(versions[v].failure.find("max error") != std::string::npos);
  }
  CHECK(versions[1].max_error > 1e-4);
  CHECK(versions[1].failure.find("at 7") != std::string::npos);  // the first shape above 1 element
  CHECK(std::isinf(versions[3].max_error));
  CHECK(report.families[0].winner == 0);
  CHECK_FALSE(report.all_passed());

  const std::string json = lab_report_json(report);
  CHECK(json.find("\"all_passed\": false") != std::string::npos);
  CHECK(json.find("\"name\": \"v2\", \"comment\": \"wrong at odd sizes\", \"library\": false, "
                  "\"framework_calls\": false, \"passed\": false") != std::string::npos);
}

TEST_CASE("kernel lab error counts NaN and length mismatches as infinite", "[kernel_lab]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  CHECK(relative_error({1, 2}, {1, 2}) == 0);
  CHECK(std::abs(relative_error({1, 2.002}, {1, 2}) - 0.001) < 1e-12);
  CHECK(std::abs(relative_error({0.5}, {0.4}) - 0.1) < 1e-12);  // absolute below 1
  CHECK(std::isinf(relative_error({nan}, {1})));
  CHECK(std::isinf(relative_error({1}, {1, 2})));
  CHECK(relative_error({nan}, {nan}) == 0);
  CHECK(relative_error({-inf}, {-inf}) == 0);
  CHECK(std::isinf(relative_error({inf}, {1})));
}
