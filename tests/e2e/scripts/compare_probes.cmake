cmake_minimum_required(VERSION 3.25)
# Weights from elsewhere probe like the checkpoint they came from: trains the seed, probes its
# last checkpoint, probes the MATLAB-layout export of that checkpoint through --config/--weights,
# and compares the verdicts (collapsed, first collapsed layer, causes).
#   -DBIN -DCONFIG -DOUT -DCKPT (file name in OUT) -DWCONFIG -DWEIGHTS
file(REMOVE_RECURSE ${OUT})
execute_process(COMMAND ${BIN} train --config ${CONFIG} --out ${OUT} -q RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "train failed (${rc})")
endif()
execute_process(COMMAND ${BIN} probe ${OUT}/${CKPT} --format json --fail-on never
                OUTPUT_VARIABLE a RESULT_VARIABLE rc)
execute_process(COMMAND ${BIN} probe --config ${WCONFIG} --weights ${WEIGHTS} --format json
                        --fail-on never
                OUTPUT_VARIABLE b ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "probe --weights failed (${rc}): ${err}")
endif()
foreach(key collapsed first_collapsed_layer causes)
  string(JSON va GET "${a}" verdict ${key})
  string(JSON vb GET "${b}" verdict ${key})
  message("${key}: checkpoint ${va} | weights ${vb}")
  if(NOT va STREQUAL vb)
    message(FATAL_ERROR "verdict.${key} differs")
  endif()
endforeach()
string(JSON ra GET "${a}" layers 0 rho)
string(JSON rb GET "${b}" layers 0 rho)
message("conv1 rho: checkpoint ${ra} | weights ${rb}")
