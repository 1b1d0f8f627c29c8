#include "core/ops/op_table.h"

namespace kiln {

const char* op_name(OpId op) {
  static const char* names[] = {
#define KILN_OP_NAME(name, differentiable, file) #name,
      KILN_OPS(KILN_OP_NAME)
#undef KILN_OP_NAME
  };
  return int(op) < kOpCount ? names[int(op)] : "accumulate_grad";
}

bool op_is_differentiable(OpId op) {
  static const bool flags[] = {
#define KILN_OP_FLAG(name, differentiable, file) differentiable,
      KILN_OPS(KILN_OP_FLAG)
#undef KILN_OP_FLAG
  };
  return int(op) < kOpCount && flags[int(op)];
}

}  // namespace kiln
