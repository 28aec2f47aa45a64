#!/usr/bin/env bash
# Builds the relais Debian package, installs it on this machine, runs the
# daemon as its systemd unit would (emulated: see emulate-unit.py), hangs it
# on purpose, upgrades the package and purges it. One PASS or FAIL line per
# check; exits 1 if any failed.
#
#   packaging/test-deb.sh            # build (release, cargo-deb), then test
#   packaging/test-deb.sh --no-build # package the binary already built
#   packaging/test-deb.sh --debug    # a debug build: quicker where only the
#                                    # workspace's debug build is warm (CI)
#
# RELAIS_TEST_IDLE_SECONDS=60 also measures the idle daemon's CPU and memory.
#
# For a CI machine or a container where systemd is not PID 1: it installs
# and purges the package, so it refuses to run where a real relais is
# installed (a store it did not make).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

CARGO_DEB_VERSION=3.8.0
MARK=.relais-test-deb
failures=0

pass() { echo "PASS  $*"; }
fail() { echo "FAIL  $*"; failures=$((failures + 1)); }
check() { # check NAME COMMAND...: PASS if the command succeeds
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name"; fi
}
step() { echo "== $* ($(($(date +%s) - started)) s)"; }

[ "$(id -u)" = 0 ] || { echo "test-deb.sh: run as root (it installs a package)" >&2; exit 2; }
if [ -d /run/systemd/system ]; then
    echo "test-deb.sh: systemd runs this machine; this test emulates the unit for" \
        "containers. On a box, use systemctl (packaging/README.md)." >&2
    exit 2
fi
if dpkg-query -W -f='${Status}' relais 2>/dev/null | grep -q installed; then
    if [ -e /var/lib/relais/relais.redb ] && [ ! -e "/var/lib/relais/$MARK" ]; then
        echo "test-deb.sh: relais is installed with a store this test did not make;" \
            "refusing to purge it" >&2
        exit 2
    fi
    dpkg --purge relais >/dev/null
fi

# -- Build ------------------------------------------------------------------
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    step "installing cargo-deb $CARGO_DEB_VERSION"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi
out=target/debian/test
mkdir -p "$out"
step "building the package"
build_flags=()
for arg in "$@"; do
    case $arg in
        --no-build) build_flags+=(--no-build) ;;
        # cargo-deb 3.8 builds the dev profile with a warning (a box's
        # package is always a release build).
        --debug) build_flags+=(--profile dev) ;;
        *) echo "test-deb.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done
# --fast: lighter xz compression, the same files (a box's package is built
# without it).
cargo deb -p relais "${build_flags[@]}" --fast --output "$out/relais-1.deb"
# The upgrade: the same package with the next Debian revision. Repacked
# rather than built again, so it holds the very same binary even if another
# build replaces target/release/relais meanwhile.
version1=$(dpkg-deb -f "$out/relais-1.deb" Version)
version2="${version1%-*}-$((${version1##*-} + 1))"
rm -rf "$out/repack"
dpkg-deb -R "$out/relais-1.deb" "$out/repack"
sed -i "s/^Version: .*/Version: $version2/" "$out/repack/DEBIAN/control"
dpkg-deb -b "$out/repack" "$out/relais-2.deb" >/dev/null
rm -rf "$out/repack"

