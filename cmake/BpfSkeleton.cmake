# switchyard_add_bpf_skeleton(<target> <name.bpf.c>...): compiles each BPF program with clang
# -target bpf and turns the object into a libbpf skeleton header (<name>.skel.h, `bpftool gen
# skeleton`) in the build tree. <target> is an INTERFACE library whose include directory holds
# the headers: the BPF object is embedded in the binary, nothing is read from disk at run time.
function(switchyard_add_bpf_skeleton target)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/bpf_skeletons)
  file(MAKE_DIRECTORY ${out_dir})
  # BPF C sees the kernel's UAPI headers (linux-libc-dev) and libbpf's bpf_helpers.h.
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch OUTPUT_VARIABLE multiarch OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(headers)
  foreach(source ${ARGN})
    get_filename_component(name ${source} NAME)
    string(REGEX REPLACE "\\.bpf\\.c$" "" name ${name})
    set(object ${out_dir}/${name}.bpf.o)
    set(skeleton ${out_dir}/${name}.skel.h)
    add_custom_command(OUTPUT ${object}
      COMMAND ${CLANG_BPF} -target bpf -O2 -g -Wall -Werror -D__TARGET_ARCH_x86
              -I/usr/include/${multiarch} -I${CMAKE_CURRENT_SOURCE_DIR}/bpf
              -MD -MF ${object}.d -c ${CMAKE_CURRENT_SOURCE_DIR}/${source} -o ${object}
      DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${source}
      DEPFILE ${object}.d
      COMMENT "BPF ${source}")
    add_custom_command(OUTPUT ${skeleton}
      COMMAND ${BPFTOOL} gen skeleton ${object} name ${name} > ${skeleton}.tmp
      COMMAND ${CMAKE_COMMAND} -E rename ${skeleton}.tmp ${skeleton}
      DEPENDS ${object}
      COMMENT "bpftool gen skeleton ${name}")
    list(APPEND headers ${skeleton})
  endforeach()
  add_custom_target(${target}_generate DEPENDS ${headers})
  add_library(${target} INTERFACE)
  target_include_directories(${target} INTERFACE ${out_dir})
  add_dependencies(${target} ${target}_generate)
endfunction()
