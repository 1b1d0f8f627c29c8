// The kernel lab's registry (`kiln bench ops`, docs/kernel-lab.md): families of kernels, each with numbered
// versions per device, a CPU reference every version is checked against before it is timed, and a cost
// model (bytes moved or flops) that turns the median time into GB/s or TFLOP/s.
// Adding a version is one call: family.add(DeviceType::CPU, "v2", "what changed, why faster", lambda).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"

namespace kiln::apps::bench {

// What a family's cost model counts: bytes read + written (memory-bound) or floating-point operations.
enum class CostUnit { Bytes, Flops };
// What a version's rate is compared with: the copy bandwidth the lab measures on the device, or the
// library's rate on the same problem (the fastest version marked `library`; where the family has none on
// the device, the library SGEMM's rate the lab measures at the GEMM family's shape).
enum class ReferenceKind { CopyBandwidth, Library };

using LabDims = std::vector<int64_t>;

// max over i of |got_i − ref_i| / max(1, |ref_i|); NaN/inf where the reference is finite counts as +inf,
// and so does a length mismatch.
double relative_error(const std::vector<double>& got, const std::vector<double>& ref);

// One numbered version of a family on one device. `run` launches it on the family's problem P (device
// buffers, already filled); on CUDA it only queues work (the lab synchronizes around it).
template <class P>
struct LabVersion {
  DeviceType device = DeviceType::CPU;
  std::string name;     // "v1", "v2", ... or the library's name ("cuBLAS", "OpenBLAS")
  std::string comment;  // one line: what changed from the previous version and why it is faster
  std::function<void(P&)> run;
  bool library = false;     // a vendor library's kernel: the reference figure of Library families
  bool dispatched = false;  // the version the framework calls today for this family on this device
};

// How the engine sees a family whatever its problem type (LabFamily<P> below implements it).
class LabFamilyBase {
 public:
  virtual ~LabFamilyBase() = default;

  std::string name;        // as --op takes it
  std::string measures;    // one line: the operation and its layout
  std::string cost_model;  // one line: what is counted per call
  CostUnit unit = CostUnit::Bytes;
  ReferenceKind reference = ReferenceKind::CopyBandwidth;
  double tolerance = 1e-4;  // float32: max |got − ref| / max(1, |ref|) over every output element
  // Shapes every version is checked at (small, odd sizes among them) and the shape it is timed at.
  std::vector<LabDims> check_shapes;
  LabDims cuda_shape, cpu_shape, quick_shape;
  // What the family lacks per device (a library kernel kiln does not call, a version not written yet).
  std::vector<std::string> missing_cpu, missing_cuda;

  // The versions of `device` (names, comments, flags): their index is what prepare()/run() take.
  struct Info {
    std::string name, comment;
    bool library = false, dispatched = false;
  };
  virtual std::vector<Info> versions(DeviceType device) const = 0;
  // Bytes or flops of one call at `dims`.
  std::function<double(const LabDims&)> work;

  // A problem at `dims` on `device` with fixed random inputs; run() then launches version `index`
  // (of versions(device.type)) on it, and error() compares what it wrote with the CPU reference.
  class Problem {
   public:
    virtual ~Problem() = default;
    virtual void run(size_t version) = 0;
    virtual double error() = 0;  // max |got − ref| / max(1, |ref|); +inf where got is NaN and ref is not
  };
  virtual std::unique_ptr<Problem> prepare(const LabDims& dims, Device device) const = 0;
};

// A family whose problem type is P: P holds the inputs (host copies and device buffers) and outputs.
//   make(dims, device)  a problem with random inputs and allocated outputs
//   expected(p)         the outputs the CPU reference (plain loops, float64 where useful) computes from p's inputs
//   result(p)           the outputs the last version wrote, on the host, in the same order
template <class P>
class LabFamily : public LabFamilyBase {
 public:
  std::function<std::unique_ptr<P>(const LabDims&, Device)> make;
  std::function<std::vector<double>(const P&)> expected;
  std::function<std::vector<double>(const P&)> result;
  std::vector<LabVersion<P>> all_versions;

  // Registers a version: the one line a kernel engineer adds next to the others.
  LabFamily& add(DeviceType device, std::string version_name, std::string comment, std::function<void(P&)> run,
                 bool library = false, bool dispatched = false) {
    all_versions.push_back({device, std::move(version_name), std::move(comment), std::move(run), library, dispatched});
    return *this;
  }

  std::vector<Info> versions(DeviceType device) const override {
    std::vector<Info> out;
    for (const auto& v : all_versions)
      if (v.device == device) out.push_back({v.name, v.comment, v.library, v.dispatched});
    return out;
  }

  std::unique_ptr<Problem> prepare(const LabDims& dims, Device device) const override {
    std::vector<const LabVersion<P>*> mine;
    for (const auto& v : all_versions)
      if (v.device == device.type) mine.push_back(&v);
    return std::make_unique<Typed>(make(dims, device), std::move(mine), this);
  }

 private:
  class Typed : public Problem {
   public:
    Typed(std::unique_ptr<P> p, std::vector<const LabVersion<P>*> v, const LabFamily* f)
        : problem_(std::move(p)), versions_(std::move(v)), family_(f) {}
    void run(size_t version) override { versions_.at(version)->run(*problem_); }
    double error() override {
      if (expected_.empty()) expected_ = family_->expected(*problem_);
      return relative_error(family_->result(*problem_), expected_);
    }

   private:
    std::unique_ptr<P> problem_;
    std::vector<const LabVersion<P>*> versions_;
    const LabFamily* family_;
    std::vector<double> expected_;
  };
};


// A family with the fields every family states; the caller adds its problem functions and versions.
template <class P>
std::shared_ptr<LabFamily<P>> new_lab_family(const char* name, const char* measures, const char* cost_model,
                                             CostUnit unit, ReferenceKind reference) {
  auto f = std::make_shared<LabFamily<P>>();
  f->name = name;
  f->measures = measures;
  f->cost_model = cost_model;
  f->unit = unit;
  f->reference = reference;
  return f;
}

// Every family of the lab, in the order of the list (lab_registry.cpp).
std::vector<std::shared_ptr<LabFamilyBase>> kernel_lab_families();
// The families, each with its versions (lab_families_memory.cpp: rate in GB/s against the copy bandwidth;
// lab_families_compute.cpp: rate in TFLOP/s against the library).
std::shared_ptr<LabFamilyBase> elementwise_family();
std::shared_ptr<LabFamilyBase> reductions_family();
std::shared_ptr<LabFamilyBase> softmax_family();
std::shared_ptr<LabFamilyBase> cross_entropy_family();
std::shared_ptr<LabFamilyBase> layer_norm_family();
std::shared_ptr<LabFamilyBase> batch_norm_family();
std::shared_ptr<LabFamilyBase> gemm_family();
std::shared_ptr<LabFamilyBase> conv_family();
std::shared_ptr<LabFamilyBase> pooling_family();
std::shared_ptr<LabFamilyBase> lstm_family();
std::shared_ptr<LabFamilyBase> attention_family();
std::shared_ptr<LabFamilyBase> adamw_family();

}  // namespace kiln::apps::bench
