cmake_minimum_required(VERSION 3.20)
# Configures engram (SOURCE_DIR) in WORK_DIR with the cache entries of ARGS ("|"-separated) and
# expects the configuration to fail with EXPECTED in its error output: the bad-input line of a
# build option.
string(REPLACE "|" ";" args "${ARGS}")
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR} -DENGRAM_BUILD_TESTS=OFF
                        -DENGRAM_BUILD_EXAMPLES=OFF -DENGRAM_BUILD_BENCHMARKS=OFF ${args}
                RESULT_VARIABLE result ERROR_VARIABLE errors OUTPUT_VARIABLE output)
file(REMOVE_RECURSE ${WORK_DIR})
if(result EQUAL 0)
  message(FATAL_ERROR "configuring with ${args} succeeded; it must be refused")
endif()
string(FIND "${errors}" "${EXPECTED}" named)
if(named EQUAL -1)
  message(FATAL_ERROR "configuring with ${args} failed without naming '${EXPECTED}':\n${errors}")
endif()
message(STATUS "refused as expected: ${EXPECTED}")
