# shellcheck shell=bash
# A throwaway PostgreSQL server for the ForIP tests (ForIP keeps its call tickets in PostgreSQL and
# the driver reads them through unixODBC + psqlODBC, the PostgreSQL ODBC driver).
#
# `source .ci/postgres.sh` (as root on a fresh Debian 12 machine, or as a user who already has the
# packages): installs postgresql, unixodbc and odbc-postgresql when missing, starts a private cluster
# in a /tmp directory on 127.0.0.1 and a free port (no systemd), creates a user with a password and a
# database, and exports
#   TUI_CAA_TEST_PG_ODBC  an ODBC connection string naming the installed psqlODBC driver
#   TUI_CAA_TEST_PG_DIR   the cluster's directory (data, socket, log)
# `tui_caa_pg_stop` stops the server and removes the directory. Safe under `set -euo pipefail`.

tui_caa_pg_start() {
    local need=() pkg
    for pkg in postgresql unixodbc odbc-postgresql; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    if ((${#need[@]})); then
        if [[ $(id -u) -ne 0 ]]; then
            echo "postgres.sh: missing packages ${need[*]} (run as root to install them)" >&2
            return 1
        fi
        apt-get update -qq
        # the package's own cluster may fail to start without systemd: we do not use it
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi

    local bindir
    bindir=$(find /usr/lib/postgresql -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)
    if [[ -z $bindir || ! -x $bindir/initdb ]]; then
        echo "postgres.sh: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin" >&2
        return 1
    fi

    # the psqlODBC driver as unixODBC knows it (odbc-postgresql registers it in /etc/odbcinst.ini)
    local driver
    driver=$(sed -n 's/^\[\(PostgreSQL Unicode[^]]*\)\]$/\1/p' /etc/odbcinst.ini 2>/dev/null | head -n 1)
    if [[ -z $driver ]]; then
        driver=$(find /usr/lib -name psqlodbcw.so 2>/dev/null | head -n 1)
        if [[ -z $driver ]]; then
            echo "postgres.sh: psqlODBC is not installed (Debian package odbc-postgresql)" >&2
            return 1
        fi
    fi

    local dir port password run=()
    dir=$(mktemp -d /tmp/tui-caa-pg.XXXXXX)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres:postgres "$dir"
        run=(runuser -u postgres --)  # PostgreSQL refuses to run as root
    fi
    chmod 700 "$dir"
    "${run[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        return 1
    }
    "${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off" \
        start >/dev/null || {
        cat "$dir/server.log" >&2
        return 1
    }
    "${run[@]}" "$bindir/psql" -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
        -c "CREATE ROLE caa_test LOGIN CREATEDB PASSWORD '$password'" \
        -c "CREATE DATABASE forip_test OWNER caa_test ENCODING 'UTF8'" >/dev/null

    export TUI_CAA_TEST_PG_DIR=$dir
    # the CRM store tests create (and drop) a database of their own per test
    export TUI_CAA_TEST_CRM_PG="postgresql://caa_test:$password@127.0.0.1:$port/postgres"
    export TUI_CAA_TEST_PG_ODBC="Driver={$driver};Server=127.0.0.1;Port=$port;Database=forip_test;Uid=caa_test;Pwd=$password"
    TUI_CAA_PG_BINDIR=$bindir
    echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (ODBC driver: $driver)"
}

tui_caa_pg_stop() {
    [[ -n ${TUI_CAA_TEST_PG_DIR:-} && -d ${TUI_CAA_TEST_PG_DIR:-} ]] || return 0
    local run=()
    [[ $(id -u) -eq 0 ]] && run=(runuser -u postgres --)
    "${run[@]}" "$TUI_CAA_PG_BINDIR/pg_ctl" -D "$TUI_CAA_TEST_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$TUI_CAA_TEST_PG_DIR"
    unset TUI_CAA_TEST_PG_DIR TUI_CAA_TEST_PG_ODBC TUI_CAA_TEST_CRM_PG
}

tui_caa_pg_start
