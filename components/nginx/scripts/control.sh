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
# What nginx logged since byte offset $1 of its error log (a reload, a start), on stderr: warnings and
# worse first (the last 15), else the last 15 lines; never the lines of the live check's own probes.
mtls_error_log_tail() {
    [ -r "$MTLS_ERROR_LOG" ] || return 0
    _el_from=${1:-}
    case $_el_from in ''|*[!0-9]*) _el_from= ;; esac
    if [ -n "$_el_from" ] && [ "$_el_from" -le "$(mtls_log_size)" ]; then
        _el_text=$(tail -c +"$((_el_from + 1))" "$MTLS_ERROR_LOG" 2>/dev/null) || _el_text=
        _el_when="since the reload"
    else
        _el_text=$(tail -n 200 "$MTLS_ERROR_LOG" 2>/dev/null) || _el_text=
        _el_when="last lines"
    fi
    _el_probes=$(printf '%s\n' "$_el_text" | grep -c 'mtls-nginx-live-check') || _el_probes=0
    _el_all=$(printf '%s\n' "$_el_text" | grep -v -e 'mtls-nginx-live-check' -e '^$') || _el_all=
    _el_show=$(printf '%s\n' "$_el_all" | grep -E '\[(warn|error|crit|alert|emerg)\]' | tail -n 15) || _el_show=
    [ -n "$_el_show" ] || _el_show=$(printf '%s\n' "$_el_all" | tail -n 15)
    if [ -n "$_el_show" ]; then
        printf 'mtls-nginx: %s, %s:\n' "$MTLS_ERROR_LOG" "$_el_when" >&2
        printf '%s\n' "$_el_show" | sed 's/^/    /' >&2
    else
        printf 'mtls-nginx: %s: nothing %s\n' "$MTLS_ERROR_LOG" "$_el_when" >&2
    fi
    _el_other=$(( $(printf '%s\n' "$_el_all" | grep -c .) - $(printf '%s\n' "$_el_show" | grep -c .) ))
    if [ "$_el_probes" -gt 0 ] || [ "$_el_other" -gt 0 ]; then
        printf "    (left out: %s line(s) from the installer's own probes, %s other line(s) of lower level or older)\n" "$_el_probes" "$_el_other" >&2
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

# The journal, $MTLS_DIR/.journal: while an install moves 'current' (or creates the include link)
# and until nginx is confirmed to serve the new release, one line says what to undo:
# "mtls-nginx-journal 1 <new release> <previous release or -> <link created: 0|1> <nginx: untouched|reloaded|started>".
# A run that finds it (the one that wrote it was killed) restores the previous release first.
mtls_journal_write() { # new, previous, link created, nginx
    _jw="$MTLS_DIR/.journal.tmp-$$"
    if ! { printf 'mtls-nginx-journal 1 %s %s %s %s\n' "$1" "${2:--}" "$3" "$4" > "$_jw"; } 2>/dev/null || ! mv -f "$_jw" "$MTLS_DIR/.journal"; then
        rm -f "$_jw"
        _jw_free=$(mtls_free_kib "$MTLS_DIR")
        if [ -n "$_jw_free" ] && [ "$_jw_free" -lt 4 ]; then
            mtls_fail "no space left on $MTLS_DIR for the install journal ($_jw_free KiB free once the release's ${MTLS_PAYLOAD_KIB:-?} KiB are written; the journal needs 4 KiB); nothing was changed. Fix: make room there (installs keep only the current and the previous release), or give the install directory a larger filesystem"
        fi
        mtls_fail "cannot write $MTLS_DIR/.journal (${_jw_free:-?} KiB free: no free inode, a quota, or a failing device?); nothing was changed"
    fi
}
mtls_journal_clear() {
    rm -f "$MTLS_DIR/.journal"
}
# Restores what an interrupted install changed, from its journal: 'current' back to the release that
# was confirmed live before it, the include link it created removed, nginx reloaded (or the instance
# it started stopped) when it may have loaded the new release.
mtls_recover() {
    [ -f "$MTLS_DIR/.journal" ] || return 0
    _jl=$(sed -n '1p' "$MTLS_DIR/.journal" 2>/dev/null) || _jl=
    # shellcheck disable=SC2086 # the journal line is split into its words on purpose
    set -- $_jl
    if [ "$#" -ne 6 ] || [ "$1 $2" != "mtls-nginx-journal 1" ]; then
        mtls_warn "ignoring $MTLS_DIR/.journal, which is not a journal this script wrote"
        mtls_journal_clear
        return 0
    fi
    _jnew=$3 _jprev=$4 _jlink=$5 _jnginx=$6
    [ "$_jprev" != - ] || _jprev=
    case $_jnew$_jprev in *[!A-Za-z0-9._-]*) mtls_fail "$MTLS_DIR/.journal names an invalid release; remove it after checking 'current'" ;; esac
    if [ -n "$_jprev" ] && [ -d "$MTLS_DIR/releases/$_jprev" ]; then
        mtls_point_current "$_jprev"
        _jdone="current -> releases/$_jprev, the last release confirmed live"
    else
        rm -f "$MTLS_DIR/current"
        _jdone="current removed (no release was confirmed live before it)"
    fi
    if [ "$_jlink" = 1 ] && [ -h "$MTLS_INCLUDE_LINK" ] && [ "$(readlink "$MTLS_INCLUDE_LINK")" = "$MTLS_DIR/current/$MTLS_SITE_CONF" ]; then
        rm -f "$MTLS_INCLUDE_LINK"
        _jdone="$_jdone; include link removed"
    fi
    case $_jnginx in
        reloaded|started) _jdone="$_jdone; $(mtls_recover_nginx "$_jprev" "$_jnginx")" ;;
    esac
    mtls_journal_clear
    mtls_warn "an earlier install of release $_jnew was interrupted before nginx was confirmed to serve it; restored: $_jdone"
}
# nginx after a restore: the instance an interrupted first install started is stopped; otherwise
# a running nginx reloads the restored configuration. Prints what it did.
mtls_recover_nginx() { # previous release, untouched|reloaded|started
    if [ "$MTLS_MODE" = dedicated ]; then
        if ! _rn=$(mtls_dedicated_pid); then
            echo "nginx is not running"
        elif [ -z "$1" ]; then
            if mtls_stop_dedicated; then echo "stopped nginx (pid $_rn)"; else echo "nginx (pid $_rn) did not stop"; fi
        elif _rn_out=$(mtls_nginx_d "$MTLS_CONF" -s reload 2>&1 </dev/null); then
            echo "nginx reloaded"
        else
            echo "the reload failed: $_rn_out"
        fi
    elif ! _rn_out=$(mtls_nginx_sys -t -q 2>&1 </dev/null); then
        echo "nginx not reloaded: nginx -t fails: $_rn_out"
    elif _rn_out=$(mtls_reload_system 2>&1 </dev/null); then
        echo "nginx reloaded"
    else
        echo "the reload failed: $_rn_out"
    fi
}
