# AddressSanitizer + UndefinedBehaviorSanitizer for every kiln target (-DKILN_SANITIZE=ON; CI's
# build-asan). Any report ends the process with an error: UBSan does not recover, ASan halts on the first.
if(KILN_SANITIZE)
  set(KILN_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options("$<$<COMPILE_LANGUAGE:CXX,C>:${KILN_SANITIZE_FLAGS}>")
  add_link_options(${KILN_SANITIZE_FLAGS})
  message(STATUS "kiln: built with AddressSanitizer and UndefinedBehaviorSanitizer")
endif()
