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
mtls_free_kib() { # directory -> free KiB on its filesystem (empty when df cannot tell)
    df -Pk "$1" 2>/dev/null | awk 'NR == 2 && $4 ~ /^[0-9]+$/ { print $4 }'
}
mtls_disk_kib() { # bytes -> KiB a file of that size takes (4 KiB blocks)
    _dk=$(( ($1 + 4095) / 4096 ))
    echo $(( _dk * 4 ))
}
# Both scripts clean up in their mtls_on_exit, also when interrupted (exit status 128 + signal).
mtls_traps() {
    trap mtls_on_exit EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
# Test hooks, inert unless the header sets MTLS_TEST_HOOKS=1 (renderInstallScript's testHooks input,
# which no component sets). Then, from the environment: MTLS_TEST_TRACE=<file> appends "<step> <pid>"
# at every step boundary; MTLS_TEST_STOP_AT=<step> stops there (prints "test hook: stopped at <step>"
# and sleeps until killed), so that a test can kill the script at that point; MTLS_TEST_SLEEP_AT=
# <step>:<seconds> pauses there.
mtls_step() {
    [ "${MTLS_TEST_HOOKS:-0}" = 1 ] || return 0
    if [ -n "${MTLS_TEST_TRACE:-}" ]; then printf '%s %s\n' "$1" "$$" >> "$MTLS_TEST_TRACE"; fi
    case ${MTLS_TEST_SLEEP_AT:-} in
        "$1":*) sleep "${MTLS_TEST_SLEEP_AT#*:}" ;;
    esac
    if [ "${MTLS_TEST_STOP_AT:-}" = "$1" ]; then
        printf 'mtls-nginx: test hook: stopped at %s\n' "$1" >&2
        while :; do sleep 1; done
    fi
}
