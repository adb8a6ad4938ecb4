# One helper per kind of target, so every module is built, warned and installed the same way.

set(DUALCAM_WARNINGS -Wall -Wextra)

# dualcam_add_library(NAME SRCS ... PUBLIC_LINK_LIBS ... PRIVATE_LINK_LIBS ...)
# Builds static library dualcam_NAME with alias dualcam::NAME; public headers are taken from
# NAME/include and installed under include/dualcam/NAME.
function(dualcam_add_library NAME)
  cmake_parse_arguments(ARG "" "" "SRCS;PUBLIC_LINK_LIBS;PRIVATE_LINK_LIBS" ${ARGN})
  set(target dualcam_${NAME})
  add_library(${target} STATIC ${ARG_SRCS})
  add_library(dualcam::${NAME} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${NAME} OUTPUT_NAME dualcam_${NAME}
                                             POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_options(${target} PRIVATE ${DUALCAM_WARNINGS})
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_LINK_LIBS} PRIVATE ${ARG_PRIVATE_LINK_LIBS})
  install(TARGETS ${target} EXPORT dualcamTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY include/dualcam DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

# dualcam_add_test(NAME SRCS ... LINK_LIBS ... [LABELS ...])
# One Catch2 executable per module; each TEST_CASE becomes its own ctest test via catch_discover_tests.
function(dualcam_add_test NAME)
  cmake_parse_arguments(ARG "" "" "SRCS;LINK_LIBS;LABELS" ${ARGN})
  add_executable(${NAME} ${ARG_SRCS})
  target_compile_options(${NAME} PRIVATE ${DUALCAM_WARNINGS})
  target_link_libraries(${NAME} PRIVATE dualcam_test_main ${ARG_LINK_LIBS})
  target_compile_definitions(${NAME} PRIVATE DUALCAM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  # A test case that cannot run here (data or privileges missing) prints the marker of
  # tests/support.hpp's DUALCAM_SKIP: ctest then reports it as skipped, not passed.
  set(props PROPERTIES SKIP_REGULAR_EXPRESSION "dualcam-test-skipped:")
  if(ARG_LABELS)
    list(APPEND props LABELS "${ARG_LABELS}")
  endif()
  # --warn NoTests: a test case whose name does not come back through discovery intact (ctest
  # splits a name at ';') matches nothing when ctest runs it, and fails instead of passing.
  catch_discover_tests(${NAME} TEST_PREFIX "${NAME}:" EXTRA_ARGS --warn NoTests ${props})
endfunction()
