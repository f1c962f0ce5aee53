#!/usr/bin/env bash
# deps.sh - install what sluice needs to build, test and demo, if missing.
#
# Run as root it installs the missing Debian packages (and the npm packages
# under tests/ that the end-to-end tests use). Run as another user it prints
# the exact apt-get line to run and fails. Packages already present are left
# alone, so a second run costs a few dpkg queries.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # build
  build-essential pkg-config clang libclang-rt-14-dev
  # libraries sluice links
  libmicrohttpd-dev libyaml-dev libzstd-dev libjansson-dev libcurl4-openssl-dev
  zlib1g-dev libsqlite3-dev librdkafka-dev libsnappy-dev libpcre2-dev libhiredis-dev libpq-dev
  # tests and benchmarks
  libcriterion-dev zstd curl procps prometheus wrk kcat
  # real servers and clients the end-to-end tests start or use
  redis-server postgresql kcat chromium
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "sluice: missing packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ECharts for the dashboard: vendored into the binary at build time
# (scripts/embed_assets.sh); the Makefile also runs this when it is missing.
if [ ! -f web/node_modules/echarts/dist/echarts.min.js ] || [ web/package.json -nt web/node_modules/.stamp ]; then
  echo "deps: npm install in web/"
  (cd web && npm install --no-audit --no-fund --loglevel=error) && touch web/node_modules/.stamp
fi

# npm packages the end-to-end tests use (DuckDB, hyparquet, playwright-core).
if [ -f tests/package.json ]; then
  if [ ! -d tests/node_modules ] || [ tests/package.json -nt tests/node_modules/.stamp ]; then
    echo "deps: npm install in tests/"
    (cd tests && npm install --no-audit --no-fund --loglevel=error) && touch tests/node_modules/.stamp
  fi
fi
