# `cnndiag inspect` on each bad config under tests/data/configs/bad: exit code 2 and one line that
# names the file with line:col, the key and what is wrong. tests/unit/config_test.cpp checks the
# exact messages, and that every MATCH below fits its message: keep each case's
# `bad/<file>.toml EXIT 2` and `MATCH "..."` on consecutive lines. The regexes avoid parentheses,
# brackets, question marks, quotes and backslashes, so they read the same in CMake and std::regex.

cnndiag_e2e(NAME config.malformed
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/malformed.toml EXIT 2
            MATCH "malformed.toml:[0-9]+:[0-9]+: invalid TOML: Error while parsing table header")
cnndiag_e2e(NAME config.unknown_key
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/unknown_key.toml EXIT 2
            MATCH "unknown_key.toml:[0-9]+:[0-9]+: optimizer: unknown key 'momentom' .did you mean 'momentum'")
cnndiag_e2e(NAME config.unknown_table
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/unknown_table.toml EXIT 2
            MATCH "unknown_table.toml:[0-9]+:[0-9]+: unknown table 'optimiser' .did you mean 'optimizer'")
cnndiag_e2e(NAME config.wrong_type
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/wrong_type.toml EXIT 2
            MATCH "wrong_type.toml:[0-9]+:[0-9]+: layer 'conv1' .conv2d.: kernel: expected a positive integer or .height, width., got float 3.0")
cnndiag_e2e(NAME config.negative_lr
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/negative_lr.toml EXIT 2
            MATCH "negative_lr.toml:[0-9]+:[0-9]+: optimizer.lr: expected a number > 0, got -0.1")
cnndiag_e2e(NAME config.momentum_out_of_range
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/momentum_out_of_range.toml EXIT 2
            MATCH "momentum_out_of_range.toml:[0-9]+:[0-9]+: optimizer.momentum: expected a number in .0, 1., got 1.0")
cnndiag_e2e(NAME config.unknown_layer_type
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/unknown_layer_type.toml EXIT 2
            MATCH "unknown_layer_type.toml:[0-9]+:[0-9]+: layer 'sig1': unknown layer type 'sigmod' .did you mean 'sigmoid'")
cnndiag_e2e(NAME config.duplicate_name
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/duplicate_name.toml EXIT 2
            MATCH "duplicate_name.toml:[0-9]+:[0-9]+: layer name 'fc1' is used twice, at line [0-9]+ and line [0-9]+")
cnndiag_e2e(NAME config.missing_data_file_key
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/missing_data_file_key.toml EXIT 2
            MATCH "missing_data_file_key.toml:[0-9]+:[0-9]+: data: missing required key 'file'")
cnndiag_e2e(NAME config.missing_data_table
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/missing_data_table.toml EXIT 2
            MATCH "missing_data_table.toml: missing required table .data.")
cnndiag_e2e(NAME config.missing_required_key
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/missing_required_key.toml EXIT 2
            MATCH "missing_required_key.toml:[0-9]+:[0-9]+: layer 'conv1' .conv2d.: missing required key 'out_channels'")
cnndiag_e2e(NAME config.no_layers
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/no_layers.toml EXIT 2
            MATCH "no_layers.toml: no layers: add at least one")
cnndiag_e2e(NAME config.key_of_other_type
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/key_of_other_type.toml EXIT 2
            MATCH "key_of_other_type.toml:[0-9]+:[0-9]+: layer 'pool1' .maxpool.: key 'out_channels' is not used by maxpool layers")
cnndiag_e2e(NAME config.bad_fault
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/bad_fault.toml EXIT 2
            MATCH "bad_fault.toml:[0-9]+:[0-9]+: layer 'sig1' .sigmoid.: fault: unknown fault .derivative_omited. .did you mean 'derivative_omitted'")
cnndiag_e2e(NAME config.fault_wrong_layer
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/fault_wrong_layer.toml EXIT 2
            MATCH "fault_wrong_layer.toml:[0-9]+:[0-9]+: layer 'fc1' .linear.: fault: .kernel_not_flipped. does not apply to linear layers")
cnndiag_e2e(NAME config.wrong_tensor_fault_after_pool
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/wrong_tensor_fault_after_pool.toml EXIT 2
            MATCH "wrong_tensor_fault_after_pool.toml:[0-9]+:[0-9]+: layer 'sig1' .sigmoid.: fault: .sigmoid_derivative_on_wrong_tensor. needs a linear layer right before the sigmoid")
cnndiag_e2e(NAME config.bad_init
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/bad_init.toml EXIT 2
            MATCH "bad_init.toml:[0-9]+:[0-9]+: layer 'fc1' .linear.: init.weight: unknown initialiser 'normall' .did you mean 'normal'")
cnndiag_e2e(NAME config.bad_import
            ARGS inspect ${PROJECT_SOURCE_DIR}/tests/data/configs/bad/bad_import.toml EXIT 2
            MATCH "bad_import.toml:[0-9]+:[0-9]+: import.params..fc3.weight.: no layer named 'fc3' .did you mean 'fc1'")
