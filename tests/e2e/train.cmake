# End-to-end: `cnndiag train`, `inspect` on checkpoints, `--help`, `--version`, and the ways a
# training run or a checkpoint goes wrong. Bad checkpoints come from
# tests/data/checkpoints/make_bad_checkpoints.py. (Regexes avoid ';', which CMake would split.)
set(_seed ${CNNDIAG_EXAMPLES}/seed/net.toml)
set(_ckpt ${PROJECT_SOURCE_DIR}/tests/data/checkpoints)
set(_cls ${PROJECT_SOURCE_DIR}/tests/data/crosscheck/cls.toml)

# A short run of the seed example: exit 0, and it says where the checkpoints went.
cnndiag_e2e(NAME train.seed_50_iterations
            ARGS train --config ${_seed} --iterations 50 --out ${CNNDIAG_E2E_TMP}/train_seed_50
            MATCH "training 50 iterations on 32 samples.*trained 50 iterations.*final loss [0-9.e+-]+\n8 checkpoints in [^\n]*train_seed_50 \\(last: ckpt-00000050\\.h5\\)")

# --help teaches: what train does, where checkpoints go, Ctrl-C and non-finite behaviour, options.
cnndiag_e2e(NAME train.help ARGS train --help
            MATCH "Train the network of a TOML config.*--config.*--iterations.*--out.*--resume.*--threads.*--seed.*ckpt-<iteration>\\.h5.*Ctrl-C writes a checkpoint[^\n]*exits 130.*non-finite loss.*exits 1")
cnndiag_e2e(NAME inspect.help ARGS inspect --help
            MATCH "what a config, checkpoint or data file holds.*ckpt-\\*\\.h5 +a checkpoint: iteration")
cnndiag_e2e(NAME main.help ARGS --help MATCH "train.*inspect")
cnndiag_e2e(NAME main.version ARGS --version MATCH "^cnndiag [0-9]+\\.[0-9]+\\.[0-9]+")
cnndiag_e2e(NAME train.missing_config ARGS train EXIT 2 MATCH "--config is required")

# inspect shows a checkpoint's iteration and its tensors.
cnndiag_e2e(NAME inspect.checkpoint ARGS inspect ${_ckpt}/good.h5
            MATCH "[Ii]teration[^\n]*3.*conv1\\.weight.*fc1\\.weight.*fc1\\.bias")

# Damaged checkpoints: exit 2, one line naming the file (and the object).
cnndiag_e2e(NAME inspect.truncated_checkpoint ARGS inspect ${_ckpt}/truncated.h5 EXIT 2
            MATCH "truncated\\.h5: " NOMATCH "HDF5-DIAG")
cnndiag_e2e(NAME inspect.checkpoint_missing_dataset ARGS inspect ${_ckpt}/missing_fc1_weight.h5
            EXIT 2 MATCH "missing_fc1_weight\\.h5: /params/fc1/weight: missing")
cnndiag_e2e(NAME inspect.checkpoint_wrong_version ARGS inspect ${_ckpt}/wrong_version.h5
            EXIT 2 MATCH "wrong_version\\.h5: [^\n]*format_version[^\n]*99")
cnndiag_e2e(NAME train.resume_truncated_checkpoint
            ARGS train --config ${_cls} --resume ${_ckpt}/truncated.h5
                 --out ${CNNDIAG_E2E_TMP}/train_resume_truncated
            EXIT 2 MATCH "truncated\\.h5: " NOMATCH "HDF5-DIAG")
cnndiag_e2e(NAME train.resume_missing_dataset
            ARGS train --config ${_cls} --resume ${_ckpt}/missing_fc1_weight.h5
                 --out ${CNNDIAG_E2E_TMP}/train_resume_missing
            EXIT 2 MATCH "missing_fc1_weight\\.h5: /params/fc1/weight: missing")
# A good checkpoint resumes (3 → 5 iterations).
cnndiag_e2e(NAME train.resume_good_checkpoint
            ARGS train --config ${_cls} --resume ${_ckpt}/good.h5 --iterations 5
                 --out ${CNNDIAG_E2E_TMP}/train_resume_good
            MATCH "trained 5 iterations.*\\(last: ckpt-00000005\\.h5\\)")

# A non-finite loss: exit 1, naming the iteration and the first non-finite tensor; the last good
# state is still written.
cnndiag_e2e(NAME train.nonfinite_loss
            ARGS train --config ${_ckpt}/huge_lr.toml --out ${CNNDIAG_E2E_TMP}/train_nonfinite
            EXIT 1
            MATCH "iteration [0-9]+: the loss is (NaN|infinite). first non-finite tensor: (parameter [a-z0-9_]+\\.[a-z]+|output of layer '[a-z0-9_]+')[^\n]*\n[^\n]*last good state written to [^\n]*ckpt-[0-9]+\\.h5")

# Ctrl-C: exit 130 and a readable checkpoint of the last finished step (a script, since it needs
# a process in the background and a signal).
add_test(NAME e2e.train.sigint
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/train_sigint.sh $<TARGET_FILE:cnndiag>
                 ${_seed} ${CNNDIAG_E2E_TMP}/train_sigint)
set_tests_properties(e2e.train.sigint PROPERTIES ENVIRONMENT "NO_COLOR=1" TIMEOUT 180
                     PASS_REGULAR_EXPRESSION "ok: exit 130")

# The full seed run (10000 iterations, ~1 s): checkpoints at 0, 1000, …, 10000 that h5py reads
# with every documented name and shape. Skipped (exit 77) where Python has no h5py.
# Debian's python3 (the first python3 on PATH may lack h5py); without it, the test is skipped.
if(EXISTS /usr/bin/python3)
  set(_schema_check /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_checkpoint_schema.py
                    $<TARGET_FILE:cnndiag> ${_seed} ${CNNDIAG_E2E_TMP}/train_seed_h5py)
else()
  set(_schema_check sh -c "echo 'skipped: no /usr/bin/python3' && exit 77")
endif()
add_test(NAME e2e.train.seed_checkpoints_h5py COMMAND ${_schema_check})
set_tests_properties(e2e.train.seed_checkpoints_h5py PROPERTIES ENVIRONMENT "NO_COLOR=1"
                     TIMEOUT 300 SKIP_RETURN_CODE 77)
