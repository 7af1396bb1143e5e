# `cnndiag check`: exit 0 on an unchanged report, 1 on a regressed one, 2 on a bad file.
set(_seed_report ${PROJECT_SOURCE_DIR}/tests/data/reports/seed.json)
set(_fixed_report ${PROJECT_SOURCE_DIR}/tests/data/reports/fixed.json)
cnndiag_e2e(NAME check.unchanged ARGS check ${_fixed_report} --baseline ${_fixed_report}
            EXIT 0 MATCH "No regression against the baseline")
cnndiag_e2e(NAME check.regressed ARGS check ${_seed_report} --baseline ${_fixed_report}
            EXIT 1 MATCH "check.regression.*the outputs collapse now")
cnndiag_e2e(NAME check.improved ARGS check ${_fixed_report} --baseline ${_seed_report}
            EXIT 0 MATCH "No regression against the baseline")
cnndiag_e2e(NAME check.bad_tolerance ARGS check ${_fixed_report} --baseline ${_fixed_report}
            --tolerance rhoo=0.1 EXIT 2 MATCH "unknown metric 'rhoo'")
cnndiag_e2e(NAME check.not_a_report ARGS check ${CNNDIAG_EXAMPLES}/seed/net.toml
            --baseline ${_fixed_report} EXIT 2 MATCH "net.toml: not valid JSON")
cnndiag_e2e(NAME check.other_schema ARGS check ${PROJECT_SOURCE_DIR}/tests/data/reports/other-schema.json
            --baseline ${_fixed_report} EXIT 2 MATCH "schema is \"cnndiag.report/0\"")
