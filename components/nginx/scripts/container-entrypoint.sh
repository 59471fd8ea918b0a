# shellcheck shell=sh
# The Docker target's container entry script (renderContainerEntrypoint in dockerTarget.ts joins the
# parameter header and this file): supervises the dedicated nginx of the release layout in MTLS_DIR.
# Parameters (header): MTLS_DIR, MTLS_NGINX, MTLS_CONF, MTLS_PID_FILE, MTLS_ERROR_LOG, MTLS_ACCESS_LOG,
# MTLS_LOCK, MTLS_LOG_ROTATE_KB, MTLS_POLL_SECONDS, MTLS_FORWARD_ERROR_LOG. Joined after common.sh and lock.sh.
set -u
say() { printf 'mtls-nginx: %s\n' "$*"; }
umask 022
if ! mkdir -p "$MTLS_DIR/releases" "$MTLS_DIR/logs" "$MTLS_DIR/run"; then
    say "cannot create $MTLS_DIR/releases, logs and run (is the volume mounted read-write?)"
    exit 1
fi
# nginx's workers (the image's unprivileged user) must traverse the volume's root to the release files.
chmod 0755 "$MTLS_DIR" 2>/dev/null || true
# nginx's pid when it runs (the pid file names a live nginx process), else fails.
nginx_pid() {
    [ -f "$MTLS_PID_FILE" ] || return 1
    _p=$(cat "$MTLS_PID_FILE" 2>/dev/null) || return 1
    case $_p in ''|*[!0-9]*) return 1 ;; esac
    [ "$_p" != "$$" ] || return 1
    kill -0 "$_p" 2>/dev/null || return 1
    if [ -r "/proc/$_p/cmdline" ]; then
        tr '\000' ' ' < "/proc/$_p/cmdline" | grep -q nginx || return 1
    fi
    printf '%s\n' "$_p"
}
# At start, pid file and lock of a previous run of the container name processes of another pid
# namespace: drop them unless they name a live process started after this script (an install that
# came in through docker exec).
after_me() {
    case ${1:-} in ''|*[!0-9]*) return 1 ;; esac
    [ "$1" -gt "$$" ] && kill -0 "$1" 2>/dev/null
}
_p=$(cat "$MTLS_PID_FILE" 2>/dev/null) || _p=
after_me "$_p" || rm -f "$MTLS_PID_FILE"
if [ -d "$MTLS_LOCK" ]; then
    _p=$(mtls_lock_owner)
    after_me "${_p%% *}" || rm -rf "$MTLS_LOCK"
fi
# The install script's lock (lock.sh): nginx is only started here while no install runs. One attempt;
# a dead holder's lock is taken over (atomically) for the next one.
take_lock() {
    _rc=0
    mtls_lock_try || _rc=$?
    case $_rc in
        0) return 0 ;;
        2) say "cannot create the lock $MTLS_LOCK: $MTLS_LOCK_ERROR" ;;
        *) if [ -n "$MTLS_LOCK_HOLDER" ] && ! mtls_owner_alive "$MTLS_LOCK_HOLDER"; then mtls_lock_takeover "$MTLS_LOCK_HOLDER" || true; fi ;;
    esac
    return 1
}
MTLS_RETRY_AT=0
start_nginx() {
    _rel=$(readlink "$MTLS_DIR/current" 2>/dev/null) || _rel=
    say "starting nginx with release ${_rel#releases/}"
    if "$MTLS_NGINX" -h 2>&1 | grep -q -- '-e filename'; then set -- -e "$MTLS_ERROR_LOG"; else set --; fi
    if "$MTLS_NGINX" -p "$MTLS_DIR" -c "$MTLS_CONF" "$@" </dev/null >"$MTLS_DIR/run/.start-output" 2>&1; then
        _i=0
        until nginx_pid >/dev/null || [ "$_i" -ge 50 ]; do
            sleep 0.1 2>/dev/null || sleep 1
            _i=$((_i + 1))
        done
        MTLS_RETRY_AT=0
    else
        say "nginx did not start; retrying in 30 s:"
        sed 's/^/    /' "$MTLS_DIR/run/.start-output"
        MTLS_RETRY_AT=$(( $(date +%s) + 30 ))
    fi
    rm -f "$MTLS_DIR/run/.start-output"
}
rotate_logs() {
    _rot=0
    for _f in "$MTLS_ACCESS_LOG" "$MTLS_ERROR_LOG"; do
        [ -f "$_f" ] || continue
        if [ "$(( $(wc -c < "$_f") / 1024 ))" -ge "$MTLS_LOG_ROTATE_KB" ]; then
            mv -f "$_f" "$_f.1" && _rot=1
        fi
    done
    if [ "$_rot" = 1 ] && _p=$(nginx_pid); then kill -USR1 "$_p" 2>/dev/null || true; fi
}
MTLS_TAIL=
stop() {
    trap - TERM INT QUIT HUP
    if _p=$(nginx_pid); then
        say "stopping nginx (pid $_p) gracefully"
        kill -QUIT "$_p" 2>/dev/null || true
        _i=0
        while nginx_pid >/dev/null; do
            _i=$((_i + 1))
            if [ "$_i" -eq 100 ]; then kill -TERM "$_p" 2>/dev/null || true; fi
            if [ "$_i" -ge 150 ]; then break; fi
            sleep 0.1 2>/dev/null || sleep 1
        done
    fi
    [ -z "$MTLS_TAIL" ] || kill "$MTLS_TAIL" 2>/dev/null || true
    exit 0
}
trap stop TERM INT QUIT
trap 'if _p=$(nginx_pid); then say "reloading nginx (SIGHUP)"; kill -HUP "$_p"; fi' HUP
# nginx's error log, also on the container's output (docker logs).
if [ "$MTLS_FORWARD_ERROR_LOG" = 1 ] && command -v tail >/dev/null 2>&1; then
    touch "$MTLS_ERROR_LOG" 2>/dev/null || true
    tail -n 0 -F "$MTLS_ERROR_LOG" 2>/dev/null &
    MTLS_TAIL=$!
fi
_waiting=0
_n=0
while :; do
    if nginx_pid >/dev/null; then
        _waiting=0
    elif [ ! -f "$MTLS_CONF" ]; then
        [ "$_waiting" = 1 ] || say "waiting for a release in $MTLS_DIR/current (pulumi up installs it with docker exec)"
        _waiting=1
    elif [ "$(date +%s)" -ge "$MTLS_RETRY_AT" ] && take_lock; then
        if ! nginx_pid >/dev/null && [ -f "$MTLS_CONF" ]; then start_nginx; fi
        mtls_unlock
    fi
    _n=$((_n + 1))
    if [ $((_n % 30)) -eq 0 ]; then rotate_logs; fi
    sleep "$MTLS_POLL_SECONDS" &
    wait $! 2>/dev/null || true
done
