#!/usr/bin/env bash
# Installs Debian's Chromium for the status page's screenshot test
# (agent/tests/status_page.rs, `headless_chromium_shows_the_page_at_a_phone_s_size`).
#
# Measured on the rust-svc machine (Debian 12, 2 cores): `apt-get update`
# plus `apt-get install chromium` took 43 s wall clock, 125 packages,
# about 300 MB installed (chromium 156 from bookworm-security).
#
# To make CI require the screenshot, .ci/run would do:
#     bash .ci/chromium.sh
#     export RELAIS_REQUIRE_CHROMIUM=1
# Without it, the test prints "SKIPPED: /usr/bin/chromium is missing" and
# passes. The test only ever loads http://127.0.0.1:PORT and passes flags
# that keep Chromium off every other host (see the test).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo unknown version)"
    exit 0
fi
echo "installing chromium (about 45 s, 300 MB)"
start=$(date +%s)
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
echo "chromium installed in $(($(date +%s) - start)) s"
