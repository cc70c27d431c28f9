# Passes if the metrics files A and B (metrics.jsonl) hold the same lines
# but for each epoch's "train_seconds": the evaluation of a distributed run
# (loss, accuracy, IWAE, regression, split across the ranks) against that of
# one process, to the 10 digits the metrics file writes.
foreach(side A B)
  if(NOT EXISTS "${${side}}")
    message(FATAL_ERROR "no metrics file ${${side}}")
  endif()
  file(READ "${${side}}" text)
  string(REGEX REPLACE "\"train_seconds\": [-+.0-9eE]+, " "" text "${text}")
  set(metrics_${side} "${text}")
endforeach()
if(NOT metrics_A STREQUAL metrics_B)
  message(FATAL_ERROR "the metrics differ:\n${A}:\n${metrics_A}\n${B}:\n${metrics_B}")
endif()
if(metrics_A STREQUAL "")
  message(FATAL_ERROR "${A} is empty")
endif()
message(STATUS "the same metrics but for train_seconds")
