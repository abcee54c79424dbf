#!/usr/bin/env bash
# Set the one release version everywhere it is written (docs/release.md): the Python package (pyproject.toml),
# the chart's version and appVersion (deploy/chart/Chart.yaml; the image tag defaults to appVersion), and the
# CHANGELOG (the Unreleased section becomes "## [VERSION] - DATE", a new empty Unreleased section goes on top).
#   scripts/release.sh 0.2.0
set -euo pipefail
version=${1:?usage: scripts/release.sh VERSION (e.g. 0.2.0)}
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "release: '$version' is not a version such as 0.2.0 or 1.0.0-rc.1 (no leading v)" >&2
  exit 64
fi
cd "${FLUXPLANE_RELEASE_ROOT:-$(dirname "$0")/..}"
grep -q '^## \[Unreleased\]' CHANGELOG.md || { echo "release: CHANGELOG.md has no '## [Unreleased]' section" >&2; exit 1; }
sed -i -E "s/^version = \"[^\"]+\"/version = \"$version\"/" pyproject.toml
sed -i -E "s/^version: .*/version: $version/; s/^appVersion: .*/appVersion: \"$version\"/" deploy/chart/Chart.yaml
today=$(date -u +%Y-%m-%d)
sed -i -E "0,/^## \[Unreleased\]/s//## [Unreleased]\n\n## [$version] - $today/" CHANGELOG.md
echo "version $version set in pyproject.toml, deploy/chart/Chart.yaml and CHANGELOG.md; next: docs/release.md"
