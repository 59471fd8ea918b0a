# shellcheck shell=sh
# The install (create/update) script's body: install.ts joins the parameter header, common.sh,
# decode.sh, version.sh, lock.sh, control.sh, live.sh and this file; the payload comes on stdin.
# Parameters (header, besides the fragments'): MTLS_SITE, MTLS_RELEASE, MTLS_EXPECT_HASH (may be
# empty), MTLS_LIVE_CERT (the served certificate in the release), MTLS_CONF_IN_RELEASE (dedicated:
# the main config's path inside the release, empty when it lies elsewhere), MTLS_SITE_CONF (system).
set -eu
umask 077
MTLS_STAGE=
MTLS_TMP=
MTLS_PREV=
MTLS_NEW_RELEASE=0
MTLS_SWAPPED=0
MTLS_LINK_CREATED=0
MTLS_RELOADED=0
MTLS_STARTED=0
MTLS_CONFIRMED=0


mtls_nginx_test() { # config file (dedicated) -> nginx's output in MTLS_TEST_OUTPUT
    if [ "$MTLS_MODE" = dedicated ]; then
        MTLS_TEST_OUTPUT=$(mtls_nginx_d "$1" -t -q 2>&1 </dev/null)
    else
        MTLS_TEST_OUTPUT=$(mtls_nginx_sys -t -q 2>&1 </dev/null)
    fi
}
mtls_rejected() { # nginx -t failed: say so with nginx's words, then exit (the EXIT trap rolls back)
    if [ -n "$MTLS_PREV" ]; then _what="the previous configuration is still being served:"; else _what="nothing was installed:"; fi
    printf 'mtls-nginx: nginx -t rejected the new configuration; %s\n' "$_what" >&2
    printf '%s\n' "$MTLS_TEST_OUTPUT" | sed 's/^/    /' >&2
    exit 1
}

# Undoes a failed install: 'current', the include link, the running configuration, the new release.
mtls_rollback() {
    [ "$MTLS_CONFIRMED" = 1 ] && return 0
    _rb=
    if [ "$MTLS_SWAPPED" = 1 ]; then
        if [ -n "$MTLS_PREV" ]; then
            mtls_point_current "$MTLS_PREV" && _rb="current -> releases/$MTLS_PREV"
        else
            rm -f "$MTLS_DIR/current" && _rb="current removed"
        fi
    fi
    if [ "$MTLS_LINK_CREATED" = 1 ]; then
        rm -f "$MTLS_INCLUDE_LINK" && _rb="$_rb; include link removed"
    fi
    if [ "$MTLS_RELOADED" = 1 ]; then
        if [ "$MTLS_STARTED" = 1 ]; then
            mtls_stop_dedicated && _rb="$_rb; the nginx this install started was stopped"
        elif _mark=$(mtls_log_size) && _out=$(mtls_reload 2>&1); then
            _rb="$_rb; nginx reloaded with the previous configuration"
            if [ -n "$MTLS_PREV" ] && [ -f "$MTLS_DIR/releases/$MTLS_PREV/$MTLS_LIVE_CERT" ]; then
                _ppem=$(mtls_pem "$MTLS_DIR/releases/$MTLS_PREV/$MTLS_LIVE_CERT")
                if mtls_wait_live "$MTLS_PREV" "$_ppem" "$_mark"; then
                    _rb="$_rb, which is served again"
                else
                    mtls_warn "after the rollback reload, release $MTLS_PREV is not served either: $MTLS_LIVE_FAILURE"
                fi
            fi
        else
            mtls_warn "the rollback reload failed: $_out. Fix: run nginx -t and reload nginx by hand"
        fi
    fi
    if [ "$MTLS_NEW_RELEASE" = 1 ]; then
        rm -rf "$MTLS_DIR/releases/$MTLS_RELEASE"
    fi
    if [ -n "$_rb" ]; then
        printf 'mtls-nginx: rolled back (%s)\n' "${_rb#; }" >&2
    fi
}
mtls_on_exit() {
    _rc=$?
    set +e
    if [ "$_rc" -ne 0 ]; then mtls_rollback; fi
    [ -z "$MTLS_STAGE" ] || rm -rf "$MTLS_STAGE"
    [ -z "$MTLS_TMP" ] || rm -f "$MTLS_TMP"
    rm -f "$MTLS_DIR/.current.tmp-$$" "$MTLS_DIR/.previous.tmp-$$"
    mtls_unlock
    exit "$_rc"
}
mtls_traps

MTLS_T0=$(mtls_now_ms)

