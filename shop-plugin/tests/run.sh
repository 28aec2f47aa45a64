#!/usr/bin/env bash
# Tests of the Relais invoices plugin against a real WordPress (Debian's packages), with a
# throwaway site, database and PHP built-in web server, all on 127.0.0.1 and all removed at
# the end. WooCommerce cannot be installed here: a tiny stub (tests/site/mu-plugins/
# woocommerce-stub.php) stands in for what it would provide to the plugin.
#
#   bash shop-plugin/tests/run.sh          (as root if packages must be installed)
#
# Environment:
#   RELAIS_WP_DB_HOST, RELAIS_WP_DB_PORT   MariaDB to use with user root and no password
#                                          (default 127.0.0.1:3306); if it cannot be reached,
#                                          a private MariaDB is started in the temp folder
#   RELAIS_WP_PRIVATE_DB=1                 always start the private MariaDB
#   RELAIS_WP_KEEP=1                       keep the temp folder (logs, site) for inspection
#
# Prints PASS/FAIL per check, then "N passed, N failed"; exits 1 if any check failed, 2 if
# the site could not be set up.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PLUGIN="$(cd "$HERE/../relais-invoices" && pwd)"
STARTED=$(date +%s)
log() { printf '[%4ss] %s\n' "$(($(date +%s) - STARTED))" "$*"; }
die() {
    echo "run.sh: cannot set up the test site: $*" >&2
    for f in "${T:-/nonexistent}"/*.log; do
        [ -f "$f" ] && { echo "--- $f (last lines)" >&2; tail -n 20 "$f" >&2; }
    done
    exit 2
}

# ---------------------------------------------------------------- packages
apt_install() {
    [ "$(id -u)" = 0 ] || die "missing packages ($*) and not root to install them"
    log "installing Debian packages: $*"
    local before
    before=$(pgrep -x apache2 | sort | tr '\n' ' ')
    apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        >"${TMPDIR:-/tmp}/relais-wp-apt.log" 2>&1 || die "apt-get install $* failed (see ${TMPDIR:-/tmp}/relais-wp-apt.log)"
    # The wordpress package pulls in Apache; where the machine lets packages start services,
    # its post-install starts one. Stop it again: this script leaves no server behind.
    if [ -z "$before" ] && pgrep -x apache2 >/dev/null; then
        log "stopping the Apache that the package installation started"
        apache2ctl stop >/dev/null 2>&1 || true
    fi
}
need=()
command -v php >/dev/null 2>&1 || need+=(php-cli)
php -r 'exit(function_exists("mysqli_connect") ? 0 : 1);' 2>/dev/null || need+=(php-mysql)
[ -f /usr/share/wordpress/wp-settings.php ] || need+=(wordpress)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
[ "${#need[@]}" -eq 0 ] || apt_install "${need[@]}"
log "packages ready: $(php -r 'echo "PHP ", PHP_VERSION;'), WordPress $(php -r 'include "/usr/share/wordpress/wp-includes/version.php"; echo $wp_version;')"

# ---------------------------------------------------------------- temp folder, cleanup
T="$(mktemp -d "${TMPDIR:-/tmp}/relais-wp.XXXXXX")"
chmod 755 "$T" # Apache's workers (another user) read the site for the .htaccess check.
PHP_PID="" APACHE_PID="" DB_PID="" DB_NAME="" DB_USER=""
cleanup() {
    [ -n "$PHP_PID" ] && kill "$PHP_PID" 2>/dev/null
    [ -n "$APACHE_PID" ] && kill "$APACHE_PID" 2>/dev/null
    if [ -n "$DB_NAME" ] && [ -z "$DB_PID" ]; then
        sql "DROP DATABASE IF EXISTS \`$DB_NAME\`; DROP USER IF EXISTS '$DB_USER'@'127.0.0.1'; DROP USER IF EXISTS '$DB_USER'@'localhost';" >/dev/null 2>&1
    fi
    if [ -n "$DB_PID" ]; then
        kill "$DB_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$DB_PID" 2>/dev/null || break; sleep 0.1; done
    fi
    wait 2>/dev/null
    if [ "${RELAIS_WP_KEEP:-}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    php -r '$s = stream_socket_server("tcp://127.0.0.1:0"); $n = stream_socket_get_name($s, false); echo substr($n, strrpos($n, ":") + 1);'
}

# ---------------------------------------------------------------- database
DB_HOST="${RELAIS_WP_DB_HOST:-127.0.0.1}"
DB_PORT="${RELAIS_WP_DB_PORT:-3306}"
sql() { mariadb --protocol=TCP -h "$DB_HOST" -P "$DB_PORT" -u root -N -B -e "$1"; }

start_private_db() {
    if ! command -v mariadbd >/dev/null 2>&1 || ! command -v mariadb-install-db >/dev/null 2>&1; then
        apt_install mariadb-server
    fi
    log "starting a private MariaDB in $T/db"
    mkdir -p "$T/db"
    mariadb-install-db --no-defaults --user=root --datadir="$T/db/data" \
        --auth-root-authentication-method=normal --skip-test-db >"$T/db-install.log" 2>&1 ||
        die "mariadb-install-db failed"
    DB_HOST=127.0.0.1
    DB_PORT=$(free_port)
    mariadbd --no-defaults --user=root --datadir="$T/db/data" --socket="$T/db/mysqld.sock" \
        --pid-file="$T/db/mysqld.pid" --bind-address=127.0.0.1 --port="$DB_PORT" \
        --skip-name-resolve >"$T/db.log" 2>&1 &
    DB_PID=$!
    for _ in $(seq 100); do sql 'SELECT 1' >/dev/null 2>&1 && return 0; sleep 0.2; done
    die "the private MariaDB did not start"
}
if [ "${RELAIS_WP_PRIVATE_DB:-}" = 1 ] || ! sql 'SELECT 1' >/dev/null 2>&1; then
    start_private_db
fi
SUFFIX="$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
DB_NAME="relais_wptest_$SUFFIX"
DB_USER="relais_wp_$SUFFIX"
DB_PASS="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
sql "CREATE DATABASE \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
     CREATE USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
     CREATE USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
     GRANT ALL ON \`$DB_NAME\`.* TO '$DB_USER'@'127.0.0.1';
     GRANT ALL ON \`$DB_NAME\`.* TO '$DB_USER'@'localhost';" || die "cannot create the database"
log "database $DB_NAME on $DB_HOST:$DB_PORT"

# ---------------------------------------------------------------- site
SITE="$T/site"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
cp -a /usr/share/wordpress "$SITE"
rm -rf "$SITE/.htaccess" "$SITE/wp-config.php" "$SITE/wp-content"
mkdir -p "$SITE/wp-content/plugins" "$SITE/wp-content/themes" "$SITE/wp-content/mu-plugins" "$SITE/wp-content/uploads"
cp -r "$PLUGIN" "$SITE/wp-content/plugins/relais-invoices"
cp -r "$HERE/site/theme" "$SITE/wp-content/themes/relais-test"
cp "$HERE"/site/mu-plugins/*.php "$SITE/wp-content/mu-plugins/"
salts="$(for k in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
    printf "define( '%s', '%s' );\n" "$k" "$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')"
done)"
cat >"$SITE/wp-config.php" <<EOF
<?php
// Throwaway test site made by shop-plugin/tests/run.sh.
define( 'DB_NAME', '$DB_NAME' );
define( 'DB_USER', '$DB_USER' );
define( 'DB_PASSWORD', '$DB_PASS' );
define( 'DB_HOST', '$DB_HOST:$DB_PORT' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
$salts
\$table_prefix = 'wp_';
define( 'WP_HOME', '$URL' );
define( 'WP_SITEURL', '$URL' );
// Application passwords need HTTPS, or a 'local' site such as this one.
define( 'WP_ENVIRONMENT_TYPE', 'local' );
define( 'WP_DEBUG', true );
define( 'WP_DEBUG_LOG', '$T/wp-debug.log' );
define( 'WP_DEBUG_DISPLAY', false );
define( 'DISABLE_WP_CRON', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_HTTP_BLOCK_EXTERNAL', true );
define( 'FS_METHOD', 'direct' );
if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
EOF

php "$HERE/site/setup-site.php" install "$SITE" "$URL" >"$T/setup.log" 2>&1 || die "WordPress installation failed"
php "$HERE/site/setup-site.php" configure "$SITE" "$URL" >"$T/users.json" 2>>"$T/setup.log" || die "site configuration failed"
log "WordPress installed and the plugin activated"

user() { php -r '$u = json_decode(file_get_contents($argv[1]), true); echo $u[$argv[2]][$argv[3]];' "$T/users.json" "$1" "$2"; }
MANAGER="manager:$(user manager app_password)"
ALICE_ID=$(user alice id) BOB_ID=$(user bob id) CAROL_ID=$(user carol id)

php -S "127.0.0.1:$PORT" -t "$SITE" "$HERE/site/router.php" >"$T/php-server.log" 2>&1 &
PHP_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "$URL/wp-login.php" && break; sleep 0.1; done
curl -s -o /dev/null "$URL/wp-login.php" || die "php -S did not answer on $URL"
log "serving $URL with php -S"

# ---------------------------------------------------------------- helpers
PASSED=0 FAILED=0
check() { # check NAME CONDITION-COMMAND...
    local name="$1"
    shift
    if "$@"; then
        PASSED=$((PASSED + 1))
        echo "PASS $name"
    else
        FAILED=$((FAILED + 1))
        echo "FAIL $name   [HTTP $CODE: $(head -c 300 "$T/body" 2>/dev/null | tr '\n' ' ')]"
    fi
}
CODE=""
: >"$T/body"
# req METHOD PATH [curl args...]: sets CODE, writes $T/body and $T/headers.
req() {
    local method="$1" path="$2"
    shift 2
    CODE=$(curl -sS -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method" "$@" "$URL$path") || CODE=000
}
json() { # json KEY.PATH: value from $T/body ('' if absent)
    php -r '$v = json_decode(file_get_contents($argv[1]), true);
        foreach (explode(".", $argv[2]) as $k) { if (!is_array($v) || !array_key_exists($k, $v)) { exit; } $v = $v[$k]; }
        echo is_array($v) ? json_encode($v) : (is_bool($v) ? ($v ? "true" : "false") : $v);' "$T/body" "$1"
}
is() { [ "$1" = "$2" ]; }
code_is() { [ "$CODE" = "$1" ] && { [ $# -lt 2 ] || [ "$(json code)" = "$2" ]; }; }
header() { tr -d '\r' <"$T/headers" | awk -v h="$(echo "$1" | tr 'A-Z' 'a-z')" 'BEGIN{FS=": "} tolower($1)==h {print substr($0, length($1)+3)}' | tail -n 1; }
body_has() { grep -q -- "$1" "$T/body"; }
body_lacks() { ! grep -q -- "$1" "$T/body"; }
not_pdf() { [ "$(head -c 5 "$T/body")" != "%PDF-" ]; }

make_pdf() { # make_pdf FILE TEXT: a small valid PDF
    local text="$2"
    {
        printf '%%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n'
        printf '2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n'
        printf '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 100]>>endobj\n'
        printf '%% %s\ntrailer<</Root 1 0 R>>\n%%%%EOF\n' "$text"
    } >"$1"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
put_pdf() { # put_pdf NUMBER CUSTOMER FILE [curl args...] (as the shop manager)
    local number="$1" customer="$2" file="$3"
    shift 3
    req PUT "/wp-json/relais/v1/invoices/$number" -u "$MANAGER" -H "Content-Type: application/pdf" \
        -H "X-Relais-Customer: $customer" -H "X-Relais-Sha256: $(sha "$file")" --data-binary "@$file" "$@"
}

make_pdf "$T/a1.pdf" "alice invoice FA-2026-0001"
make_pdf "$T/a2.pdf" "alice invoice FA-2026-0003"
make_pdf "$T/b1.pdf" "bob invoice FA-2026-0002"
make_pdf "$T/other.pdf" "different bytes"
printf '<html>not a pdf</html>' >"$T/html.bin"
{ printf '%%PDF-'; head -c $((10 * 1024 * 1024)) /dev/zero; } >"$T/big.pdf"
A1=FA-2026-0001 A2=FA-2026-0003 B1=FA-2026-0002

echo "== PHP syntax"
for f in "$PLUGIN"/*.php "$PLUGIN"/includes/*.php; do
    check "php -l ${f#"$PLUGIN"/}" bash -c "php -l '$f' >/dev/null 2>&1"
done

echo "== REST routes: authentication"
req GET "/wp-json/relais/v1/invoices/$A1"
check "GET invoice without credentials is 401" code_is 401
req PUT "/wp-json/relais/v1/invoices/$A1" -H "Content-Type: application/pdf" -H "X-Relais-Customer: $ALICE_ID" --data-binary "@$T/a1.pdf"
check "PUT invoice without credentials is 401" code_is 401
req GET "/wp-json/relais/v1/customers/$ALICE_ID/invoices"
check "GET customer list without credentials is 401" code_is 401
req GET "/wp-json/relais/v1/invoices/$A1" -u "manager:wrong wrong wrong wrong wrong wrong"
check "GET invoice with a wrong password is 401" code_is 401
ALICE_APP="alice:$(user alice app_password)"
req PUT "/wp-json/relais/v1/invoices/$A1" -u "$ALICE_APP" -H "Content-Type: application/pdf" -H "X-Relais-Customer: $ALICE_ID" --data-binary "@$T/a1.pdf"
check "PUT invoice as a customer (no manage_woocommerce) is 403" code_is 403
req GET "/wp-json/relais/v1/customers/$BOB_ID/invoices" -u "$ALICE_APP"
check "GET another customer's list as a customer is 403" code_is 403
req GET "/wp-json/relais/v1/invoices/$A1" -u "$ALICE_APP"
check "GET invoice as a customer is 403" code_is 403

echo "== REST routes: input checks (as the shop manager)"
req GET "/wp-json/relais/v1/invoices/$A1" -u "$MANAGER"
check "GET an invoice not held is 404 relais_invoice_not_found" code_is 404 relais_invoice_not_found
put_pdf "bad%20number" "$ALICE_ID" "$T/a1.pdf"
check "PUT with a number outside A-Z a-z 0-9 _ - is 400 relais_invoice_invalid_number" code_is 400 relais_invoice_invalid_number
put_pdf "$(printf '9%.0s' $(seq 65))" "$ALICE_ID" "$T/a1.pdf"
check "PUT with a 65-character number is 400 relais_invoice_invalid_number" code_is 400 relais_invoice_invalid_number
req GET "/wp-json/relais/v1/invoices/a.b" -u "$MANAGER"
check "GET with an invalid number is 400 relais_invoice_invalid_number" code_is 400 relais_invoice_invalid_number
req PUT "/wp-json/relais/v1/invoices/$A1" -u "$MANAGER" -H "Content-Type: application/pdf" --data-binary "@$T/a1.pdf"
check "PUT without X-Relais-Customer is 400 relais_invoice_invalid_customer" code_is 400 relais_invoice_invalid_customer
put_pdf "$A1" 0 "$T/a1.pdf"
check "PUT with customer 0 is 400 relais_invoice_invalid_customer" code_is 400 relais_invoice_invalid_customer
put_pdf "$A1" "$ALICE_ID" "$T/a1.pdf" -H "X-Relais-Customer: $BOB_ID"
check "PUT with two X-Relais-Customer headers is 400 relais_invoice_invalid_customer" code_is 400 relais_invoice_invalid_customer
put_pdf "$A1" 987654 "$T/a1.pdf"
check "PUT for a customer id that is no user is 400 relais_invoice_invalid_customer" code_is 400 relais_invoice_invalid_customer
put_pdf "$A1" "$ALICE_ID" "$T/a1.pdf" -H "Content-Type: application/octet-stream"
check "PUT with Content-Type application/octet-stream is 415 relais_invoice_unsupported_type" code_is 415 relais_invoice_unsupported_type
put_pdf "$A1" "$ALICE_ID" "$T/big.pdf"
check "PUT of 10 MiB + 5 bytes is 413 relais_invoice_too_large" code_is 413 relais_invoice_too_large
put_pdf "$A1" "$ALICE_ID" "$T/html.bin"
check "PUT of a body that is not a PDF is 400 relais_invoice_not_pdf" code_is 400 relais_invoice_not_pdf
put_pdf "$A1" "$ALICE_ID" "$T/a1.pdf" -H "X-Relais-Sha256: $(sha "$T/other.pdf")"
check "PUT whose X-Relais-Sha256 differs from the body is 400 relais_invoice_checksum_mismatch" code_is 400 relais_invoice_checksum_mismatch
req GET "/wp-json/relais/v1/invoices/$A1" -u "$MANAGER"
check "nothing was stored by the refused uploads" code_is 404 relais_invoice_not_found
req POST "/wp-json/relais/v1/invoices/$A1" -u "$MANAGER" -H "Content-Type: application/pdf" --data-binary "@$T/a1.pdf"
check "POST (not a method of the route) is 404 rest_no_route" code_is 404 rest_no_route

echo "== REST routes: storing and answering"
put_pdf "$A1" "$ALICE_ID" "$T/a1.pdf"
check "PUT a new invoice is 201 Created" code_is 201
check "  its answer names number, customer, sha256 and size" \
    is "$(json number)|$(json customer_id)|$(json sha256)|$(json size)" "$A1|$ALICE_ID|$(sha "$T/a1.pdf")|$(stat -c %s "$T/a1.pdf")"
check "  received_at is RFC 3339 UTC" bash -c "[[ '$(json received_at)' =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]]"
check "  Location points at the invoice" is "$(header Location)" "$URL/wp-json/relais/v1/invoices/$A1"
put_pdf "$A1" "$ALICE_ID" "$T/a1.pdf"
check "PUT the same invoice again is 200 (identical, a safe retry)" code_is 200
check "  and answers the invoice held" is "$(json number)|$(json sha256)" "$A1|$(sha "$T/a1.pdf")"
put_pdf "$A1" "$ALICE_ID" "$T/other.pdf"
check "PUT other bytes under a held number is 409 relais_invoice_conflict" code_is 409 relais_invoice_conflict
check "  with the held invoice in data.held" is "$(json data.held.sha256)|$(json data.held.customer_id)" "$(sha "$T/a1.pdf")|$ALICE_ID"
put_pdf "$A1" "$BOB_ID" "$T/a1.pdf"
check "PUT the same bytes for another customer under a held number is 409" code_is 409 relais_invoice_conflict
put_pdf "$B1" "$BOB_ID" "$T/b1.pdf"
check "PUT bob's invoice is 201" code_is 201
req PUT "/wp-json/relais/v1/invoices/$A2" -u "$MANAGER" -H "Content-Type: application/pdf" -H "X-Relais-Customer: $ALICE_ID" \
    -H "X-Relais-Sha256: $(sha "$T/a2.pdf" | tr a-f A-F)" --data-binary "@$T/a2.pdf"
check "PUT with an upper-case X-Relais-Sha256 is accepted (201)" code_is 201
put_pdf "fa-2026-0001" "$ALICE_ID" "$T/other.pdf"
check "numbers are case-sensitive: fa-2026-0001 is another invoice (201)" code_is 201
req GET "/wp-json/relais/v1/invoices/$A1" -u "$MANAGER"
check "GET a held invoice is 200" code_is 200
check "  with its number, customer and sha256" is "$(json number)|$(json customer_id)|$(json sha256)" "$A1|$ALICE_ID|$(sha "$T/a1.pdf")"
req GET "/wp-json/relais/v1/invoices/FA-2026-9999" -u "$MANAGER"
check "GET a number never sent is 404 relais_invoice_not_found" code_is 404 relais_invoice_not_found
req GET "/wp-json/relais/v1/customers/$ALICE_ID/invoices" -u "$MANAGER"
check "GET alice's list is 200, her three invoices sorted by number" \
    is "$CODE $(php -r 'echo implode(",", array_column(json_decode(file_get_contents($argv[1]), true), "number"));' "$T/body")" \
    "200 $A1,$A2,fa-2026-0001"
check "  list entries carry sha256, size and received_at, not customer_id" \
    is "$(json 0.sha256)|$(json 0.size)|$(json 0.customer_id)" "$(sha "$T/a1.pdf")|$(stat -c %s "$T/a1.pdf")|"
req GET "/wp-json/relais/v1/customers/$CAROL_ID/invoices" -u "$MANAGER"
check "GET the list of a customer with none is 200 []" is "$CODE $(tr -d ' \n' <"$T/body")" "200 []"
{ printf '%%PDF-'; head -c $((10 * 1024 * 1024 - 5)) /dev/zero; } >"$T/max.pdf"
put_pdf FA-2026-MAX "$CAROL_ID" "$T/max.pdf"
check "PUT of exactly 10 MiB is 201" code_is 201
req GET "/wp-json/relais/v1/customers/abc/invoices" -u "$MANAGER"
check "GET the list of customer 'abc' is 400 relais_invalid_customer" code_is 400 relais_invalid_customer

echo "== WooCommerce API keys"
while read -r line; do
    case "$line" in
    PASS\ *) PASSED=$((PASSED + 1)); echo "$line" ;;
    FAIL\ *) FAILED=$((FAILED + 1)); echo "$line" ;;
    *) echo "  $line" ;;
    esac
done < <(php "$HERE/site/check-filter.php" "$SITE" "$URL" 2>&1)

echo "== Private storage"
STORE="$SITE/wp-content/uploads/relais-invoices"
STORED="$(find "$STORE" -name '*.pdf' | head -n 1)"
check "the PDFs are in wp-content/uploads/relais-invoices under random names" \
    bash -c "[ \$(find '$STORE' -name '*.pdf' | grep -cE '/[0-9a-f]{32}\.pdf$') -eq 5 ] && ! ls '$STORE' | grep -q FA-"
check "  with a deny-all .htaccess and an empty index" \
    bash -c "grep -q 'Require all denied' '$STORE/.htaccess' && grep -q 'Deny from all' '$STORE/.htaccess' && [ ! -s '$STORE/index.html' ]"
A1_FILE="$(grep -l 'FA-2026-0001' "$STORE"/*.pdf | head -n 1)"
check "  the stored PDF has the bytes sent" cmp -s "$A1_FILE" "$T/a1.pdf"
req GET "/wp-content/uploads/relais-invoices/"
check "the folder's URL lists nothing" body_lacks ".pdf"
for guess in "$A1.pdf" "$ALICE_ID/$A1.pdf" "$A1"; do
    req GET "/wp-content/uploads/relais-invoices/$guess"
    check "a guessed URL /wp-content/uploads/relais-invoices/$guess serves no PDF" not_pdf
done
req GET "/wp-json/wp/v2/media?search=FA-2026" -u "$MANAGER"
check "the invoices are not in the media library" is "$CODE $(tr -d ' \n' <"$T/body")" "200 []"
if command -v apache2 >/dev/null 2>&1 && [ -f /usr/lib/apache2/modules/mod_authz_core.so ]; then
    APORT=$(free_port)
    cat >"$T/apache.conf" <<EOF
ServerRoot "$T"
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
Listen 127.0.0.1:$APORT
ServerName 127.0.0.1
PidFile "$T/apache.pid"
ErrorLog "$T/apache-error.log"
User $(id -un nobody 2>/dev/null || echo nobody)
Group $(id -gn nobody 2>/dev/null || echo nogroup)
DocumentRoot "$SITE"
<Directory "$SITE">
    AllowOverride All
    Require all granted
</Directory>
EOF
    echo control >"$SITE/wp-content/uploads/control.txt"
    chmod -R a+rX "$SITE/wp-content/uploads"
    apache2 -f "$T/apache.conf" -DFOREGROUND >"$T/apache.log" 2>&1 &
    APACHE_PID=$!
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$APORT/" && break; sleep 0.1; done
    if curl -s -o /dev/null "http://127.0.0.1:$APORT/"; then
        CODE=$(curl -sS -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$APORT/wp-content/uploads/relais-invoices/$(basename "$A1_FILE")")
        check "Apache with the plugin's .htaccess refuses the stored file's real URL (403)" code_is 403
        CODE=$(curl -sS -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$APORT/wp-content/uploads/control.txt")
        check "  while it serves a file elsewhere in uploads (200)" code_is 200
        kill "$APACHE_PID" 2>/dev/null
        wait "$APACHE_PID" 2>/dev/null
        APACHE_PID=""
    else
        FAILED=$((FAILED + 1))
        echo "FAIL Apache .htaccess check: Apache did not start ($(tail -n 1 "$T/apache.log"))"
    fi
else
    echo "SKIP Apache .htaccess check: apache2 is not installed (php -S ignores .htaccess)"
fi

echo "== My account and downloads"
login() { # login USER PASSWORD JAR
    curl -sS -o /dev/null -c "$3" -b "$3" "$URL/wp-login.php"
    CODE=$(curl -sS -o "$T/body" -w '%{http_code}' -c "$3" -b "$3" \
        --data-urlencode "log=$1" --data-urlencode "pwd=$2" -d "testcookie=1" -d "wp-submit=Log+In" \
        -d "redirect_to=$URL/my-account/" "$URL/wp-login.php")
}
login alice "$(user alice password)" "$T/alice.jar"
check "alice logs in" code_is 302
login bob "$(user bob password)" "$T/bob.jar"
check "bob logs in" code_is 302
req GET /my-account/relais-invoices/ -b "$T/alice.jar"
cp "$T/body" "$T/alice-page.html"
check "alice's My account has an Invoices tab" body_has 'nav-relais-invoices'
check "  listing her invoices $A1, $A2, fa-2026-0001" bash -c "grep -q '>$A1<' '$T/body' && grep -q '>$A2<' '$T/body' && grep -q '>fa-2026-0001<' '$T/body'"
check "  and not bob's $B1" body_lacks "$B1"
req GET /my-account/relais-invoices/ -b "$T/bob.jar"
cp "$T/body" "$T/bob-page.html"
check "bob's My account lists $B1 and none of alice's" \
    bash -c "grep -q '>$B1<' '$T/body' && ! grep -q 'FA-2026-0001\|FA-2026-0003\|fa-2026-0001' '$T/body'"
req GET /my-account/relais-invoices/
check "a visitor's My account lists no invoice" bash -c "! grep -q 'relais-invoice-number' '$T/body' && ! grep -q 'FA-2026' '$T/body'"
link() { # link PAGE NUMBER: the download URL in the page for that number
    php -r 'if (preg_match("#>" . preg_quote($argv[2], "#") . "<.*?href=\"([^\"]+)\"#s", file_get_contents($argv[1]), $m)) echo html_entity_decode($m[1]);' "$1" "$2"
}
A1_LINK="$(link "$T/alice-page.html" "$A1")"
B1_LINK="$(link "$T/bob-page.html" "$B1")"
check "  the download links go to admin-post.php with a nonce" bash -c "[[ '$A1_LINK' == $URL/wp-admin/admin-post.php?*_wpnonce=* ]]"
CODE=$(curl -sS -o "$T/body" -D "$T/headers" -w '%{http_code}' -b "$T/alice.jar" "$A1_LINK")
check "alice downloads her invoice $A1 (200, the bytes sent)" bash -c "[ $CODE = 200 ] && cmp -s '$T/body' '$T/a1.pdf'"
check "  as application/pdf, attachment, nosniff, not cached" bash -c \
    "[ '$(header Content-Type)' = application/pdf ] && [[ '$(header Content-Disposition)' == attachment* ]] && [ '$(header X-Content-Type-Options)' = nosniff ] && [[ '$(header Cache-Control)' == *no-cache* ]]"
ALICE_FOR_B1="${A1_LINK/number=$A1/number=$B1}"
CODE=$(curl -sS -o "$T/body" -w '%{http_code}' -b "$T/alice.jar" "$ALICE_FOR_B1")
check "alice cannot download bob's $B1 with her own valid nonce (404, no PDF)" bash -c "[ $CODE = 404 ] && [ \"\$(head -c 5 '$T/body')\" != '%PDF-' ]"
BOB_FOR_A1="${B1_LINK/number=$B1/number=$A1}"
CODE=$(curl -sS -o "$T/body" -w '%{http_code}' -b "$T/bob.jar" "$BOB_FOR_A1")
check "bob cannot download alice's $A1 with his own valid nonce (404, no PDF)" bash -c "[ $CODE = 404 ] && [ \"\$(head -c 5 '$T/body')\" != '%PDF-' ]"
CODE=$(curl -sS -o "$T/body" -w '%{http_code}' -b "$T/bob.jar" "$A1_LINK")
check "bob cannot use alice's link (nonce bound to her session: 403, no PDF)" bash -c "[ $CODE = 403 ] && [ \"\$(head -c 5 '$T/body')\" != '%PDF-' ]"
CODE=$(curl -sS -o "$T/body" -w '%{http_code}' -b "$T/bob.jar" "$BOB_FOR_A1&number=FA-2026-9999")
check "a number that is not held gets the same 404 as another's" bash -c "[ $CODE = 404 ]"
CODE=$(curl -sS -o "$T/body" -D "$T/headers" -w '%{http_code}' "$A1_LINK")
check "a visitor with alice's link is sent to log in (302 to wp-login.php, no PDF)" \
    bash -c "[ $CODE = 302 ] && [[ '$(header Location)' == *wp-login.php* ]] && [ \"\$(head -c 5 '$T/body')\" != '%PDF-' ]"
CODE=$(curl -sS -o "$T/body" -w '%{http_code}' -b "$T/alice.jar" "$URL/wp-admin/admin-post.php?action=relais_invoice_download&number=$A1")
check "alice without a nonce is refused (403)" bash -c "[ $CODE = 403 ] && [ \"\$(head -c 5 '$T/body')\" != '%PDF-' ]"
CODE=$(curl -sS -o "$T/body" -w '%{http_code}' -b "$T/alice.jar" "${A1_LINK/number=$A1/number=..%2Fwp-config}")
check "a path in the number is refused (400)" bash -c "[ $CODE = 400 ] && ! grep -q DB_PASSWORD '$T/body'"

echo "== WordPress's own log"
# (WordPress 6.1 itself logs deprecations under PHP 8.2; only the plugin's and the stub's count.)
if [ -s "$T/wp-debug.log" ] && grep -q 'plugins/relais-invoices/\|mu-plugins/' "$T/wp-debug.log"; then
    FAILED=$((FAILED + 1))
    echo "FAIL no PHP notice or error from the plugin"
    grep 'plugins/relais-invoices/\|mu-plugins/' "$T/wp-debug.log" | head -n 10
else
    PASSED=$((PASSED + 1))
    echo "PASS no PHP notice or error from the plugin"
fi

log "done"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
