# The examples that prove the probes (issue 4): each trains, probes and checks the report.
function(cnndiag_example NAME CONFIG TARGET)
  add_test(NAME e2e.example.${NAME}
           COMMAND ${CMAKE_COMMAND} -DBIN=$<TARGET_FILE:cnndiag> -DCONFIG=${CONFIG}
                   -DOUT=${CNNDIAG_E2E_TMP}/example-${NAME} -DTARGET=${TARGET} ${ARGN}
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/scripts/probe_example.cmake)
  set_tests_properties(e2e.example.${NAME} PROPERTIES ENVIRONMENT "NO_COLOR=1" TIMEOUT 300)
endfunction()

# The post's run: collapsed from conv1, decay errors with lr·λ = 1.5, the targets are noise.
cnndiag_example(seed ${CNNDIAG_EXAMPLES}/seed/net.toml ckpt-00010000.h5
  -DCOLLAPSED=true -DFIRST_LAYER=conv1 -DEXIT=1
  "-DEXPECT=weight_decay.overshoot@conv1.weight\;weight_decay.overshoot@fc1.weight\;targets.unpredictable@targets\;collapse.identical_outputs@conv1"
  "-DEVIDENCE=weight_decay.overshoot@conv1.weight:lr_lambda=1.5\;weight_decay.overshoot@fc1.weight:lr_lambda=1.5")
# The whole folder: the sigmoid's output collapses before the conv's.
cnndiag_example(seed_time_map ${CNNDIAG_EXAMPLES}/seed/net.toml .
  -DCOLLAPSED=true -DFIRST_LAYER=conv1 -DEXIT=1 "-DORDER=sig1<conv1")
# The fix: no collapse, no error.
cnndiag_example(seed_fixed ${CNNDIAG_EXAMPLES}/seed/fixed.toml ckpt-00002000.h5
  -DCOLLAPSED=false -DEXIT=0 -DONLY_ERRORS=none "-DEXPECT=targets.unpredictable@targets")
# The false-positive control: a healthy classifier.
cnndiag_example(classifier ${CNNDIAG_EXAMPLES}/classifier/net.toml ckpt-00000300.h5
  -DCOLLAPSED=false -DEXIT=0 -DONLY_ERRORS=none)
cnndiag_example(dying_relu ${CNNDIAG_EXAMPLES}/dying-relu/net.toml ckpt-00000100.h5
  -DCOLLAPSED=false -DEXIT=0 -DONLY_ERRORS=none "-DEXPECT=units.dead@relu1")
cnndiag_example(saturated_sigmoid ${CNNDIAG_EXAMPLES}/saturated-sigmoid/net.toml ckpt-00000100.h5
  -DCOLLAPSED=false -DEXIT=0 -DONLY_ERRORS=none "-DEXPECT=units.saturated@sig1")
cnndiag_example(exploding_gradients ${CNNDIAG_EXAMPLES}/exploding-gradients/net.toml ckpt-00000000.h5
  -DCOLLAPSED=false -DEXIT=1 -DONLY_ERRORS=gradient_flow.exploding
  "-DEXPECT=gradient_flow.exploding@fc1")
# In a deep sigmoid stack the compression that shrinks the gradient also squeezes the outputs
# towards 0.5: the collapse is the consequence, vanishing gradients the cause.
cnndiag_example(vanishing_gradients ${CNNDIAG_EXAMPLES}/vanishing-gradients/net.toml ckpt-00000050.h5
  -DEXIT=1 -DCOLLAPSED=true -DONLY_ERRORS=collapse.identical_outputs
  "-DEXPECT=gradient_flow.vanishing@fc1")