step "the package's contents"
contents=$(dpkg-deb -c "$out/relais-1.deb" | awk '{print $6}')
for f in ./usr/bin/relais ./lib/systemd/system/relais.service ./usr/lib/sysusers.d/relais.conf \
    ./etc/relais/relais.toml; do
    # cargo-deb may place units under /usr/lib on merged-/usr systems.
    alt=${f/#.\/lib\//./usr/lib/}
    if grep -qxF -e "$f" -e "$alt" <<<"$contents"; then pass "packaged: $f"; else fail "packaged: $f"; fi
done
check "conffile: /etc/relais/relais.toml" \
    sh -c "dpkg-deb -I '$out/relais-1.deb' conffiles | grep -qx /etc/relais/relais.toml"

# -- Install ----------------------------------------------------------------
step "installing $version1"
dpkg -i "$out/relais-1.deb" </dev/null
unit=$(dpkg -L relais | grep '/systemd/system/relais.service$')
check "installed: /usr/bin/relais runs" /usr/bin/relais --version
if /usr/bin/relais --help | grep -qw demo; then fail "built without the demo"; else pass "built without the demo"; fi
check "installed: the unit" test -f "$unit"
check "installed: the default configuration" test -f /etc/relais/relais.toml
# The conffile is agent/src/config/relais.toml as packaged, the binary's
# copy is the one compiled in: they differ if the file changed mid-build.
check "the default configuration is relais config default" \
    sh -c "/usr/bin/relais config default | cmp -s - /etc/relais/relais.toml"
check "user relais exists" getent passwd relais
check "group relais exists" getent group relais
uid=$(id -u relais)
shell=$(getent passwd relais | cut -d: -f7)
home=$(getent passwd relais | cut -d: -f6)
check "relais is a system user (uid $uid)" test "$uid" -lt 1000
check "relais cannot log in ($shell)" sh -c "case '$shell' in */nologin|*/false) ;; *) exit 1;; esac"
check "relais's home is /var/lib/relais" test "$home" = /var/lib/relais
check "/var/lib/relais is relais:relais 750" \
    test "$(stat -c '%U:%G %a' /var/lib/relais)" = "relais:relais 750"
check "systemd-analyze verify accepts the installed unit" systemd-analyze verify "$unit"
check "the conffile is registered" \
    sh -c "dpkg-query -W -f='\${Conffiles}' relais | grep -q /etc/relais/relais.toml"
score=$(systemd-analyze security --offline=true "$unit" 2>/dev/null |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }'; then
    pass "systemd-analyze security: $score (2.0 or better)"
else
    fail "systemd-analyze security: '$score' (2.0 or better)"
fi

# -- The site's configuration -----------------------------------------------
# As a site would: edit the conffile. No [shop], no [pos]: nothing leaves
# the machine. The ERP share is a folder of this test.
work=$(mktemp -d /tmp/relais-test-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
install -d -o relais -g relais -m 0750 "$work/erp" "$work/erp/import" "$work/erp/export"
install -o relais -g relais -m 0640 tests/samples/day-2026-12-02/erp/clients.csv "$work/erp/"
touch "/var/lib/relais/$MARK"
cat >/etc/relais/relais.toml <<EOF
# relais test-deb.sh: a site's edit of the packaged configuration.
[store]
path = "/var/lib/relais/relais.redb"

[site]
time_zone = "Europe/Paris"
clients = "$work/erp/clients.csv"

[erp]
folder = "$work/erp"
poll_seconds = 1
EOF
check "relais config check accepts the site's configuration" \
    /usr/bin/relais config check /etc/relais/relais.toml

# -- The unit, emulated -----------------------------------------------------
step "running the daemon as the unit would (systemd is not PID 1 here)"
if python3 packaging/emulate-unit.py check --unit "$unit" --clients "$work/erp/clients.csv" \
    --watchdog-sec 2 --poll-seconds 1; then :; else failures=$((failures + 1)); fi
check "the store is in /var/lib/relais, owned by relais" \
    test "$(stat -c %U /var/lib/relais/relais.redb 2>/dev/null)" = relais
check "relais status reads the store" /usr/bin/relais status --store /var/lib/relais/relais.redb
if [ -n "${RELAIS_TEST_IDLE_SECONDS:-}" ]; then
    step "idle: ${RELAIS_TEST_IDLE_SECONDS} s"
    if python3 packaging/emulate-unit.py idle --unit "$unit" \
        --seconds "$RELAIS_TEST_IDLE_SECONDS"; then :; else failures=$((failures + 1)); fi
fi

# -- Upgrade ------------------------------------------------------------------
step "upgrading to $version2"
store_sum=$(sha256sum </var/lib/relais/relais.redb)
config_sum=$(sha256sum </etc/relais/relais.toml)
# No --force-conf*: an upgrade must keep the edited conffile without asking.
dpkg -i "$out/relais-2.deb" </dev/null
check "upgraded to $version2" \
    test "$(dpkg-query -W -f='${Version}' relais)" = "$version2"
check "the upgrade kept the store" test "$(sha256sum </var/lib/relais/relais.redb)" = "$store_sum"
check "the upgrade kept the site's configuration" \
    test "$(sha256sum </etc/relais/relais.toml)" = "$config_sum"
check "the upgrade kept the user (uid $uid)" test "$(id -u relais)" = "$uid"
check "the store is still relais's" \
    test "$(stat -c %U /var/lib/relais/relais.redb)" = relais
if python3 packaging/emulate-unit.py start-stop --unit "$unit"; then :; else
    failures=$((failures + 1))
fi

# -- Purge --------------------------------------------------------------------
step "purging"
dpkg --purge relais </dev/null
check "purge removed the binary" test ! -e /usr/bin/relais
check "purge removed the configuration" test ! -e /etc/relais/relais.toml
check "purge removed the store" test ! -e /var/lib/relais
check "purge removed the user" sh -c "! getent passwd relais"
check "purge removed the group" sh -c "! getent group relais"

echo "test-deb.sh: $failures failed, $(($(date +%s) - started)) s in all"
[ "$failures" = 0 ]
