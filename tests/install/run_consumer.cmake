# Installs the already-built project into a temporary prefix, then configures and builds a tiny
# consumer project against it with find_package(dualcam) and runs it.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
if(NOT EXISTS ${WORK_DIR}/prefix/bin/dualcam)
  message(FATAL_ERROR "the dualcam binary was not installed")
endif()
# Installed headers must not need a library's PRIVATE dependencies (Ceres, and the glog it brings):
# a consumer does not get their include paths. Debian's are in /usr/include, where the build
# below would find them anyway, so look for the includes themselves.
file(GLOB_RECURSE installed_headers ${WORK_DIR}/prefix/include/dualcam/*.hpp)
foreach(header IN LISTS installed_headers)
  file(STRINGS ${header} private_includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](ceres|glog)/")
  if(private_includes)
    message(FATAL_ERROR "${header} includes a private dependency: ${private_includes}")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/build
                        -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the consumer project failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the consumer project failed: ${rc}")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0 OR NOT out MATCHES "reference=color")
  message(FATAL_ERROR "the consumer program failed: ${rc} ${out}")
endif()

if(PYTHON_BUILT)
  file(GLOB module ${WORK_DIR}/prefix/${PYTHON_INSTALL_DIR}/dualcam*.so)
  if(NOT module OR NOT EXISTS ${WORK_DIR}/prefix/${PYTHON_INSTALL_DIR}/dualcam.pyi)
    message(FATAL_ERROR "the Python module or its stubs were not installed into ${PYTHON_INSTALL_DIR}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E env PYTHONPATH=${WORK_DIR}/prefix/${PYTHON_INSTALL_DIR}
                          ${PYTHON} -c "import dualcam; print(dualcam.__file__, dualcam.sample().mono.shape)"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "${WORK_DIR}/prefix/.*\\(360, 480\\)")
    message(FATAL_ERROR "the installed Python module does not import: ${rc} ${out} ${err}")
  endif()
endif()
