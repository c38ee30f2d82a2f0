# MariaDB for the Planetfone tests (a Planetfone PBX keeps an Asterisk-style CDR table in MySQL).
#
# Meant to be `source`d by .ci/run as root on a fresh Debian 12 machine: installs mariadb-server if
# missing, starts mariadbd in the background (no systemd in CI) with its data under /tmp, creates a
# database and a user with a password on 127.0.0.1, and exports
#   TUI_CAA_TEST_MYSQL=mysql://caa:caa-test-pw@127.0.0.1:<port>/caa_planetfone
# The tests create their own tables. Sourcing it again reuses the server that is already running.
# Knobs: TUI_CAA_MARIADB_PORT (default 3306), TUI_CAA_MARIADB_DIR (default /tmp/tui-caa-mariadb).

tui_caa_mariadb() {
    local port="${TUI_CAA_MARIADB_PORT:-3306}"
    local base="${TUI_CAA_MARIADB_DIR:-/tmp/tui-caa-mariadb}"
    local data="$base/data" sock="$base/mysqld.sock" log="$base/mysqld.log"
    local db=caa_planetfone user=caa password=caa-test-pw

    if ! command -v mariadbd >/dev/null 2>&1 && ! command -v mysqld >/dev/null 2>&1 \
        && [ ! -x /usr/sbin/mariadbd ] && [ ! -x /usr/sbin/mysqld ]; then
        echo "mariadb.sh: installing mariadb-server"
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        # policy-rc.d 101: the package must not try to start the service itself (no init here)
        local policy=/usr/sbin/policy-rc.d created_policy=0
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq mariadb-server mariadb-client >/dev/null
        if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
    fi
    local server
    server="$(command -v mariadbd || command -v mysqld || true)"
    [ -n "$server" ] || server=/usr/sbin/mariadbd
    [ -x "$server" ] || server=/usr/sbin/mysqld
    local admin client
    admin="$(command -v mariadb-admin || command -v mysqladmin)"
    client="$(command -v mariadb || command -v mysql)"

    if ! "$admin" --socket="$sock" -uroot ping >/dev/null 2>&1; then
        mkdir -p "$base"
        if [ ! -d "$data/mysql" ]; then
            rm -rf "$data"
            mkdir -p "$data"
            chown -R mysql:mysql "$base"
            local installer
            installer="$(command -v mariadb-install-db || command -v mysql_install_db)"
            "$installer" --user=mysql --datadir="$data" --auth-root-authentication-method=socket \
                --skip-test-db >"$base/install.log" 2>&1 || { cat "$base/install.log"; return 1; }
        fi
        chown -R mysql:mysql "$base"
        # --no-defaults: the Debian /etc/mysql config would point at /run/mysqld, which may not exist
        nohup "$server" --no-defaults --user=mysql --datadir="$data" --socket="$sock" \
            --pid-file="$base/mysqld.pid" --port="$port" --bind-address=127.0.0.1 \
            --skip-name-resolve --innodb-buffer-pool-size=32M --log-error="$log" >/dev/null 2>&1 &
        local waited=0
        until "$admin" --socket="$sock" -uroot ping >/dev/null 2>&1; do
            sleep 0.5
            waited=$((waited + 1))
            if [ "$waited" -gt 120 ]; then
                echo "mariadb.sh: MariaDB did not start within 60 s; its log:" >&2
                tail -n 30 "$log" >&2 || true
                return 1
            fi
        done
    fi
    "$client" --socket="$sock" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'localhost';
-- the CRM store tests create (and drop) a database of their own per test: caa_crm_<random>
GRANT ALL PRIVILEGES ON \`caa\\_crm\\_%\`.* TO '$user'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`caa\\_crm\\_%\`.* TO '$user'@'localhost';
FLUSH PRIVILEGES;
SQL
    export TUI_CAA_TEST_MYSQL="mysql://$user:$password@127.0.0.1:$port/$db"
    export TUI_CAA_TEST_CRM_MYSQL="mysql://$user:$password@127.0.0.1:$port/"  # the CRM on MariaDB
    echo "mariadb.sh: MariaDB $("$admin" --socket="$sock" -uroot version 2>/dev/null | awk '/Server version/ {print $3}') ready on 127.0.0.1:$port (database $db)"
}

tui_caa_mariadb
unset -f tui_caa_mariadb
