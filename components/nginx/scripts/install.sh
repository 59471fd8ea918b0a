# shellcheck shell=sh
# The install (create/update) script's body: install.ts joins the parameter header, common.sh,
# decode.sh, version.sh, lock.sh, control.sh, live.sh, context.sh and this file; the payload comes on
# stdin. Parameters (header, besides the fragments'): MTLS_SITE, MTLS_RELEASE, MTLS_EXPECT_HASH (may
# be empty), MTLS_LIVE_CERT (the served certificate in the release), MTLS_CONF_IN_RELEASE (dedicated:
# the main config's path inside the release, empty when it lies elsewhere), MTLS_SITE_CONF (system).
#
# Crash safety: 'current' and the include link only ever name a release that passed nginx -t in its
# full context (context.sh), and from the moment they move until nginx is confirmed to serve the new
# release, the journal (control.sh) says how to undo it: a run killed at any point leaves a host on
# which nginx -t passes, and the next run first restores the last release confirmed live.
# 'previous' is only ever set to a release that was confirmed live.
set -eu
umask 077
MTLS_STAGE=
MTLS_TMP=
MTLS_PREV=
MTLS_NEW_RELEASE=0
MTLS_SWAPPED=0
MTLS_LINK_CREATED=0
MTLS_JOURNAL=0
MTLS_RELOADED=0
MTLS_STARTED=0
MTLS_CONFIRMED=0
MTLS_TEST_AFTER_SWAP=0

mtls_rejected() { # nginx -t failed: say so with nginx's words, then exit (the EXIT trap rolls back)
    if [ -n "$MTLS_PREV" ]; then _what="the previous configuration is still being served:"; else _what="nothing was installed:"; fi
    printf 'mtls-nginx: nginx -t rejected the new configuration; %s\n' "$_what" >&2
    printf '%s\n' "$MTLS_TEST_OUTPUT" | sed 's/^/    /' >&2
    exit 1
}
# nginx after a rollback of 'current': the instance this install started is stopped; otherwise nginx
# is reloaded and the previous release waited for. Prints what was done ("; ..."), warns otherwise.
mtls_rollback_nginx() {
    if [ "$MTLS_STARTED" = 1 ]; then
        if mtls_stop_dedicated; then printf '; the nginx this install started was stopped'; fi
        return 0
    fi
    if ! { _mark=$(mtls_log_size) && _out=$(mtls_reload 2>&1); }; then
        mtls_warn "the rollback reload failed: $_out. Fix: run nginx -t and reload nginx by hand"
        return 0
    fi
    printf '; nginx reloaded with the previous configuration'
    if [ -n "$MTLS_PREV" ] && [ -f "$MTLS_DIR/releases/$MTLS_PREV/$MTLS_LIVE_CERT" ]; then
        _ppem=$(mtls_pem "$MTLS_DIR/releases/$MTLS_PREV/$MTLS_LIVE_CERT")
        if mtls_wait_live "$MTLS_PREV" "$_ppem" "$_mark"; then
            printf ', which is served again'
        else
            mtls_warn "after the rollback reload, release $MTLS_PREV is not served either: $MTLS_LIVE_FAILURE"
        fi
    fi
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
        _rb="$_rb$(mtls_rollback_nginx)"
    fi
    if [ "$MTLS_NEW_RELEASE" = 1 ]; then
        rm -rf "$MTLS_DIR/releases/$MTLS_RELEASE"
    fi
    [ "$MTLS_JOURNAL" = 0 ] || mtls_journal_clear
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
    [ -z "$MTLS_CONTEXT" ] || rm -rf "$MTLS_CONTEXT"
    rm -f "$MTLS_DIR/.current.tmp-$$" "$MTLS_DIR/.previous.tmp-$$" "$MTLS_DIR/.journal.tmp-$$"
    mtls_unlock
    exit "$_rc"
}
mtls_traps

