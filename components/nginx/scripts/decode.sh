# shellcheck shell=sh
# mtls_decode_payload DIR: reads the payload (encodePayload in install.ts) on stdin into DIR
# (existing, empty). Never prints file contents. One process per file (base64 -d, fed by a
# here-document); checksums and modes in one go at the end. Sets MTLS_PAYLOAD_FILES, MTLS_PAYLOAD_HASH
# and MTLS_PAYLOAD_KIB (what staging takes on disk: the files, the manifest and the checksum list, in
# 4 KiB blocks). A write that fails (a full disk) is told apart
# from a damaged payload: the rest of stdin is read to say how much room the release needs.
# shellcheck disable=SC2034 # sets MTLS_PAYLOAD_* for the scripts this fragment is joined into

# Checks one entry line ($_mode $_sum $_path, entry number $_n); fails on anything unsafe.
mtls_decode_check() {
    case $_mode in
        0600|0644) ;;
        *) mtls_fail "payload: entry $_n has mode '$_mode' (expected 0600 or 0644); nothing was changed" ;;
    esac
    case $_sum in
        *[!0-9a-f]*|'') mtls_fail "payload: entry $_n has no sha256; nothing was changed" ;;
    esac
    if [ ${#_sum} -ne 64 ]; then
        mtls_fail "payload: entry $_n has no sha256; nothing was changed"
    fi
    case $_path in
        ''|/*|*/|*//*|.mtls*|*[!A-Za-z0-9._/-]*) mtls_fail "payload: entry $_n has an unsafe path; nothing was changed" ;;
    esac
    case /$_path/ in
        */./*|*/../*) mtls_fail "payload: entry $_n has an unsafe path; nothing was changed" ;;
    esac
}
# Writes entry $_path (base64 $_data, or "-" for empty) into directory $1; fails on bad base64,
# returns 1 when the file could not be written (the disk).
mtls_decode_write() {
    _f=$1/$_path
    if [ -e "$_f" ] || [ -h "$_f" ]; then
        mtls_fail "payload: $_path appears twice; nothing was changed"
    fi
    case $_path in
        */*) [ -d "${_f%/*}" ] || (umask 022 && mkdir -p "${_f%/*}" 2>/dev/null) || return 1 ;;
    esac
    if [ "$_data" = - ]; then
        MTLS_WRITE_ERROR=$( { : > "$_f"; } 2>&1) || return 1
    elif ! MTLS_WRITE_ERROR=$(base64 -d 2>&1 > "$_f" <<MTLS_B64
$_data
MTLS_B64
)
    then
        # Bad data, or a write that failed? The same data decoded to nowhere tells.
        if base64 -d >/dev/null 2>&1 <<MTLS_B64
$_data
MTLS_B64
        then
            return 1
        fi
        mtls_fail "payload: $_path is not valid base64 (corrupted standard input); nothing was changed"
    fi
    { printf '%s %s %s\n' "$_mode" "$_sum" "$_path" >> "$1/.mtls-manifest"; } 2>/dev/null || return 1
    { printf '%s  ./%s\n' "$_sum" "$_path" >> "$1/.mtls-sha256"; } 2>/dev/null || return 1
}
# A write into directory $1 failed (at file $3): $2 KiB needed. What was written goes first, so that
# the free space reported is what the release could have had.
mtls_decode_no_room() {
    _nr_dir=${MTLS_DIR:-$1}
    while read -r _m _s _p; do rm -f "$1/$_p"; done < "$1/.mtls-manifest" 2>/dev/null || true
    rm -f "$1/$3" "$1/.mtls-manifest" "$1/.mtls-sha256"
    _nr_free=$(mtls_free_kib "$1")
    case $MTLS_WRITE_ERROR in *"No space"*) _nr_full=1 ;; *) _nr_full=0 ;; esac
    if [ -z "$_nr_free" ]; then
        mtls_fail "payload: cannot write the release files into $1 (release needs $2 KiB; df cannot tell the free space): ${MTLS_WRITE_ERROR:-a write error}; nothing was changed"
    fi
    if [ "$_nr_full" = 1 ] || [ "$_nr_free" -lt "$2" ]; then
        mtls_fail "no space left on $_nr_dir ($_nr_free KiB free, release needs $2 KiB); nothing was changed. Fix: make room there (installs keep only the current and the previous release), or give the install directory a larger filesystem"
    fi
    mtls_fail "payload: cannot write the release files into $1 although $_nr_free KiB are free (release needs $2 KiB): ${MTLS_WRITE_ERROR:-a write error} (no free inode, a quota, or a failing device?); nothing was changed"
}
mtls_decode_payload() {
    _d=$1
    _n=0
    _public=
    _need=8
    _failed=
    MTLS_WRITE_ERROR=
    if ! IFS= read -r _l; then
        mtls_fail "payload: standard input is empty (expected the release files); nothing was changed"
    fi
    if [ "$_l" != "mtls-nginx-payload 1" ]; then
        mtls_fail "payload: standard input does not start with 'mtls-nginx-payload 1'; nothing was changed"
    fi
    { : > "$_d/.mtls-manifest" && : > "$_d/.mtls-sha256"; } 2>/dev/null || _failed=.mtls-manifest
    while :; do
        if ! IFS=' ' read -r _mode _sum _path _data; then
            mtls_fail "payload: truncated after $_n file(s) (no end line); nothing was changed"
        fi
        if [ "$_mode" = end ]; then
            break
        fi
        _n=$((_n + 1))
        mtls_decode_check
        [ "$_mode" = 0600 ] || _public="$_public ./$_path"
        # The decoded size: 3 bytes per 4 characters, less the padding.
        _quads=$(( ${#_data} / 4 ))
        case $_data in -) _size=0 ;; *==) _size=$(( _quads * 3 - 2 )) ;; *=) _size=$(( _quads * 3 - 1 )) ;; *) _size=$(( _quads * 3 )) ;; esac
        _need=$((_need + $(mtls_disk_kib "$_size")))
        [ -z "$_failed" ] || continue
        mtls_decode_write "$_d" || _failed=$_path
    done
    if [ "$_sum" != "$_n" ]; then
        mtls_fail "payload: the end line announces $_sum file(s) but $_n were read; nothing was changed"
    fi
    [ -z "$_failed" ] || mtls_decode_no_room "$_d" "$_need" "$_failed"
    if ! (cd "$_d" && sha256sum -c .mtls-sha256 >/dev/null 2>&1); then
        _bad=$(cd "$_d" && sha256sum -c .mtls-sha256 2>/dev/null | sed -n 's#^\./\(.*\): FAILED.*$#\1#p' | tr '\n' ' ')
        mtls_fail "payload: ${_bad:-a file }does not match its sha256 (truncated or corrupted standard input); nothing was changed"
    fi
    rm -f "$_d/.mtls-sha256"
    MTLS_PAYLOAD_HASH=$(mtls_sha256 "$_d/.mtls-manifest")
    if [ "$MTLS_PAYLOAD_HASH" != "$_path" ]; then
        mtls_fail "payload: content hash mismatch (corrupted standard input); nothing was changed"
    fi
    # Files were created 0600 (umask 077); open up the public ones (paths hold no blanks or glob characters).
    chmod 0644 "$_d/.mtls-manifest"
    if [ -n "$_public" ]; then
        # shellcheck disable=SC2086 # one word per path (validated: no blanks; globbing is off)
        (cd "$_d" && set -f && chmod 0644 $_public)
    fi
    MTLS_PAYLOAD_FILES=$_n
    MTLS_PAYLOAD_KIB=$_need
}
