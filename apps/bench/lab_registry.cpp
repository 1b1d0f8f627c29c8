// The list of the kernel lab's families (lab_registry.h), in the order of issue 14's list.
#include "apps/bench/lab_registry.h"

namespace kiln::apps::bench {

std::vector<std::shared_ptr<LabFamilyBase>> kernel_lab_families() {
  return {elementwise_family(), reductions_family(), softmax_family(), cross_entropy_family(),
          layer_norm_family(),  batch_norm_family(), gemm_family(),    conv_family(),
          pooling_family(),     lstm_family(),       attention_family(), adamw_family()};
}

}  // namespace kiln::apps::bench
