# shellcheck shell=sh
# The delete script's body: install.ts joins the parameter header, common.sh, lock.sh, control.sh
# and this file. Removes the site only when 'current' is still this resource's release.
# Parameters (header, besides the fragments'): MTLS_SITE, MTLS_RELEASE, MTLS_INCLUDE_LINK and
# MTLS_SITE_CONF (system).
set -eu
umask 077
mtls_on_exit() {
    _rc=$?
    set +e
    mtls_unlock
    exit "$_rc"
}
mtls_traps
exec </dev/null

if [ ! -e "$MTLS_DIR/current" ] && [ ! -h "$MTLS_DIR/current" ] && [ ! -d "$MTLS_DIR/releases" ]; then
    mtls_say "site $MTLS_SITE: nothing installed in $MTLS_DIR; nothing to remove"
    exit 0
fi
[ ! -d "$MTLS_DIR" ] || mtls_lock
# An install killed half-way is undone first, so 'current' is what was confirmed live.
mtls_recover
MTLS_CURRENT_ID=$(mtls_current current)
if [ "$MTLS_CURRENT_ID" != "$MTLS_RELEASE" ]; then
    mtls_say "site $MTLS_SITE: current is release ${MTLS_CURRENT_ID:-none}, not $MTLS_RELEASE (this resource's): another deployment owns the site now; leaving it in place"
    exit 0
fi
if [ "$MTLS_MODE" = dedicated ]; then
    if _pid=$(mtls_dedicated_pid); then
        mtls_stop_dedicated || mtls_fail "nginx (pid $_pid) did not stop; the site was left in place"
        _stopped="stopped nginx (pid $_pid)"
    else
        _stopped="nginx was not running"
    fi
else
    _stopped="include link already gone"
    if [ -h "$MTLS_INCLUDE_LINK" ]; then
        _have=$(readlink "$MTLS_INCLUDE_LINK")
        if [ "$_have" = "$MTLS_DIR/current/$MTLS_SITE_CONF" ]; then
            rm -f "$MTLS_INCLUDE_LINK"
            if _out=$(mtls_nginx_sys -t -q 2>&1); then
                if _out=$(mtls_reload_system 2>&1); then
                    _stopped="removed $MTLS_INCLUDE_LINK and reloaded nginx"
                else
                    mtls_warn "removed $MTLS_INCLUDE_LINK but the reload failed: $_out"
                    _stopped="removed $MTLS_INCLUDE_LINK (reload failed)"
                fi
            else
                mtls_warn "removed $MTLS_INCLUDE_LINK but nginx -t fails, so nginx was not reloaded: $_out"
                _stopped="removed $MTLS_INCLUDE_LINK (not reloaded)"
            fi
        else
            mtls_warn "$MTLS_INCLUDE_LINK points at $_have, not at this site; left alone"
            _stopped="include link not ours"
        fi
    fi
fi
rm -f "$MTLS_DIR/current" "$MTLS_DIR/previous" "$MTLS_DIR/.journal"
rm -rf "$MTLS_DIR/releases"
# A dedicated instance's pid file, temp files and logs live here too, and it has stopped: all ours.
[ "$MTLS_MODE" != dedicated ] || rm -rf "$MTLS_DIR/run" "$MTLS_DIR/logs"
mtls_unlock
rmdir "$MTLS_DIR" 2>/dev/null || true
mtls_say "site $MTLS_SITE: removed release $MTLS_RELEASE from $MTLS_DIR; $_stopped"
