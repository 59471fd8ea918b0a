# shellcheck shell=sh
# shellcheck disable=SC2034 # sets MTLS_PAYLOAD_FILES and MTLS_PAYLOAD_HASH for the scripts this fragment is joined into
# mtls_decode_payload DIR: reads the payload (encodePayload in install.ts) on stdin into DIR
# (existing, empty). Never prints file contents. One process per file (base64 -d, fed by a
# here-document); checksums and modes in one go at the end. Sets MTLS_PAYLOAD_FILES and MTLS_PAYLOAD_HASH.
mtls_decode_payload() {
    _d=$1
    _n=0
    _public=
    if ! IFS= read -r _l; then
        mtls_fail "payload: standard input is empty (expected the release files); nothing was changed"
    fi
    if [ "$_l" != "mtls-nginx-payload 1" ]; then
        mtls_fail "payload: standard input does not start with 'mtls-nginx-payload 1'; nothing was changed"
    fi
    : > "$_d/.mtls-manifest"
    : > "$_d/.mtls-sha256"
    while :; do
        if ! IFS=' ' read -r _mode _sum _path _data; then
            mtls_fail "payload: truncated after $_n file(s) (no end line); nothing was changed"
        fi
        if [ "$_mode" = end ]; then
            break
        fi
        _n=$((_n + 1))
        case $_mode in
            0600) ;;
            0644) _public="$_public ./$_path" ;;
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
        _f=$_d/$_path
        if [ -e "$_f" ] || [ -h "$_f" ]; then
            mtls_fail "payload: $_path appears twice; nothing was changed"
        fi
        case $_path in
            */*) [ -d "${_f%/*}" ] || (umask 022 && mkdir -p "${_f%/*}") || mtls_fail "payload: cannot create the directory of $_path; nothing was changed" ;;
        esac
        if [ "$_data" = - ]; then
            : > "$_f"
        elif ! base64 -d > "$_f" 2>/dev/null <<MTLS_B64
$_data
MTLS_B64
        then
            mtls_fail "payload: $_path is not valid base64 (corrupted standard input); nothing was changed"
        fi
        printf '%s %s %s\n' "$_mode" "$_sum" "$_path" >> "$_d/.mtls-manifest"
        printf '%s  ./%s\n' "$_sum" "$_path" >> "$_d/.mtls-sha256"
    done
    if [ "$_sum" != "$_n" ]; then
        mtls_fail "payload: the end line announces $_sum file(s) but $_n were read; nothing was changed"
    fi
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
}
