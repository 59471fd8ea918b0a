# shellcheck shell=sh
# The install lock: the directory $MTLS_LOCK holding an empty file 'owner-<pid>-<start time>' (the
# start time, from /proc, tells a live holder from a reused pid; a name, not content, so that taking
# the lock needs no free block on a full disk). Parameters (header): MTLS_LOCK, MTLS_LOCK_TIMEOUT
# (seconds to wait for a live holder).
#
# Taking it: a directory with the owner file is made aside and renamed into place (mv -T: atomic, and
# it fails while the lock exists), so a lock never lacks its owner; where mv has no -T, mkdir + write.
# Taking over from a holder that is gone must be atomic, or two installs that both saw the dead holder
# end up inside together (one removes the lock the other has just taken). The taker first claims THAT
# lock directory (mkdir $MTLS_LOCK/.takeover: one claimer per lock directory), checks that its owner is
# still the dead one, renames it aside and retries. A lock taken in between has another owner: the
# claim is withdrawn. A claim or an owner-less lock left by a process killed in that instant is
# cleared after 5 s.
# A lock that cannot be created (permission denied, read-only file system, no space) is an error at
# once, not a lock "held" by nobody.
MTLS_LOCK_HELD=0
MTLS_LOCK_TOKEN=
MTLS_LOCK_HOLDER=
MTLS_LOCK_ERROR=