# What killed runs leave besides the journal (temporary links and files, test mirrors), under the lock.
mtls_remove_leftovers() {
    rm -rf "$MTLS_DIR"/.context-* "$MTLS_DIR"/.journal.tmp-* "$MTLS_DIR"/.current.tmp-* "$MTLS_DIR"/.previous.tmp-* \
        "$MTLS_DIR"/.nginx-out-* "$MTLS_LOCK".stale-* 2>/dev/null || true
    if [ "$MTLS_MODE" = system ]; then rm -f "$MTLS_INCLUDE_LINK".tmp-* 2>/dev/null || true; fi
}

# (2) Decodes the payload into a staging directory and checks it; sets MTLS_EXPECT_PEM and MTLS_EXPECT_FP.
mtls_stage() {
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
}

mtls_same_release() { # the existing release dir holds exactly the staged files
    [ -f "$MTLS_REL/.mtls-manifest" ] || return 1
    [ "$(mtls_sha256 "$MTLS_REL/.mtls-manifest")" = "$MTLS_PAYLOAD_HASH" ] || return 1
    while read -r _m _s _p; do
        [ -f "$MTLS_REL/$_p" ] && [ ! -h "$MTLS_REL/$_p" ] || return 1
        [ "$(mtls_sha256 "$MTLS_REL/$_p")" = "$_s" ] || return 1
    done < "$MTLS_STAGE/.mtls-manifest"
    [ "$(( $(find "$MTLS_REL" -type f | wc -l) ))" -eq "$(( MTLS_PAYLOAD_FILES + 1 ))" ]
}
# (3) The release directory: rename the staging one, or reuse an identical existing one.
mtls_place_release() {
    MTLS_REL="$MTLS_DIR/releases/$MTLS_RELEASE"
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
    # A release that is also the rollback target is never deleted by a rollback.
    [ "$MTLS_PREV" != "$MTLS_RELEASE" ] || MTLS_NEW_RELEASE=0
}

# A system nginx's include link must be ours, or missing (then created, never clobbered).
mtls_check_include_link() {
    [ "$MTLS_MODE" = system ] || return 0
    _want="$MTLS_DIR/current/$MTLS_SITE_CONF"
    if [ -h "$MTLS_INCLUDE_LINK" ]; then
        _have=$(readlink "$MTLS_INCLUDE_LINK")
        [ "$_have" = "$_want" ] || mtls_fail "the include link $MTLS_INCLUDE_LINK points at $_have, not at $_want. Fix: remove it if it is left over, or choose another includeLink; nothing was changed"
    elif [ -e "$MTLS_INCLUDE_LINK" ]; then
        mtls_fail "$MTLS_INCLUDE_LINK exists and is not a symlink; it was left alone. Fix: move it away, or choose another includeLink; nothing was changed"
    fi
}
# (4) nginx -t of the new release in its full context, before anything live names it.
mtls_test_release() {
    if [ "$MTLS_MODE" = dedicated ] && [ -z "$MTLS_CONF_IN_RELEASE" ] && [ -z "$MTLS_PREV" ]; then
        # A dedicated instance's first install, its main config outside the release: that config does
        # not load before 'current' exists (nothing runs it, nothing to protect); tested after the swap.
        MTLS_TEST_AFTER_SWAP=1
        return 0
    fi
    MTLS_TEST_OUTPUT=
    _tr=0
    mtls_test_in_context "$MTLS_RELEASE" || _tr=$?
    case $_tr in
        0) ;;
        1) mtls_rejected ;;
        *) mtls_fail "release $MTLS_RELEASE could not be tested with nginx -t in nginx's configuration: $MTLS_TEST_OUTPUT; nothing was changed" ;;
    esac
    mtls_step tested
}
# (5) The journal, then 'current' and the include link; a system nginx's real configuration is tested once more.
mtls_swap() {
    _link=0
    if [ "$MTLS_MODE" = system ] && [ ! -h "$MTLS_INCLUDE_LINK" ]; then _link=1; fi
    if [ "$MTLS_PREV" != "$MTLS_RELEASE" ] || [ "$_link" = 1 ]; then
        mtls_journal_write "$MTLS_RELEASE" "$MTLS_PREV" "$_link" untouched
        MTLS_JOURNAL=1
    fi
    if [ "$MTLS_PREV" != "$MTLS_RELEASE" ]; then
        mtls_point_current "$MTLS_RELEASE"
        MTLS_SWAPPED=1
    fi
    if [ "$_link" = 1 ]; then
        (umask 022 && mkdir -p "${MTLS_INCLUDE_LINK%/*}")
        rm -f "$MTLS_INCLUDE_LINK.tmp-$$"
        ln -s "$MTLS_DIR/current/$MTLS_SITE_CONF" "$MTLS_INCLUDE_LINK.tmp-$$"
        mv -f "$MTLS_INCLUDE_LINK.tmp-$$" "$MTLS_INCLUDE_LINK"
        MTLS_LINK_CREATED=1
    fi
    mtls_step swapped
    if [ "$MTLS_MODE" = system ] || [ "$MTLS_TEST_AFTER_SWAP" = 1 ]; then
        mtls_nginx_test "${MTLS_CONF:-}" || mtls_rejected
    fi
}

