# shellcheck shell=sh
# The nginx version policy for CVE-2025-23419 (version.ts decides the same in TypeScript).
# Parameters (header): MTLS_NGINX; MTLS_CHANGELOG_GLOBS (space-separated absolute globs of Debian
# changelogs); MTLS_VERSION_RPM (1: also ask rpm); MTLS_VERSION_ON_UNFIXED / MTLS_VERSION_ON_UNKNOWN
# (ok | warn | refuse) with their messages MTLS_VERSION_MSG_UNFIXED / MTLS_VERSION_MSG_UNKNOWN, in which
# {v} stands for the version (or the first line nginx -v printed).
# mtls_check_nginx_version sets MTLS_NGINX_VERSION (x.y.z, empty when unknown), MTLS_NGINX_VERNUM
# (major*1000000 + minor*1000 + patch, 0 when unknown) and MTLS_NGINX_FIX (upstream | distribution | none).
# shellcheck disable=SC2034 # MTLS_NGINX_FIX is read by the scripts this fragment is joined into

mtls_upstream_fixed() { # major minor patch
    if [ "$1" -ne 1 ]; then [ "$1" -gt 1 ]; return; fi
    if [ "$2" -ge 28 ]; then return 0; fi
    if [ "$2" -eq 27 ]; then [ "$3" -ge 4 ]; return; fi
    if [ "$2" -eq 26 ]; then [ "$3" -ge 3 ]; return; fi
    return 1
}
mtls_distro_fixed() { # x.y.z
    # shellcheck disable=SC2086 # the globs must expand (they hold no blanks: CHANGELOG_GLOB_RE)
    for _mv_cl in $MTLS_CHANGELOG_GLOBS; do
        [ -f "$_mv_cl" ] || continue
        _mv_top=$(gzip -dc "$_mv_cl" 2>/dev/null | sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p')
        _mv_top=${_mv_top#*:}
        _mv_top=${_mv_top%-*}
        [ "$_mv_top" = "$1" ] || continue
        if gzip -dc "$_mv_cl" 2>/dev/null | grep -q 'CVE-2025-23419'; then return 0; fi
    done
    if [ "$MTLS_VERSION_RPM" = 1 ] && command -v rpm >/dev/null 2>&1; then
        _mv_rv=$(rpm -q --qf '%{VERSION}' nginx 2>/dev/null) || _mv_rv=
        if [ "$_mv_rv" = "$1" ] && rpm -q --changelog nginx 2>/dev/null | grep -q 'CVE-2025-23419'; then return 0; fi
    fi
    return 1
}
mtls_version_verdict() { # ok|warn|refuse, message template, value for {v}
    _mv_rest=$2
    _mv_msg=
    while :; do
        case $_mv_rest in
            *'{v}'*) _mv_msg="$_mv_msg${_mv_rest%%"{v}"*}$3"; _mv_rest=${_mv_rest#*"{v}"} ;;
            *) _mv_msg="$_mv_msg$_mv_rest"; break ;;
        esac
    done
    case $1 in
        refuse) printf 'mtls-nginx: %s\n' "$_mv_msg" >&2; return 1 ;;
        warn) printf 'mtls-nginx: warning: %s\n' "$_mv_msg" >&2 ;;
    esac
    return 0
}
mtls_check_nginx_version() {
    MTLS_NGINX_VERSION=
    MTLS_NGINX_VERNUM=0
    MTLS_NGINX_FIX=none
    if [ ! -x "$MTLS_NGINX" ]; then
        printf 'mtls-nginx: %s is not an executable file. Fix: install nginx there, or set the nginxBinary input to its path\n' "$MTLS_NGINX" >&2
        return 1
    fi
    if ! _mv_out=$("$MTLS_NGINX" -v 2>&1 </dev/null); then
        printf 'mtls-nginx: %s -v failed: %s\n' "$MTLS_NGINX" "$_mv_out" >&2
        return 1
    fi
    _mv_first=$(printf '%s\n' "$_mv_out" | sed -n '1p')
    _mv_nums=$(printf '%s\n' "$_mv_out" | sed -n 's#.*nginx/\([0-9][0-9]*\)\.\([0-9][0-9]*\)\.\([0-9][0-9]*\).*#\1 \2 \3#p' | sed -n '1p')
    if [ -z "$_mv_nums" ]; then
        _mv_nums=$(printf '%s\n' "$_mv_out" | sed -n 's#^nginx version: [A-Za-z][A-Za-z0-9._-]*/\([0-9][0-9]*\)\.\([0-9][0-9]*\)\.\([0-9][0-9]*\).*#\1 \2 \3#p' | sed -n '1p')
    fi
    if [ -z "$_mv_nums" ]; then
        mtls_version_verdict "$MTLS_VERSION_ON_UNKNOWN" "$MTLS_VERSION_MSG_UNKNOWN" "$_mv_first"
        return
    fi
    # shellcheck disable=SC2086 # three numbers, split on purpose
    set -- $_mv_nums
    MTLS_NGINX_VERSION="$1.$2.$3"
    MTLS_NGINX_VERNUM=$(( $1 * 1000000 + $2 * 1000 + $3 ))
    if mtls_upstream_fixed "$1" "$2" "$3"; then
        MTLS_NGINX_FIX=upstream
        return 0
    fi
    if mtls_distro_fixed "$MTLS_NGINX_VERSION"; then
        MTLS_NGINX_FIX=distribution
        return 0
    fi
    mtls_version_verdict "$MTLS_VERSION_ON_UNFIXED" "$MTLS_VERSION_MSG_UNFIXED" "$MTLS_NGINX_VERSION"
}
