# Sourced by scripts/run-stack for WHARF_DB=pg: a private PostgreSQL
# server for `make run`, for a developer who has Debian's postgresql
# package but no server of their own to point WHARF_DB=postgresql://... at.
#
# The cluster is made once with initdb (user postgres, trust auth: it
# listens on nothing but a unix socket in its own folder, which only its
# owner can enter) and kept across runs, as run/wharf.db is; the server
# runs in the foreground of its own session, a part of the stack, and is
# stopped with it (fast shutdown: open psql sessions are cut off). Its
# folder is run/pg; as root, PostgreSQL runs as the postgres user, who may
# not be able to enter a checkout under /root (mode 0700): the cluster
# then lives in the cache folder instead ($WHARF_CACHE/run-pg-<hash of the
# run folder>). WHARF_PG_DIR picks the folder outright.
#
# After run_pg_start: pg_pid, pg_dir, pg_port, pg_url (wharfd's --db).

# The folder for the cluster (see above).
run_pg_dir() { # run_dir
    if [ -n "${WHARF_PG_DIR:-}" ]; then
        printf '%s\n' "$WHARF_PG_DIR"
        return
    fi
    if [ "$(id -u)" != 0 ] || setpriv --reuid=postgres --regid=postgres --clear-groups \
        test -x "$1" 2>/dev/null; then
        printf '%s\n' "$1/pg"
        return
    fi
    . "$root/scripts/lib/cache.sh"
    printf '%s/run-pg-%s\n' "$(wharf_cache_dir)" "$(printf '%s' "$1" | cksum | cut -d' ' -f1)"
}

# The newest installed server's binaries (Debian keeps them out of PATH).
run_pg_bin() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        [ -x "$d/postgres" ] && { printf '%s\n' "$d"; return; }
    done
    return 1
}

run_pg_start() { # run_dir log
    local bin as=()
    bin=$(run_pg_bin) || die "WHARF_DB=pg needs PostgreSQL's server: install Debian's postgresql package (scripts/install-deps test)"
    pg_dir=$(run_pg_dir "$1")
    # The socket's name is DIR/.s.PGSQL.PORT; any port will do, nothing
    # listens on TCP.
    pg_port=${WHARF_PG_PORT:-5432}
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "WHARF_DB=pg as root needs the postgres user (Debian's postgresql package)"
        as=(setpriv --reuid=postgres --regid=postgres --clear-groups)
    fi
    if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
        say "make run: a private PostgreSQL cluster, once, in $pg_dir"
        mkdir -p "$pg_dir" && chmod 0700 "$pg_dir"
        [ ${#as[@]} = 0 ] || chown postgres:postgres "$pg_dir"
        "${as[@]}" "$bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust --encoding=UTF8 \
            --locale=C >"$2.initdb" 2>&1 || die "initdb failed; its output: $2.initdb"
    fi
    [ ${#as[@]} = 0 ] || chown postgres:postgres "$pg_dir"
    # The log goes to $2, which is ours: the server writes to the stderr
    # it is given.
    : >"$2"
    setsid "${as[@]}" "$bin/postgres" -D "$pg_dir/data" -k "$pg_dir" -p "$pg_port" \
        -c listen_addresses= >"$2" 2>&1 &
    pg_pid=$!
    wait_line "$2" 'database system is ready to accept connections' "$pg_pid" postgres
    pg_url="postgresql://postgres@/wharf?host=$pg_dir&port=$pg_port"
    if [ -z "$("$bin/psql" -h "$pg_dir" -p "$pg_port" -U postgres -d postgres -XtAc \
        "SELECT 1 FROM pg_database WHERE datname = 'wharf'")" ]; then
        "$bin/createdb" -h "$pg_dir" -p "$pg_port" -U postgres wharf || die "createdb wharf failed"
    fi
}