# Starts the dedicated instance with the new configuration and waits for its pid file.
mtls_start_dedicated() {
    MTLS_TMP="$MTLS_DIR/.nginx-out-$$"
    MTLS_RELOADED=1
    MTLS_STARTED=1
    if ! mtls_nginx_d "$MTLS_CONF" </dev/null >"$MTLS_TMP" 2>&1; then
        printf 'mtls-nginx: nginx could not start with the new configuration:\n' >&2
        sed 's/^/    /' "$MTLS_TMP" >&2
        mtls_error_log_tail "$_mark"
        exit 1
    fi
    _i=0
    until mtls_dedicated_pid >/dev/null; do
        _i=$((_i + 1))
        if [ "$_i" -ge 100 ]; then
            printf 'mtls-nginx: nginx started but %s names no running nginx\n' "$MTLS_PID_FILE" >&2
            mtls_error_log_tail "$_mark"
            exit 1
        fi
        sleep 0.1 2>/dev/null || sleep 1
    done
}
# (6) Starts or reloads nginx; (7) confirms that the new release is served (then the journal goes).
mtls_go_live() {
    MTLS_LIVE_FAILURE=
    MTLS_ACTION=reload
    MTLS_RUNNING_PID=
    if [ "$MTLS_MODE" = dedicated ]; then
        MTLS_RUNNING_PID=$(mtls_dedicated_pid) || MTLS_RUNNING_PID=
    fi
    _unchanged=0
    if [ "$MTLS_PREV" = "$MTLS_RELEASE" ] && [ "$MTLS_LINK_CREATED" = 0 ] && { [ "$MTLS_MODE" = system ] || [ -n "$MTLS_RUNNING_PID" ]; }; then _unchanged=1; fi
    if [ "$_unchanged" = 1 ] && mtls_confirm_unchanged; then
        MTLS_ACTION=none
        MTLS_T_RELOADED=$(mtls_now_ms)
        return 0
    fi
    if [ "$_unchanged" = 1 ]; then
        MTLS_SEEN_FP=$(printf '%s\n' "$MTLS_SEEN_PEM" | mtls_fingerprint) || MTLS_SEEN_FP=
        mtls_say "release $MTLS_RELEASE is current but was not confirmed live (served certificate sha256 ${MTLS_SEEN_FP:-none}, release header ${MTLS_SEEN_RELEASE:-none}): reloading"
    fi
    _mark=$(mtls_log_size)
    if [ "$MTLS_MODE" = dedicated ] && [ -z "$MTLS_RUNNING_PID" ]; then
        MTLS_ACTION=start
        [ "$MTLS_JOURNAL" = 0 ] || mtls_journal_write "$MTLS_RELEASE" "$MTLS_PREV" "$MTLS_LINK_CREATED" started
        mtls_start_dedicated
    else
        [ "$MTLS_JOURNAL" = 0 ] || mtls_journal_write "$MTLS_RELEASE" "$MTLS_PREV" "$MTLS_LINK_CREATED" reloaded
        MTLS_RELOADED=1
        _old_workers=$(mtls_accepting_workers)
        if ! _out=$(mtls_reload 2>&1); then
            printf 'mtls-nginx: the reload failed: %s\n' "$_out" >&2
            mtls_error_log_tail "$_mark"
            exit 1
        fi
    fi
    MTLS_T_RELOADED=$(mtls_now_ms)
    mtls_step reloaded
    if ! mtls_wait_live "$MTLS_RELEASE" "$MTLS_EXPECT_PEM" "$_mark"; then
        MTLS_SEEN_FP=$(printf '%s\n' "$MTLS_SEEN_PEM" | mtls_fingerprint) || MTLS_SEEN_FP=
        printf 'mtls-nginx: %s; restoring the previous release. Served on %s: certificate sha256 %s, %s %s; expected %s, release %s\n' \
            "$MTLS_LIVE_FAILURE" "$MTLS_LIVE_CONNECT" "${MTLS_SEEN_FP:-none}" "X-Mtls-Release" "${MTLS_SEEN_RELEASE:-none}" "$MTLS_EXPECT_FP" "$MTLS_RELEASE" >&2
        mtls_error_log_tail "$_mark"
        exit 1
    fi
    [ "$MTLS_ACTION" != reload ] || mtls_wait_old_workers "$_old_workers"
}
# (8) 'previous' names the release to roll back to (confirmed live before this one); prune the rest.
mtls_finish() {
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
}