# (1) nginx binary and version policy; the TLS client of the live check.
mtls_check_nginx_version || exit 1
mtls_pick_tls_tool

# (2) decode the payload into a staging directory, under the lock.
(umask 022 && mkdir -p "$MTLS_DIR/releases") || mtls_fail "cannot create $MTLS_DIR/releases"
if [ "$MTLS_MODE" = dedicated ]; then
    (umask 022 && mkdir -p "$MTLS_PREFIX/logs" "${MTLS_PID_FILE%/*}" "${MTLS_ERROR_LOG%/*}") || mtls_fail "cannot create the prefix $MTLS_PREFIX"
fi
mtls_lock
MTLS_STAGE="$MTLS_DIR/releases/.staging-$MTLS_RELEASE-$$"
rm -rf "$MTLS_STAGE"
mkdir "$MTLS_STAGE"
mtls_decode_payload "$MTLS_STAGE"
exec </dev/null
if [ -n "$MTLS_EXPECT_HASH" ] && [ "$MTLS_PAYLOAD_HASH" != "$MTLS_EXPECT_HASH" ]; then
    mtls_fail "payload: its content hash $MTLS_PAYLOAD_HASH is not the expected $MTLS_EXPECT_HASH (standard input belongs to another version); nothing was changed"
fi
if [ ! -f "$MTLS_STAGE/$MTLS_LIVE_CERT" ]; then
    mtls_fail "payload: it has no $MTLS_LIVE_CERT (the served certificate the live check compares); nothing was changed"
fi
if [ "$MTLS_MODE" = dedicated ] && [ -n "$MTLS_CONF_IN_RELEASE" ] && [ ! -f "$MTLS_STAGE/$MTLS_CONF_IN_RELEASE" ]; then
    mtls_fail "payload: it has no $MTLS_CONF_IN_RELEASE (the configuration nginx runs); nothing was changed"
fi
if [ "$MTLS_MODE" = system ] && [ ! -f "$MTLS_STAGE/$MTLS_SITE_CONF" ]; then
    mtls_fail "payload: it has no $MTLS_SITE_CONF (the site configuration the include link points at); nothing was changed"
fi
if [ "$MTLS_TLS_TOOL" = openssl ]; then
    # One openssl run: "sha256 Fingerprint=AB:CD:..." then the certificate in canonical PEM.
    _x=$(openssl x509 -in "$MTLS_STAGE/$MTLS_LIVE_CERT" -fingerprint -sha256 2>/dev/null) || _x=
    MTLS_EXPECT_FP=$(printf '%s\n' "$_x" | sed -n '1s/^[^=]*=//p' | tr -d ':' | tr 'ABCDEF' 'abcdef')
    MTLS_EXPECT_PEM=$(printf '%s\n' "$_x" | sed -n '/^-----BEGIN CERTIFICATE-----/,/^-----END CERTIFICATE-----/p')
else
    MTLS_EXPECT_PEM=$(mtls_pem "$MTLS_STAGE/$MTLS_LIVE_CERT") || MTLS_EXPECT_PEM=
    MTLS_EXPECT_FP=$(printf '%s\n' "$MTLS_EXPECT_PEM" | mtls_fingerprint) || MTLS_EXPECT_FP=
fi
if [ -z "$MTLS_EXPECT_PEM" ] || [ -z "$MTLS_EXPECT_FP" ]; then
    mtls_fail "payload: $MTLS_LIVE_CERT is not a PEM certificate; nothing was changed"
fi
MTLS_T_DECODED=$(mtls_now_ms)
mtls_step staged

# (3) the release directory: rename the staging one, or reuse an identical existing one.
MTLS_PREV=$(mtls_current)
MTLS_REL="$MTLS_DIR/releases/$MTLS_RELEASE"
mtls_same_release() { # existing release dir holds exactly the staged files
    [ -f "$MTLS_REL/.mtls-manifest" ] || return 1
    [ "$(mtls_sha256 "$MTLS_REL/.mtls-manifest")" = "$MTLS_PAYLOAD_HASH" ] || return 1
    while read -r _m _s _p; do
        [ -f "$MTLS_REL/$_p" ] && [ ! -h "$MTLS_REL/$_p" ] || return 1
        [ "$(mtls_sha256 "$MTLS_REL/$_p")" = "$_s" ] || return 1
    done < "$MTLS_STAGE/.mtls-manifest"
    [ "$(( $(find "$MTLS_REL" -type f | wc -l) ))" -eq "$(( MTLS_PAYLOAD_FILES + 1 ))" ]
}
if [ -e "$MTLS_REL" ] || [ -h "$MTLS_REL" ]; then
    if mtls_same_release; then
        while read -r _m _s _p; do chmod "$_m" "$MTLS_REL/$_p"; done < "$MTLS_STAGE/.mtls-manifest"
        rm -rf "$MTLS_STAGE"
        MTLS_STAGE=
        MTLS_REUSED=yes
    elif [ "$MTLS_PREV" = "$MTLS_RELEASE" ]; then
        mtls_fail "release $MTLS_RELEASE is being served with different files than this payload: the release id must change with every file and render input. Fix: compute releaseId over all non-config files and the render inputs; nothing was changed"
    else
        mtls_warn "replacing releases/$MTLS_RELEASE, whose files differ from this payload"
        rm -rf "$MTLS_REL"
    fi
