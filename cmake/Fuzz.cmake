# libFuzzer needs clang; GCC 12 is the main compiler. Build the fuzz targets in a clang-16
# sub-build of this same tree (SWITCHYARD_FUZZ_ONLY) so they share the real sources.
# clang 16 reports __cpp_concepts 201907 and so hides libstdc++ 12's <expected>, although it
# implements everything <expected> needs (P0848); the flag below tells libstdc++ so.
find_program(CLANGXX_FUZZ NAMES clang++-16)
if(NOT CLANGXX_FUZZ)
  message(WARNING "clang++-16 not found: fuzz targets not built (scripts/install-deps.sh installs it)")
  return()
endif()
include(ExternalProject)
set(fuzz_launcher "")
if(CMAKE_CXX_COMPILER_LAUNCHER)
  set(fuzz_launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER} -DCMAKE_C_COMPILER_LAUNCHER=${CMAKE_C_COMPILER_LAUNCHER})
endif()
ExternalProject_Add(fuzz_build
  SOURCE_DIR ${CMAKE_SOURCE_DIR}
  BINARY_DIR ${CMAKE_BINARY_DIR}/fuzz
  CMAKE_ARGS -DSWITCHYARD_FUZZ_ONLY=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
             -DCMAKE_CXX_COMPILER=${CLANGXX_FUZZ} -DCMAKE_C_COMPILER=clang-16
             "-DCMAKE_CXX_FLAGS=-Wno-builtin-macro-redefined -U__cpp_concepts -D__cpp_concepts=202002L"
             ${fuzz_launcher}
             -G Ninja
  BUILD_ALWAYS ON
  INSTALL_COMMAND ""
  USES_TERMINAL_BUILD ON)
# Each fuzz target runs as a test for 60 s: fixed seed, the seed corpus in the tree. A crash it
# finds goes into that corpus once fixed, so every later run replays it first.
function(switchyard_fuzz_test name corpus)
  # libFuzzer writes new inputs into the first corpus folder: keep that one in the build tree.
  set(work ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
  add_test(NAME ${name}
    COMMAND sh -c "mkdir -p '${work}' '${CMAKE_BINARY_DIR}/fuzz-artifacts' && exec '${CMAKE_BINARY_DIR}/fuzz/bin/${name}' -artifact_prefix='${CMAKE_BINARY_DIR}/fuzz-artifacts/' -seed=1 -max_total_time=60 -max_len=65536 -timeout=5 -rss_limit_mb=2048 '${work}' '${corpus}'")
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 180)
endfunction()
switchyard_fuzz_test(manifest_fuzz ${CMAKE_SOURCE_DIR}/orchestrator/api/testdata)
switchyard_fuzz_test(protobuf_fuzz ${CMAKE_SOURCE_DIR}/orchestrator/api/testdata/protobuf)
switchyard_fuzz_test(dns_query_fuzz ${CMAKE_SOURCE_DIR}/dns/testdata)
switchyard_fuzz_test(patch_fuzz ${CMAKE_SOURCE_DIR}/orchestrator/apiserver/testdata/patch)
switchyard_fuzz_test(api_request_fuzz ${CMAKE_SOURCE_DIR}/orchestrator/apiserver/testdata/api_request)