# pid -> "<pid>:<start time in clock ticks>" (empty start time where /proc cannot tell).
mtls_proc_token() {
    _lt_start=
    if [ -r "/proc/$1/stat" ]; then
        _lt_start=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d ' ' -f 20) || _lt_start=
    fi
    printf '%s:%s\n' "$1" "$_lt_start"
}
# The owner of the lock as "<pid> <pid>:<start time>" (an earlier version's lock, a 'pid' file: "<pid> <pid>:");
# empty when none.
mtls_lock_owner() {
    for _lo in "$MTLS_LOCK"/owner-*; do
        [ -e "$_lo" ] || continue
        _lo=${_lo##*/owner-}
        printf '%s %s:%s\n' "${_lo%%-*}" "${_lo%%-*}" "${_lo#*-}"
        return 0
    done
    _lo=$(cat "$MTLS_LOCK/pid" 2>/dev/null) || _lo=
    [ -z "$_lo" ] || printf '%s %s:\n' "$_lo" "$_lo"
}
# True while the process of owner line $1 runs (also when it cannot be told: another user's, no /proc).
mtls_owner_alive() {
    _oa_pid=${1%% *}
    _oa_token=${1#* }
    case $_oa_pid in ''|*[!0-9]*) return 0 ;; esac
    kill -0 "$_oa_pid" 2>/dev/null || [ -d "/proc/$_oa_pid" ] || return 1
    [ -n "${_oa_token#*:}" ] || return 0
    _oa_now=$(mtls_proc_token "$_oa_pid")
    [ -z "${_oa_now#*:}" ] || [ "$_oa_now" = "$_oa_token" ]
}
# The reason in a failed command's message ("mkdir: cannot create directory 'x': Permission denied").
mtls_reason() {
    printf '%s\n' "${1##*: }"
}
# Removes the lock whose owner is $1 (gone), atomically; fails when another process is taking it
# over or has meanwhile taken a new lock.
mtls_lock_takeover() {
    mkdir "$MTLS_LOCK/.takeover" 2>/dev/null || return 1
    if [ "$(mtls_lock_owner)" != "$1" ]; then
        rmdir "$MTLS_LOCK/.takeover" 2>/dev/null || true
        return 1
    fi
    _tk_aside="$MTLS_LOCK.stale-$$"
    rm -rf "$_tk_aside"
    if ! mv "$MTLS_LOCK" "$_tk_aside" 2>/dev/null; then
        rmdir "$MTLS_LOCK/.takeover" 2>/dev/null || true
        return 1
    fi
    rm -rf "$_tk_aside"
    if [ -n "$1" ]; then
        mtls_warn "took over the lock of a process that is gone (pid ${1%% *})"
    else
        mtls_warn "took over a lock its creator left without an owner"
    fi
}
# One attempt: 0 = taken (MTLS_LOCK_HELD=1); 1 = held (MTLS_LOCK_HOLDER = its owner line); 2 = cannot be created
# (MTLS_LOCK_ERROR says why).
mtls_lock_try() {
    [ -n "$MTLS_LOCK_TOKEN" ] || MTLS_LOCK_TOKEN=$(mtls_proc_token $$)
    _lk_new="$MTLS_LOCK.new-$$"
    rm -rf "$_lk_new" 2>/dev/null || true
    if ! _lk_e=$(mkdir "$_lk_new" 2>&1); then
        MTLS_LOCK_ERROR=$(mtls_reason "$_lk_e")
        return 2
    fi
    if ! _lk_e=$( { : > "$_lk_new/owner-$$-${MTLS_LOCK_TOKEN#*:}"; } 2>&1); then
        rm -rf "$_lk_new"
        MTLS_LOCK_ERROR=$(mtls_reason "$_lk_e")
        return 2
    fi
    if _lk_e=$(mv -T "$_lk_new" "$MTLS_LOCK" 2>&1); then
        MTLS_LOCK_HELD=1
        return 0
    fi
    rm -rf "$_lk_new"
    case $_lk_e in
        *option*|*[Uu]sage*)
            # mv without -T (very old busybox): mkdir, then the owner (a lock is owner-less for a moment).
            if mkdir "$MTLS_LOCK" 2>/dev/null; then
                : > "$MTLS_LOCK/owner-$$-${MTLS_LOCK_TOKEN#*:}"
                MTLS_LOCK_HELD=1
                return 0
            fi
            ;;
    esac
    # Held (or released just now: the next attempt tells).
    MTLS_LOCK_HOLDER=$(mtls_lock_owner)
    return 1
}
# Waits for the lock (MTLS_LOCK_TIMEOUT s at most), taking over a dead holder's.
mtls_lock() {
    _lk_t0=$(date +%s)
    _lk_seen=
    _lk_since=0
    while :; do
        _lk_rc=0
        mtls_lock_try || _lk_rc=$?
        case $_lk_rc in
            0) break ;;
            2) mtls_fail "cannot create the lock $MTLS_LOCK: $MTLS_LOCK_ERROR. Fix: the install directory ${MTLS_LOCK%/*} must be writable by the user the script runs as (sudo?), on a writable filesystem with free space and inodes" ;;
        esac
        _lk_now=$(date +%s)
        if [ -n "$MTLS_LOCK_HOLDER" ] && ! mtls_owner_alive "$MTLS_LOCK_HOLDER"; then
            mtls_lock_takeover "$MTLS_LOCK_HOLDER" && continue
        fi
        # An owner-less lock, or a claim on a dead holder's, that stays for 5 s was left by a killed process.
        if [ "$_lk_seen" != "$MTLS_LOCK_HOLDER" ]; then
            _lk_seen=$MTLS_LOCK_HOLDER
            _lk_since=$_lk_now
        elif [ $((_lk_now - _lk_since)) -ge 5 ]; then
            if [ -z "$MTLS_LOCK_HOLDER" ]; then
                mtls_lock_takeover "" && continue
            elif ! mtls_owner_alive "$MTLS_LOCK_HOLDER"; then
                rmdir "$MTLS_LOCK/.takeover" 2>/dev/null || true
            fi
            _lk_since=$_lk_now
        fi
        if [ $((_lk_now - _lk_t0)) -ge "$MTLS_LOCK_TIMEOUT" ]; then
            _lk_pid=${MTLS_LOCK_HOLDER%% *}
            mtls_fail "another install holds $MTLS_LOCK (pid ${_lk_pid:-unknown}) since $MTLS_LOCK_TIMEOUT s or more. Fix: wait for it, or remove that directory if no install runs"
        fi
        sleep 0.2 2>/dev/null || sleep 1
    done
    mtls_step locked
}
# Releases the lock when this script holds it.
mtls_unlock() {
    [ "$MTLS_LOCK_HELD" = 1 ] || return 0
    mtls_step unlocking
    rm -rf "$MTLS_LOCK"
    MTLS_LOCK_HELD=0
}
