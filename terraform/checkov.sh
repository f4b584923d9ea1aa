#!/usr/bin/env bash
# checkov over terraform/, in its own virtualenv (checkov pins old versions of common packages, so it
# never shares the project's .venv). Exits non-zero on any failed check. Every accepted exception is
# an inline `# checkov:skip=CKV_…: reason` next to the resource it concerns.
#
#   bash terraform/checkov.sh            # creates .venv-checkov at the repo root on first use
#   CHECKOV_ARGS="--output json" bash terraform/checkov.sh
set -euo pipefail

CHECKOV_VERSION="3.3.30"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CHECKOV_VENV:-$REPO/.venv-checkov}"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/checkov" ]] || [[ "$("$VENV/bin/checkov" --version 2>/dev/null)" != "$CHECKOV_VERSION" ]]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION"
fi

# Offline: no Prisma Cloud API key, no guideline/severity mapping download, no PyPI update check.
unset BC_API_KEY PRISMA_API_URL
export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE ANSI_COLORS_DISABLED=1

cd "$REPO"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
set +e
# shellcheck disable=SC2086  # CHECKOV_ARGS is a word list on purpose
"$VENV/bin/checkov" -d terraform --framework terraform --quiet --compact --skip-download \
  --download-external-modules false ${CHECKOV_ARGS:-} 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
# checkov exits 0 when a check crashes on a resource or a file does not parse: that resource went
# unchecked, so treat it as a failure.
if grep -qE "Failed to run check|Parsing errors: [1-9]" "$out"; then
  echo "checkov.sh: a check crashed or a file did not parse (see above): something went unchecked" >&2
  exit 1
fi
exit "$status"