fi
if [ -n "$MTLS_STAGE" ]; then
    chmod 0755 "$MTLS_STAGE"
    mv "$MTLS_STAGE" "$MTLS_REL"
    MTLS_STAGE=
    MTLS_NEW_RELEASE=1
    MTLS_REUSED=no
fi
mtls_step released
# A release that is also the rollback target is never deleted by a rollback.
[ "$MTLS_PREV" != "$MTLS_RELEASE" ] || MTLS_NEW_RELEASE=0

# (4)+(5) nginx -t and the swap of 'current' (+ the include link of a system nginx).
MTLS_RUNNING_PID=
if [ "$MTLS_MODE" = dedicated ]; then
    MTLS_RUNNING_PID=$(mtls_dedicated_pid) || MTLS_RUNNING_PID=
fi
if [ "$MTLS_MODE" = dedicated ] && [ -n "$MTLS_CONF_IN_RELEASE" ]; then
    # The new configuration is tested where it lies, before anything points at it.
    mtls_nginx_test "$MTLS_REL/$MTLS_CONF_IN_RELEASE" || mtls_rejected
    mtls_step tested
    if [ "$MTLS_PREV" != "$MTLS_RELEASE" ]; then
        mtls_point_current "$MTLS_RELEASE"
        MTLS_SWAPPED=1
    fi
    mtls_step swapped
else
    if [ "$MTLS_PREV" != "$MTLS_RELEASE" ]; then
        mtls_point_current "$MTLS_RELEASE"
        MTLS_SWAPPED=1
    fi
    if [ "$MTLS_MODE" = system ]; then
        _want="$MTLS_DIR/current/$MTLS_SITE_CONF"
        if [ -h "$MTLS_INCLUDE_LINK" ]; then
            _have=$(readlink "$MTLS_INCLUDE_LINK")
            [ "$_have" = "$_want" ] || mtls_fail "the include link $MTLS_INCLUDE_LINK points at $_have, not at $_want. Fix: remove it if it is left over, or choose another includeLink"
        elif [ -e "$MTLS_INCLUDE_LINK" ]; then
            mtls_fail "$MTLS_INCLUDE_LINK exists and is not a symlink; it was left alone. Fix: move it away, or choose another includeLink"
        else
            (umask 022 && mkdir -p "${MTLS_INCLUDE_LINK%/*}")
            rm -f "$MTLS_INCLUDE_LINK.tmp-$$"
            ln -s "$_want" "$MTLS_INCLUDE_LINK.tmp-$$"
            mv -f "$MTLS_INCLUDE_LINK.tmp-$$" "$MTLS_INCLUDE_LINK"
            MTLS_LINK_CREATED=1
        fi
    fi
    mtls_step swapped
    mtls_nginx_test "${MTLS_CONF:-}" || mtls_rejected
    mtls_step tested
fi
MTLS_T_TESTED=$(mtls_now_ms)

# (6) start or reload; (7) confirm that the new release is served.
MTLS_LIVE_FAILURE=
MTLS_ACTION=reload
if [ "$MTLS_PREV" = "$MTLS_RELEASE" ] && { [ "$MTLS_MODE" = system ] || [ -n "$MTLS_RUNNING_PID" ]; } && mtls_confirm_unchanged; then
    MTLS_ACTION=none
    MTLS_T_RELOADED=$(mtls_now_ms)
