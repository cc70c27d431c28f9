# Runs COMMAND (arguments separated by |) and passes if it ends by itself
# within 30 s with a non-zero status and its output holds EXPECTED: the
# failure case of a distributed run.
string(REPLACE "|" ";" command "${COMMAND}")
execute_process(COMMAND ${command} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err
  TIMEOUT 30)
set(output "${out}${err}")
# A job whose other ranks wait forever ends here by the timeout instead.
if(NOT status MATCHES "^[0-9]+$")
  message(FATAL_ERROR "the job did not end by itself (${status}); output:\n${output}")
endif()
if(status EQUAL 0)
  message(FATAL_ERROR "expected a non-zero exit status, got 0; output:\n${output}")
endif()
string(FIND "${output}" "${EXPECTED}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "expected '${EXPECTED}' in the output (exit status ${status}):\n${output}")
endif()
message(STATUS "exit status ${status}, message found")
