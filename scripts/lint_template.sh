#!/usr/bin/env bash
# Lints template.yaml with three linters, offline, with no AWS credentials:
#   - `sam validate` (the SAM transform) and `sam validate --lint` (SAM's bundled cfn-lint)
#   - cfn-lint 1.51.0 on its own: later releases miss errors inside SAM resources (a misspelt
#     !GetAtt target in a policy, an unknown Runtime), and it finds circular dependencies
#     between the API and a function that SAM's bundled version lets through.
#   - checkov 3.3.30 (security checks; it reads the AWS::Serverless::* resources directly).
#     A check the template does not meet on purpose is skipped on its resource, with the
#     reason, under `Metadata: checkov: skip:`.
# Any finding fails (cfn-lint exits non-zero on warnings too; checkov on any failed check that
# is not skipped there, and on a template it cannot parse).
#
#   scripts/lint_template.sh [template]     tools: `scripts/tools.sh lint checkov`
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEMPLATE="${1:-$ROOT/template.yaml}"

# Any region works; SAM refuses to run without one. Credentials and profiles of the caller
# are kept out so the result cannot depend on who runs it.
export SAM_CLI_TELEMETRY=0 AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

"$ROOT/.tools/sam/bin/sam" validate --template-file "$TEMPLATE"
"$ROOT/.tools/sam/bin/sam" validate --lint --template-file "$TEMPLATE"
"$ROOT/.tools/cfn-lint/bin/cfn-lint" -- "$TEMPLATE"
echo "cfn-lint: $TEMPLATE has no findings"

# Offline: no policy metadata download from the vendor's platform (--skip-download,
# BC_SKIP_MAPPING) and no PyPI update check; without these it tries the network on every run.
checkov_out="$(
    BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true CKV_PARSE_ERROR_FAIL=true \
        "$ROOT/.tools/checkov/bin/checkov" --file "$TEMPLATE" --framework cloudformation \
        --skip-download --compact --quiet 2>&1
)" || {
    printf '%s\n' "$checkov_out" >&2
    echo "checkov: $TEMPLATE has findings (fix them, or skip one on its resource with the reason)" >&2
    exit 1
}
# A template checkov did not take for CloudFormation would pass with no check run at all.
summary="$(grep -m1 -o 'Passed checks: [0-9]*, Failed checks: [0-9]*, Skipped checks: [0-9]*' <<<"$checkov_out" || true)"
if [[ ! "$summary" =~ ^Passed\ checks:\ [1-9] ]]; then
    printf '%s\n' "$checkov_out" >&2
    echo "checkov: no check ran on $TEMPLATE" >&2
    exit 1
fi
echo "checkov: $TEMPLATE: $summary"