else
    if [ "$MTLS_PREV" = "$MTLS_RELEASE" ] && { [ "$MTLS_MODE" = system ] || [ -n "$MTLS_RUNNING_PID" ]; }; then
        MTLS_SEEN_FP=$(printf '%s\n' "$MTLS_SEEN_PEM" | mtls_fingerprint) || MTLS_SEEN_FP=
        mtls_say "release $MTLS_RELEASE is current but was not confirmed live (served certificate sha256 ${MTLS_SEEN_FP:-none}, release header ${MTLS_SEEN_RELEASE:-none}): reloading"
    fi
    _mark=$(mtls_log_size)
    if [ "$MTLS_MODE" = dedicated ] && [ -z "$MTLS_RUNNING_PID" ]; then
        MTLS_ACTION=start
        MTLS_TMP="$MTLS_DIR/.nginx-out-$$"
        MTLS_RELOADED=1
        MTLS_STARTED=1
        if ! mtls_nginx_d "$MTLS_CONF" </dev/null >"$MTLS_TMP" 2>&1; then
            printf 'mtls-nginx: nginx could not start with the new configuration:\n' >&2
            sed 's/^/    /' "$MTLS_TMP" >&2
            mtls_error_log_tail
            exit 1
        fi
        _i=0
        until mtls_dedicated_pid >/dev/null; do
            _i=$((_i + 1))
            if [ "$_i" -ge 100 ]; then
                printf 'mtls-nginx: nginx started but %s names no running nginx\n' "$MTLS_PID_FILE" >&2
                mtls_error_log_tail
                exit 1
            fi
            sleep 0.1 2>/dev/null || sleep 1
        done
    else
        MTLS_RELOADED=1
        if ! _out=$(mtls_reload 2>&1); then
            printf 'mtls-nginx: the reload failed: %s\n' "$_out" >&2
            mtls_error_log_tail
            exit 1
        fi
    fi
    MTLS_T_RELOADED=$(mtls_now_ms)
    mtls_step reloaded
    if ! mtls_wait_live "$MTLS_RELEASE" "$MTLS_EXPECT_PEM" "$_mark"; then
        MTLS_SEEN_FP=$(printf '%s\n' "$MTLS_SEEN_PEM" | mtls_fingerprint) || MTLS_SEEN_FP=
        printf 'mtls-nginx: %s; restoring the previous release. Served on %s: certificate sha256 %s, %s %s; expected %s, release %s\n' \
            "$MTLS_LIVE_FAILURE" "$MTLS_LIVE_CONNECT" "${MTLS_SEEN_FP:-none}" "X-Mtls-Release" "${MTLS_SEEN_RELEASE:-none}" "$MTLS_EXPECT_FP" "$MTLS_RELEASE" >&2
        mtls_error_log_tail
        exit 1
    fi
fi
MTLS_T_LIVE=$(mtls_now_ms)
MTLS_CONFIRMED=1
mtls_step live

# (8) 'previous' names the release to roll back to; prune all but current and previous.
if [ "$MTLS_SWAPPED" = 1 ] && [ -n "$MTLS_PREV" ]; then
    mtls_point_current "$MTLS_PREV" previous
fi
mtls_step previous
MTLS_KEEP=$(mtls_current previous)
for _r in "$MTLS_DIR"/releases/* "$MTLS_DIR"/releases/.staging-*; do
    [ -e "$_r" ] || [ -h "$_r" ] || continue
    _b=${_r##*/}
    if [ "$_b" = "$MTLS_RELEASE" ] || [ "$_b" = "$MTLS_PREV" ] || [ "$_b" = "$MTLS_KEEP" ]; then continue; fi
    rm -rf "$_r"
done
if [ "$MTLS_KEEP" = "$MTLS_RELEASE" ]; then rm -f "$MTLS_DIR/previous"; MTLS_KEEP=; fi
mtls_step pruned

printf 'mtls-nginx: site %s: release %s is live (%s; previous: %s; release dir %s); nginx %s (%s fix: %s); certificate sha256 %s; %s file(s); ms: decode %s, test %s, %s %s, live %s, total %s; live check: %s\n' \
    "$MTLS_SITE" "$MTLS_RELEASE" "$MTLS_ACTION" "${MTLS_KEEP:-none}" "$MTLS_REUSED" "${MTLS_NGINX_VERSION:-unknown}" "CVE-2025-23419" "$MTLS_NGINX_FIX" \
    "$MTLS_EXPECT_FP" "$MTLS_PAYLOAD_FILES" "$(( MTLS_T_DECODED - MTLS_T0 ))" "$(( MTLS_T_TESTED - MTLS_T_DECODED ))" "$MTLS_ACTION" \
    "$(( MTLS_T_RELOADED - MTLS_T_TESTED ))" "$(( MTLS_T_LIVE - MTLS_T_RELOADED ))" "$(( MTLS_T_LIVE - MTLS_T0 ))" "$MTLS_TLS_TOOL"
