# shellcheck shell=sh
# Functions every mtls-nginx script uses: messages, a millisecond clock, sha256 of a file.
# (A fragment: the TypeScript side joins it after the parameter header; see install.ts.)

mtls_say() { printf 'mtls-nginx: %s\n' "$*"; }
mtls_warn() { printf 'mtls-nginx: warning: %s\n' "$*" >&2; }
mtls_fail() { printf 'mtls-nginx: %s\n' "$*" >&2; exit 1; }
mtls_now_ms() {
    _t=$(date +%s%N 2>/dev/null) || _t=
    case $_t in
        ''|*[!0-9]*) echo $(( $(date +%s) * 1000 )) ;;
        *) echo $(( _t / 1000000 )) ;;
    esac
}
mtls_sha256() { # file -> hex digest
    _h=$(sha256sum < "$1") || return 1
    printf '%s\n' "${_h%% *}"
}
# Both scripts clean up in their mtls_on_exit, also when interrupted (exit status 128 + signal).
mtls_traps() {
    trap mtls_on_exit EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
