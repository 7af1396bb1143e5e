# End-to-end: bad data files, directly and through a config, give exit code 2 and the data
# loader's one-line message naming the file and the dataset. The files come from
# tests/data/make_bad_data.py; the configs live in tests/data/configs_data/.
# (Regexes avoid ';', which CMake would split into a list.)
set(_bad ${PROJECT_SOURCE_DIR}/tests/data/bad)
set(_cfg ${PROJECT_SOURCE_DIR}/tests/data/configs_data)

# A data file given to inspect directly.
cnndiag_e2e(NAME data.inspect_fake_mat ARGS inspect ${_bad}/fake.mat EXIT 2
            MATCH "fake\\.mat: not a MATLAB \\.mat or HDF5 file \\(it starts with 'hello world")
cnndiag_e2e(NAME data.inspect_empty_mat ARGS inspect ${_bad}/empty.mat EXIT 2
            MATCH "empty\\.mat: not a MATLAB \\.mat or HDF5 file \\(it is empty\\)")
cnndiag_e2e(NAME data.inspect_truncated_h5 ARGS inspect ${_bad}/truncated.h5 EXIT 2
            MATCH "truncated\\.h5: cannot open as HDF5 \\(damaged or truncated\\?\\)"
            NOMATCH "HDF5-DIAG")
cnndiag_e2e(NAME data.inspect_truncated_mat ARGS inspect ${_bad}/truncated.mat EXIT 2
            MATCH "truncated\\.mat: damaged or truncated MATLAB file")
cnndiag_e2e(NAME data.inspect_missing ARGS inspect ${_bad}/does_not_exist.h5 EXIT 2
            MATCH "does_not_exist\\.h5: no such file")
# A readable file with NaN is not an error for inspect: it shows what is there.
cnndiag_e2e(NAME data.inspect_nan_file ARGS inspect ${_bad}/nan_x.h5 EXIT 0 MATCH "/X")

# A config pointing at bad data: inspect loads the dataset and stops with the loader's message.
cnndiag_e2e(NAME data.config_missing_file ARGS inspect ${_cfg}/missing_file.toml EXIT 2
            MATCH "does_not_exist\\.h5: no such file")
cnndiag_e2e(NAME data.config_missing_dataset ARGS inspect ${_cfg}/missing_dataset.toml EXIT 2
            MATCH "renamed\\.h5: no dataset '/X' \\(it has: /images, /labels\\)")
cnndiag_e2e(NAME data.config_wrong_target_count ARGS inspect ${_cfg}/wrong_target_count.toml
            EXIT 2
            MATCH "wrong_count\\.h5: /y: the targets hold 7 samples but the inputs /X hold 8")
cnndiag_e2e(NAME data.nan ARGS inspect ${_cfg}/nan_inputs.toml EXIT 2
            MATCH "nan_x\\.h5: /X: 3 non-finite values \\(2 NaN, 1 Inf\\) in the inputs. the first at \\(n,c,h,w\\) = \\(1,0,2,3\\)")
cnndiag_e2e(NAME data.nan_mat ARGS inspect ${_cfg}/nan_inputs_mat.toml EXIT 2
            MATCH "nan_x\\.mat: X: 3 non-finite values .*X\\(3,4,1,2\\) in MATLAB")
cnndiag_e2e(NAME data.config_fake_mat ARGS inspect ${_cfg}/fake_mat.toml EXIT 2
            MATCH "fake\\.mat: not a MATLAB \\.mat or HDF5 file")
cnndiag_e2e(NAME data.config_truncated_h5 ARGS inspect ${_cfg}/truncated_h5.toml EXIT 2
            MATCH "truncated\\.h5: cannot open as HDF5" NOMATCH "HDF5-DIAG")