MTLS_T0=$(mtls_now_ms)
# (1) nginx binary and version policy; the TLS client of the live check.
mtls_check_nginx_version || exit 1
mtls_pick_tls_tool
(umask 022 && mkdir -p "$MTLS_DIR/releases") || mtls_fail "cannot create $MTLS_DIR/releases"
if [ "$MTLS_MODE" = dedicated ]; then
    (umask 022 && mkdir -p "$MTLS_PREFIX/logs" "${MTLS_PID_FILE%/*}" "${MTLS_ERROR_LOG%/*}") || mtls_fail "cannot create the prefix $MTLS_PREFIX"
fi
# Under the lock: first undo what a killed run left, then (2)..(8).
mtls_lock
mtls_remove_leftovers
mtls_recover
mtls_stage
MTLS_T_DECODED=$(mtls_now_ms)
mtls_step staged
MTLS_PREV=$(mtls_current current)
mtls_place_release
mtls_step released
mtls_check_include_link
mtls_test_release
mtls_swap
MTLS_T_TESTED=$(mtls_now_ms)
mtls_go_live
MTLS_T_LIVE=$(mtls_now_ms)
MTLS_CONFIRMED=1
if [ "$MTLS_JOURNAL" = 1 ]; then mtls_journal_clear; MTLS_JOURNAL=0; fi
mtls_step live
mtls_finish

printf 'mtls-nginx: site %s: release %s is live (%s; previous: %s; release dir %s); nginx %s (%s fix: %s); certificate sha256 %s; %s file(s); ms: decode %s, test %s, %s %s, live %s, total %s; live check: %s\n' \
    "$MTLS_SITE" "$MTLS_RELEASE" "$MTLS_ACTION" "${MTLS_KEEP:-none}" "$MTLS_REUSED" "${MTLS_NGINX_VERSION:-unknown}" "CVE-2025-23419" "$MTLS_NGINX_FIX" \
    "$MTLS_EXPECT_FP" "$MTLS_PAYLOAD_FILES" "$(( MTLS_T_DECODED - MTLS_T0 ))" "$(( MTLS_T_TESTED - MTLS_T_DECODED ))" "$MTLS_ACTION" \
    "$(( MTLS_T_RELOADED - MTLS_T_TESTED ))" "$(( MTLS_T_LIVE - MTLS_T_RELOADED ))" "$(( MTLS_T_LIVE - MTLS_T0 ))" "$MTLS_TLS_TOOL"
