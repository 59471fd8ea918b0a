# shellcheck shell=sh
# The release links ('current', 'previous'), nginx's error log, and nginx control for both modes.
# Parameters (header): MTLS_DIR, MTLS_MODE (dedicated | system), MTLS_NGINX, MTLS_NGINX_VERNUM (set by
# the version check), MTLS_ERROR_LOG; dedicated: MTLS_PREFIX, MTLS_CONF, MTLS_PID_FILE; system:
# MTLS_NGINX_ARGS (extra nginx arguments, each one shell-quoted), MTLS_RELOAD_KIND (signal | systemctl |
# command), MTLS_SYSTEMD_UNIT, MTLS_RELOAD_COMMAND.

# The release 'current' (or $1, e.g. 'previous') points at (empty when none).
mtls_current() {
    _c=$(readlink "$MTLS_DIR/${1:-current}" 2>/dev/null) || _c=
    printf '%s\n' "${_c#releases/}"
}
# Points 'current' (or $2, e.g. 'previous') at releases/$1 atomically: a new symlink renamed over the old one.
mtls_point_current() {
    _name=${2:-current}
    rm -f "$MTLS_DIR/.$_name.tmp-$$"
    ln -s "releases/$1" "$MTLS_DIR/.$_name.tmp-$$"
    if ! mv -f -T "$MTLS_DIR/.$_name.tmp-$$" "$MTLS_DIR/$_name" 2>/dev/null; then
        # mv without -T (very old busybox): not atomic, but correct.
        rm -f "$MTLS_DIR/.$_name.tmp-$$"
        ln -s -f -n "releases/$1" "$MTLS_DIR/$_name"
    fi
}
mtls_error_log_tail() {
    if [ -r "$MTLS_ERROR_LOG" ]; then
        printf 'mtls-nginx: last lines of %s:\n' "$MTLS_ERROR_LOG" >&2
        tail -n 15 "$MTLS_ERROR_LOG" | sed 's/^/    /' >&2
    fi
}
mtls_log_size() {
    if [ -r "$MTLS_ERROR_LOG" ]; then echo $(( $(wc -c < "$MTLS_ERROR_LOG") )); else echo 0; fi
}
# True when nginx logged an [emerg] after byte offset $1 of its error log (a reload it could not apply).
mtls_new_emerg() {
    [ -r "$MTLS_ERROR_LOG" ] || return 1
    tail -c +"$(( $1 + 1 ))" "$MTLS_ERROR_LOG" 2>/dev/null | grep -q '\[emerg\]'
}
# Pid of the dedicated instance when it runs (and is an nginx), else fails.
mtls_dedicated_pid() {
    [ -f "$MTLS_PID_FILE" ] || return 1
    _pid=$(cat "$MTLS_PID_FILE" 2>/dev/null) || return 1
    case $_pid in ''|*[!0-9]*) return 1 ;; esac
    kill -0 "$_pid" 2>/dev/null || return 1
    if [ -r "/proc/$_pid/cmdline" ]; then
        tr '\000' ' ' < "/proc/$_pid/cmdline" | grep -q nginx || return 1
    fi
    printf '%s\n' "$_pid"
}
# Stops the dedicated instance (graceful QUIT, then TERM), waiting for it to exit.
mtls_stop_dedicated() {
    _spid=$(mtls_dedicated_pid) || return 0
    kill -QUIT "$_spid" 2>/dev/null || true
    _i=0
    while kill -0 "$_spid" 2>/dev/null; do
        _i=$((_i + 1))
        if [ "$_i" -eq 100 ]; then kill -TERM "$_spid" 2>/dev/null || true; fi
        if [ "$_i" -ge 150 ]; then mtls_warn "nginx (pid $_spid) did not exit"; return 1; fi
        sleep 0.1 2>/dev/null || sleep 1
    done
    return 0
}
# nginx for the dedicated instance: mtls_nginx_d CONF ARGS...
mtls_nginx_d() {
    _conf=$1
    shift
    if [ "$MTLS_NGINX_VERNUM" -ge 1019005 ]; then
        "$MTLS_NGINX" -p "$MTLS_PREFIX" -c "$_conf" -e "$MTLS_ERROR_LOG" "$@"
    else
        "$MTLS_NGINX" -p "$MTLS_PREFIX" -c "$_conf" "$@"
    fi
}
# nginx for the system instance, with the extra arguments: mtls_nginx_sys ARGS...
mtls_nginx_sys() {
    eval "set -- $MTLS_NGINX_ARGS \"\$@\""
    "$MTLS_NGINX" "$@"
}
mtls_reload_system() {
    case $MTLS_RELOAD_KIND in
        signal) mtls_nginx_sys -s reload ;;
        systemctl) systemctl reload "$MTLS_SYSTEMD_UNIT" ;;
        *) /bin/sh -c "$MTLS_RELOAD_COMMAND" ;;
    esac
}
mtls_reload() {
    if [ "$MTLS_MODE" = dedicated ]; then
        mtls_nginx_d "$MTLS_CONF" -s reload </dev/null
    else
        mtls_reload_system </dev/null
    fi
}
