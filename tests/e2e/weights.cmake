# Weights trained elsewhere (issue 4): a MATLAB-layout .mat with the post's variable names, made
# from a cnndiag checkpoint by tests/crosscheck/export_matlab_weights.py, probes the same.
add_test(NAME e2e.probe.matlab_weights_probe_like_the_checkpoint
         COMMAND ${CMAKE_COMMAND} -DBIN=$<TARGET_FILE:cnndiag>
                 -DCONFIG=${CNNDIAG_EXAMPLES}/seed/net.toml -DOUT=${CNNDIAG_E2E_TMP}/weights-seed
                 -DCKPT=ckpt-00010000.h5 -DWCONFIG=${CNNDIAG_EXAMPLES}/seed/matlab-weights.toml
                 -DWEIGHTS=${PROJECT_SOURCE_DIR}/tests/data/weights/seed-10000.mat
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/scripts/compare_probes.cmake)
set_tests_properties(e2e.probe.matlab_weights_probe_like_the_checkpoint PROPERTIES
                     ENVIRONMENT "NO_COLOR=1" TIMEOUT 300)
cnndiag_e2e(NAME probe.weights_without_config
            ARGS probe --weights ${PROJECT_SOURCE_DIR}/tests/data/weights/seed-10000.mat
            EXIT 2 MATCH "--config and --weights go together")
cnndiag_e2e(NAME probe.weights_missing_variable
            ARGS probe --config ${CNNDIAG_EXAMPLES}/seed/matlab-weights.toml
                 --weights ${CNNDIAG_EXAMPLES}/seed/minibatch.mat
            EXIT 2 MATCH "minibatch.mat.*w")
cnndiag_e2e(NAME probe.no_such_checkpoint ARGS probe /nonexistent/ckpt.h5
            EXIT 2 MATCH "/nonexistent/ckpt.h5: no such checkpoint file or folder")
cnndiag_e2e(NAME probe.help ARGS probe --help
            MATCH "first layer where they become identical.*time x layer map.*Exit codes.*--fail-on.*--junit")
