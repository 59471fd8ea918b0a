# shellcheck shell=sh
# The live check: which certificate and release nginx serves, probed without a client certificate.
# Parameters (header): MTLS_LIVE_CONNECT (host:port for openssl), MTLS_LIVE_URL_HOST and MTLS_LIVE_PORT
# (for curl), MTLS_LIVE_NAME (SNI, may be empty), MTLS_LIVE_HOST_HEADER, MTLS_LIVE_HEADER (1: require
# the X-Mtls-Release header), MTLS_LIVE_TIMEOUT (seconds); MTLS_RELEASE and MTLS_EXPECT_PEM (set by install.sh).
# shellcheck disable=SC2034 # MTLS_LIVE_FAILURE and MTLS_SEEN_* are read by install.sh
#
# The TLS client of the live check (mtls_pick_tls_tool): openssl when present, else curl 7.88+
# (--write-out %{certs}; e.g. a container image without openssl). Without openssl, certificates are
# compared in the same canonical layout (first PEM block, base64 in 64-column lines) and fingerprinted
# with base64 -d | sha256sum.
MTLS_TLS_TOOL=openssl
mtls_pick_tls_tool() {
    if command -v openssl >/dev/null 2>&1; then
        MTLS_TLS_TOOL=openssl
        return 0
    fi
    _cv=
    if command -v curl >/dev/null 2>&1; then
        _cv=$(curl --version 2>/dev/null | sed -n '1s/^curl \([0-9][0-9]*\)\.\([0-9][0-9]*\)\..*$/\1 \2/p') || _cv=
    fi
    case $_cv in
        *' '*)
            if [ "$(( ${_cv%% *} * 1000 + ${_cv#* } ))" -ge 7088 ]; then
                MTLS_TLS_TOOL=curl
                return 0
            fi
            ;;
    esac
    mtls_fail "neither openssl nor curl 7.88+ (for --write-out %{certs}) is available to confirm which certificate nginx serves; nothing was changed. Fix: install openssl (or curl >= 7.88) on the target or in its image"
}
mtls_pem_first() { # PEM text on stdin -> its first certificate, base64 in 64-column lines (openssl's layout)
    _b=$(tr -d '\r' | sed 's/^[A-Za-z ]*:-----BEGIN CERTIFICATE-----/-----BEGIN CERTIFICATE-----/' \
        | sed -n '/^-----BEGIN CERTIFICATE-----/,/^-----END CERTIFICATE-----/{/^-----END CERTIFICATE-----/q;/^-----BEGIN CERTIFICATE-----/d;p;}' \
        | tr -d ' \t\n') || _b=
    [ -n "$_b" ] || return 0
    printf '%s\n' '-----BEGIN CERTIFICATE-----'
    printf '%s\n' "$_b" | fold -w 64
    printf '%s\n' '-----END CERTIFICATE-----'
}
mtls_fingerprint() { # PEM text on stdin -> sha256 hex of its first certificate (lower case, no colons)
    if [ "$MTLS_TLS_TOOL" = openssl ]; then
        openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed -n 's/^[^=]*=//p' | tr -d ':' | tr 'ABCDEF' 'abcdef'
    else
        _b=$(mtls_pem_first | sed '/^-----/d' | tr -d '\n') || _b=
        [ -n "$_b" ] || return 0
        _h=$(printf '%s\n' "$_b" | base64 -d 2>/dev/null | sha256sum) || return 0
        printf '%s\n' "${_h%% *}"
    fi
}
mtls_pem() { # file -> its first certificate in openssl's canonical PEM (what s_client prints)
    if [ "$MTLS_TLS_TOOL" = openssl ]; then
        openssl x509 -in "$1" 2>/dev/null
    else
        mtls_pem_first < "$1" 2>/dev/null
    fi
}
mtls_curl() { # one HEAD request without a client certificate: response headers, then the served chain in PEM
    if [ -n "$MTLS_LIVE_NAME" ]; then
        set -- --resolve "$MTLS_LIVE_NAME:$MTLS_LIVE_PORT:$MTLS_LIVE_URL_HOST" "https://$MTLS_LIVE_NAME:$MTLS_LIVE_PORT/?mtls-nginx-live-check"
    else
        set -- "https://$MTLS_LIVE_URL_HOST:$MTLS_LIVE_PORT/?mtls-nginx-live-check"
    fi
    curl -sk -I --http1.1 --max-time 5 -H "Host: $MTLS_LIVE_HOST_HEADER" -H 'User-Agent: mtls-nginx-install' \
        -o /dev/null -D - -w '%{certs}' "$@" </dev/null
}
mtls_s_client() {
    if command -v timeout >/dev/null 2>&1; then set -- timeout 5 "$@"; fi
    if [ -n "$MTLS_LIVE_NAME" ]; then
        "$@" openssl s_client -connect "$MTLS_LIVE_CONNECT" -servername "$MTLS_LIVE_NAME" -ign_eof
    else
        "$@" openssl s_client -connect "$MTLS_LIVE_CONNECT" -ign_eof
    fi
}
# One TLS connection without a client certificate: sets MTLS_SEEN_PEM (served certificate) and
# MTLS_SEEN_RELEASE (the release header of the response, 400 included). The request names
# "/?mtls-nginx-live-check", so that the lines nginx logs for it are told from the ones that matter.
mtls_probe() {
    if [ "$MTLS_TLS_TOOL" = openssl ]; then
        _o=$(printf 'HEAD /?mtls-nginx-live-check HTTP/1.0\r\nHost: %s\r\nUser-Agent: mtls-nginx-install\r\n\r\n' "$MTLS_LIVE_HOST_HEADER" | mtls_s_client 2>/dev/null) || true
        MTLS_SEEN_PEM=$(printf '%s\n' "$_o" | sed -n '/^-----BEGIN CERTIFICATE-----/,/^-----END CERTIFICATE-----/p') || MTLS_SEEN_PEM=
    else
        _o=$(mtls_curl 2>/dev/null) || true
        MTLS_SEEN_PEM=$(printf '%s\n' "$_o" | mtls_pem_first) || MTLS_SEEN_PEM=
    fi
    MTLS_SEEN_RELEASE=$(printf '%s\n' "$_o" | tr -d '\r' | sed -n '/^[Xx]-[Mm][Tt][Ll][Ss]-[Rr][Ee][Ll][Ee][Aa][Ss][Ee]:/{s/^[^:]*:[ 	]*//p;q;}') || MTLS_SEEN_RELEASE=
}
mtls_is_live() { # release id, certificate PEM
    [ -n "$2" ] && [ "$MTLS_SEEN_PEM" = "$2" ] || return 1
    [ "$MTLS_LIVE_HEADER" = 0 ] || [ "$MTLS_SEEN_RELEASE" = "$1" ]
}
# An unchanged release needs no reload when it is served; three probes, so that one slow or
# refused connection on a busy host does not cause a needless reload.
mtls_confirm_unchanged() {
    _n=0
    while :; do
        mtls_probe
        if mtls_is_live "$MTLS_RELEASE" "$MTLS_EXPECT_PEM"; then return 0; fi
        _n=$((_n + 1))
        [ "$_n" -lt 3 ] || return 1
        sleep 0.3 2>/dev/null || sleep 1
    done
}
# Waits until release $1 with certificate $2 (PEM) is served; $3 = error log offset to watch for [emerg].
mtls_wait_live() {
    _deadline=$(( $(date +%s) + MTLS_LIVE_TIMEOUT ))
    while :; do
        mtls_probe
        if mtls_is_live "$1" "$2"; then return 0; fi
        if mtls_new_emerg "$3"; then
            sleep 0.2 2>/dev/null || sleep 1
            mtls_probe
            if mtls_is_live "$1" "$2"; then return 0; fi
            MTLS_LIVE_FAILURE="nginx logged an [emerg] after the reload: it kept the previous configuration"
            return 1
        fi
        if [ "$(date +%s)" -ge "$_deadline" ]; then
            MTLS_LIVE_FAILURE="the new release was not served within $MTLS_LIVE_TIMEOUT s"
            return 1
        fi
        sleep 0.1 2>/dev/null || sleep 1
    done
}
# nginx worker processes that still accept connections (not "shutting down"), as "pid master-pid"
# lines; empty where /proc is not Linux's. Right after a reload, a worker of the old configuration
# takes new connections until it has handled its QUIT (on a busy host, a while).
mtls_accepting_workers() {
    [ -r /proc/self/stat ] || return 0
    _aw_down=" $(grep -las 'shutting down' /proc/[0-9]*/cmdline 2>/dev/null | tr '\n' ' ') "
    grep -las '^nginx: worker process' /proc/[0-9]*/cmdline 2>/dev/null | while IFS= read -r _aw; do
        case $_aw_down in *" $_aw "*) continue ;; esac
        # shellcheck disable=SC2034 # fields read to reach the parent pid
        read -r _aw_pid _aw_comm _aw_state _aw_ppid _aw_rest < "${_aw%/cmdline}/stat" 2>/dev/null || continue
        printf '%s %s\n' "$_aw_pid" "$_aw_ppid"
    done
}
# Waits (at most 5 s) until no worker of $1 (mtls_accepting_workers before the reload) whose master
# has started workers of the new configuration still accepts: then every new connection gets the new
# release (a revoked client is refused on its next connection). Masters that did not reload are left alone.
mtls_wait_old_workers() {
    [ -n "$1" ] || return 0
    _ow_deadline=$(( $(date +%s) + 5 ))
    while :; do
        _ow_now=$(mtls_accepting_workers)
        _ow_pending=
        for _ow_pid in $(printf '%s\n' "$1" | cut -d' ' -f1); do
            _ow_line=$(printf '%s\n' "$_ow_now" | grep "^$_ow_pid " || true)
            [ -n "$_ow_line" ] || continue
            _ow_master=${_ow_line#* }
            # A master with a worker not in the list before the reload has reloaded.
            if printf '%s\n' "$_ow_now" | grep " $_ow_master\$" | cut -d' ' -f1 | grep -qvxF "$(printf '%s\n' "$1" | cut -d' ' -f1)"; then
                _ow_pending="$_ow_pending $_ow_pid"
            fi
        done
        [ -n "$_ow_pending" ] || return 0
        if [ "$(date +%s)" -ge "$_ow_deadline" ]; then
            mtls_warn "old nginx worker(s)$_ow_pending still accept connections 5 s after the reload: until they handle their QUIT, a new connection may still get the previous configuration"
            return 0
        fi
        sleep 0.05 2>/dev/null || sleep 1
    done
}
