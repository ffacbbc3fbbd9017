# Builds and runs tests/downstream against engram. MODE=install installs engram into a scratch
# prefix and uses find_package(engram CONFIG REQUIRED); MODE=subdirectory uses add_subdirectory.
file(REMOVE_RECURSE ${WORK_DIR})
if(MODE STREQUAL "install")
  set(prefix ${WORK_DIR}/prefix)
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${ENGRAM_BINARY_DIR} --prefix ${prefix}
                  RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "installing engram failed (${rc})")
  endif()
  set(how -DCMAKE_PREFIX_PATH=${prefix})
else()
  set(how -DENGRAM_SOURCE_DIR=${ENGRAM_SOURCE_DIR})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${ENGRAM_SOURCE_DIR}/tests/downstream
                        -B ${WORK_DIR}/build -G ${CMAKE_GENERATOR} ${how}
                        -DCMAKE_BUILD_TYPE=Release
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the downstream project failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the downstream project failed (${rc})")
endif()
execute_process(COMMAND ${WORK_DIR}/build/downstream RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the downstream program failed (${rc})")
endif()
