# The project's layers as CMake sees them. Each directory says which layer its targets belong
# to with switchyard_layer(NAME); SWITCHYARD_LAYER_USES below says which layers each layer may
# link. switchyard_check_layers(), called at the end of the top-level CMakeLists.txt, fails the
# configure step (and so the build and CI) when a library or the binary links a target of a
# layer it may not use: the dependency direction is enforced, not just documented.
#
#   base → {http, api} → store → client → components → node (the agent's wiring) → cmd
#
# Test executables and test-support libraries (named *_test, *_testing, *_test_support, or
# declared in layer "testing") may link anything.
set(SWITCHYARD_LAYER_USES_base "")
set(SWITCHYARD_LAYER_USES_http "base")
set(SWITCHYARD_LAYER_USES_api "base")
set(SWITCHYARD_LAYER_USES_store "base;http;api")
set(SWITCHYARD_LAYER_USES_client "base;http;api")
# Components: each uses the layers below and the model of services (endpoints) where it needs it.
set(SWITCHYARD_LAYER_USES_apiserver "base;http;api;store")
set(SWITCHYARD_LAYER_USES_endpoints "base;api")
set(SWITCHYARD_LAYER_USES_dataplane "base;http;api;endpoints")
set(SWITCHYARD_LAYER_USES_dns "base;http;api;endpoints")
set(SWITCHYARD_LAYER_USES_controllers "base;http;api;client;endpoints")
set(SWITCHYARD_LAYER_USES_scheduler "base;http;api;client")
set(SWITCHYARD_LAYER_USES_kubelet "base;http;api;client")
# The node's running parts wired together; the binary's commands wire everything.
set(SWITCHYARD_LAYER_USES_node "base;http;api;client;endpoints;dataplane;dns;kubelet")
set(SWITCHYARD_LAYER_USES_cmd "base;http;api;store;client;apiserver;endpoints;dataplane;dns;controllers;scheduler;kubelet;node")
set(SWITCHYARD_LAYER_USES_bench "*")
set(SWITCHYARD_LAYER_USES_testing "*")

# switchyard_layer(NAME): the targets defined in this directory (and below it, unless a
# subdirectory says otherwise) belong to layer NAME.
function(switchyard_layer name)
  if(NOT DEFINED SWITCHYARD_LAYER_USES_${name})
    message(FATAL_ERROR "switchyard_layer(${name}): unknown layer (cmake/Layers.cmake lists them)")
  endif()
  set_property(DIRECTORY PROPERTY SWITCHYARD_LAYER ${name})
endfunction()

function(_switchyard_layer_of target out)
  get_target_property(layer ${target} SWITCHYARD_LAYER)
  if(NOT layer)
    set(layer "")
  endif()
  set(${out} "${layer}" PARENT_SCOPE)
endfunction()

function(_switchyard_is_test_target target out)
  get_target_property(type ${target} TYPE)
  set(result FALSE)
  if(target MATCHES "(_test|_testing|_test_support|_bench|_fuzz)$")
    set(result TRUE)
  elseif(type STREQUAL "EXECUTABLE" AND NOT target STREQUAL "switchyard")
    set(result TRUE)  # tests, benchmarks and tools
  endif()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

# Every target below `dir`, each given the layer of the nearest directory that declared one.
function(_switchyard_collect_targets dir inherited out)
  get_property(layer DIRECTORY ${dir} PROPERTY SWITCHYARD_LAYER)
  if(NOT layer)
    set(layer "${inherited}")
  endif()
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target ${targets})
    if(layer)
      set_property(TARGET ${target} PROPERTY SWITCHYARD_LAYER ${layer})
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    _switchyard_collect_targets(${sub} "${layer}" sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

function(switchyard_check_layers)
  _switchyard_collect_targets(${PROJECT_SOURCE_DIR} "" targets)
  set(violations "")
  foreach(target ${targets})
    get_target_property(type ${target} TYPE)
    _switchyard_is_test_target(${target} is_test)
    if(is_test OR NOT type MATCHES "LIBRARY|EXECUTABLE")
      continue()
    endif()
    _switchyard_layer_of(${target} layer)
    if(layer STREQUAL "")
      list(APPEND violations "${target}: in no layer (call switchyard_layer() in its CMakeLists.txt)")
      continue()
    endif()
    set(allowed ${SWITCHYARD_LAYER_USES_${layer}})
    if(allowed STREQUAL "*")
      continue()
    endif()
    get_target_property(links ${target} LINK_LIBRARIES)
    get_target_property(interface_links ${target} INTERFACE_LINK_LIBRARIES)
    foreach(dep IN LISTS links interface_links)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" dep "${dep}")
      if(NOT TARGET "${dep}" OR NOT dep MATCHES "^switchyard")
        continue()
      endif()
      _switchyard_is_test_target(${dep} dep_is_test)
      _switchyard_layer_of(${dep} dep_layer)
      if(dep_is_test)
        list(APPEND violations "${target} (${layer}) links test support ${dep}")
      elseif(NOT dep_layer STREQUAL layer AND NOT dep_layer IN_LIST allowed)
        list(APPEND violations "${target} (${layer}) links ${dep} (${dep_layer}): layer ${layer} may use only [${allowed}]")
      endif()
    endforeach()
  endforeach()
  if(violations)
    list(REMOVE_DUPLICATES violations)
    list(JOIN violations "\n  " text)
    message(FATAL_ERROR "layer check failed (cmake/Layers.cmake):\n  ${text}")
  endif()
endfunction()

# The check itself is tested: a project that links the object model to the store must not configure.
function(switchyard_add_layer_check_test)
  add_test(NAME layer_check_test
    COMMAND ${CMAKE_COMMAND} -DSWITCHYARD_SOURCE_DIR=${PROJECT_SOURCE_DIR}
            -S ${PROJECT_SOURCE_DIR}/cmake/testdata/layer_violation -B ${PROJECT_BINARY_DIR}/layer_violation)
  set_tests_properties(layer_check_test PROPERTIES WILL_FAIL FALSE
    PASS_REGULAR_EXPRESSION "switchyard_fake_api \\(api\\) links switchyard_fake_store \\(store\\)")
endfunction()
