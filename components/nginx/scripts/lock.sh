# shellcheck shell=sh
# The install lock: a directory, $MTLS_LOCK (mkdir is atomic), holding the holder's pid.
# Parameters (header): MTLS_LOCK, MTLS_LOCK_TIMEOUT (seconds to wait for another holder).
# shellcheck disable=SC2034 # MTLS_LOCK_HELD is read by the scripts this fragment is joined into
mtls_lock() {
    _waited=0
    while ! mkdir "$MTLS_LOCK" 2>/dev/null; do
        _holder=$(cat "$MTLS_LOCK/pid" 2>/dev/null) || _holder=
        # A holder is alive when it can be signalled or (another user's, e.g. under sudo) is in /proc.
        if [ -n "$_holder" ] && ! kill -0 "$_holder" 2>/dev/null && [ ! -d "/proc/$_holder" ]; then
            mtls_warn "taking over the lock of a process that is gone (pid $_holder)"
            rm -rf "$MTLS_LOCK"
            continue
        fi
        if [ "$_waited" -ge "$MTLS_LOCK_TIMEOUT" ]; then
            mtls_fail "another install holds $MTLS_LOCK (pid ${_holder:-unknown}) since $MTLS_LOCK_TIMEOUT s or more. Fix: wait for it, or remove that directory if no install runs"
        fi
        sleep 1
        _waited=$((_waited + 1))
    done
    MTLS_LOCK_HELD=1
    echo $$ > "$MTLS_LOCK/pid"
}
