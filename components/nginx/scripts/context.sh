# shellcheck shell=sh
# nginx -t of a new release in its full context BEFORE anything live points at it.
#
# A dedicated instance whose main config lies in the release is simply tested there. Otherwise (a
# system nginx including the site through its include link, or a dedicated config outside the release)
# the configuration nginx runs now is dumped (nginx -T) into a private mirror directory, the site's
# files are replaced there by the new release's, `include`s with absolute paths are pointed into the
# mirror, every other name in the mirrored directories is a symlink to the real one (relative paths
# resolve as they would), and nginx -t runs on the mirror's main config. So `current` and the include
# link only ever name a release that passed nginx -t with everything else the host's nginx loads.
# Parameters: those of control.sh; MTLS_CONF_IN_RELEASE (dedicated), MTLS_INCLUDE_LINK and
# MTLS_SITE_CONF (system). Sets MTLS_TEST_OUTPUT (nginx's words, with the release's real paths) and
# MTLS_CONTEXT (the work directory, for the EXIT trap to remove).
# shellcheck disable=SC2034 # MTLS_TEST_OUTPUT is read by install.sh
MTLS_CONTEXT=

mtls_nginx_test() { # config file (dedicated) -> nginx's output in MTLS_TEST_OUTPUT
    if [ "$MTLS_MODE" = dedicated ]; then
        MTLS_TEST_OUTPUT=$(mtls_nginx_d "$1" -t -q 2>&1 </dev/null)
    else
        MTLS_TEST_OUTPUT=$(mtls_nginx_sys -t -q 2>&1 </dev/null)
    fi
}
# The configuration nginx runs now (main file first) as `nginx -T` prints it, into file $1.
mtls_dump_config() {
    if [ "$MTLS_MODE" = dedicated ]; then
        mtls_nginx_d "$MTLS_CONF" -T >"$1" 2>"$1.err" </dev/null
    else
        mtls_nginx_sys -T >"$1" 2>"$1.err" </dev/null
    fi
}
# Copies config text from stdin to stdout, pointing absolute `include` paths into mirror root $MTLS_ROOT.
mtls_mirror_includes() {
    MTLS_M=$MTLS_ROOT awk 'BEGIN { M = ENVIRON["MTLS_M"]; q = sprintf("%c", 39); re = "(^|[ \t;{}])include[ \t]+[\"" q "]?/" }
        { line = $0; out = ""
          while (match(line, re)) { out = out substr(line, 1, RSTART + RLENGTH - 2) M; line = substr(line, RSTART + RLENGTH - 1) }
          print out line }'
}
# The release file that stands for config file $1 in the mirror (empty: keep the dumped text).
mtls_mirror_source() { # name, release id
    if [ "$MTLS_MODE" = system ] && [ "$1" = "$MTLS_INCLUDE_LINK" ]; then
        printf '%s\n' "$MTLS_DIR/releases/$2/$MTLS_SITE_CONF"
        return 0
    fi
    case $1 in
        "$MTLS_DIR/current/"*) printf '%s\n' "$MTLS_DIR/releases/$2/${1#"$MTLS_DIR/current/"}" ;;
    esac
}
# Every name of the real directory in each mirrored directory that the mirror lacks, as a symlink.
mtls_mirror_overlay() {
    find "$MTLS_ROOT" -type d | while IFS= read -r _ov_d; do
        _ov_r=${_ov_d#"$MTLS_ROOT"}
        set --
        for _ov_e in "${_ov_r:-}"/* "${_ov_r:-}"/.[!.]* "${_ov_r:-}"/..?*; do
            [ -e "$_ov_e" ] || [ -h "$_ov_e" ] || continue
            [ -e "$_ov_d/${_ov_e##*/}" ] || [ -h "$_ov_d/${_ov_e##*/}" ] || set -- "$@" "$_ov_e"
        done
        [ "$#" -eq 0 ] || ln -s "$@" "$_ov_d/" 2>/dev/null || true
    done
}
# Why the mirror could not be written, when it is the disk.
mtls_mirror_space() {
    _ms=$(mtls_free_kib "$MTLS_DIR")
    if [ -n "$_ms" ] && [ "$_ms" -lt 64 ]; then
        MTLS_TEST_OUTPUT="no space left on $MTLS_DIR for a copy of nginx's configuration to test it with the new release ($_ms KiB free)"
        return 0
    fi
    return 1
}
# Builds the mirror for release $1 under $MTLS_CONTEXT; sets MTLS_MIRROR_MAIN (the mirror's main config).
mtls_mirror_build() {
    _mb_dump="$MTLS_CONTEXT/dump"
    if ! mtls_dump_config "$_mb_dump" 2>/dev/null; then
        mtls_mirror_space && return 1
        MTLS_TEST_OUTPUT="nginx -T fails on the configuration nginx has now, before release $1 is added:
$(cat "$_mb_dump.err" 2>/dev/null)"
        return 1
    fi
    # The files nginx read (absolute, normalized, existing): the dump's "# configuration file X:" lines.
    sed -n 's/^# configuration file \(.*\):$/\1/p' "$_mb_dump" | while IFS= read -r _mb_n; do
        case $_mb_n in /*/../*|/*/./*|*/..|*/.|[!/]*) continue ;; esac
        [ -f "$_mb_n" ] && printf '%s\n' "$_mb_n"
    done > "$MTLS_CONTEXT/names"
    MTLS_MIRROR_MAIN=$(sed -n '1p' "$MTLS_CONTEXT/names")
    if [ -z "$MTLS_MIRROR_MAIN" ]; then
        MTLS_TEST_OUTPUT="nginx -T printed no configuration file: $(cat "$_mb_dump.err")"
        return 1
    fi
    if [ "$MTLS_MODE" = system ] && ! grep -qxF "$MTLS_INCLUDE_LINK" "$MTLS_CONTEXT/names"; then
        printf '%s\n' "$MTLS_INCLUDE_LINK" >> "$MTLS_CONTEXT/names"   # the first install: no link yet
    fi
    while IFS= read -r _mb_n; do mkdir -p "$MTLS_ROOT${_mb_n%/*}" || return 1; done < "$MTLS_CONTEXT/names"
    # Split the dump into the mirror, one file per "# configuration file" line nginx printed for a real file.
    MTLS_M=$MTLS_ROOT awk 'FNR == NR { ok[$0] = 1; next }
        /^# configuration file .*:$/ { n = substr($0, 22, length($0) - 22); if (n in ok) { if (out != "") close(out); out = ENVIRON["MTLS_M"] n; next } }
        out != "" { print > out }' "$MTLS_CONTEXT/names" "$_mb_dump" 2>/dev/null || return 1
    while IFS= read -r _mb_n; do
        _mb_src=$(mtls_mirror_source "$_mb_n" "$1")
        if [ -n "$_mb_src" ]; then cp "$_mb_src" "$MTLS_ROOT$_mb_n" 2>/dev/null || return 1; fi
        _mb_tmp="$MTLS_ROOT$_mb_n.mtls-tmp"
        { mtls_mirror_includes < "$MTLS_ROOT$_mb_n" > "$_mb_tmp" && mv -f "$_mb_tmp" "$MTLS_ROOT$_mb_n"; } 2>/dev/null || return 1
    done < "$MTLS_CONTEXT/names"
    mtls_mirror_overlay
}
# nginx's words about the mirror, with the paths the user knows: the release's file for the site's, the real ones otherwise.
mtls_unmirror() { # release id
    MTLS_M=$MTLS_ROOT MTLS_L=${MTLS_INCLUDE_LINK:-} MTLS_S="$MTLS_DIR/releases/$1/${MTLS_SITE_CONF:-}" MTLS_C="$MTLS_DIR/current/" MTLS_R="$MTLS_DIR/releases/$1/" awk '
        function swap(s, from, to,   i, o) { o = ""; while (from != "" && (i = index(s, from)) > 0) { o = o substr(s, 1, i - 1) to; s = substr(s, i + length(from)) } return o s }
        { s = $0
          if (ENVIRON["MTLS_L"] != "") s = swap(s, ENVIRON["MTLS_M"] ENVIRON["MTLS_L"], ENVIRON["MTLS_S"])
          s = swap(s, ENVIRON["MTLS_M"] ENVIRON["MTLS_C"], ENVIRON["MTLS_R"])
          print swap(s, ENVIRON["MTLS_M"], "") }'
}
# nginx -t for release $1 as nginx would load it once 'current' (and the include link) named it:
# 0 = accepted, 1 = rejected (MTLS_TEST_OUTPUT: nginx's words), 2 = could not be tested (MTLS_TEST_OUTPUT: why).
mtls_test_in_context() {
    if [ "$MTLS_MODE" = dedicated ] && [ -n "$MTLS_CONF_IN_RELEASE" ]; then
        mtls_nginx_test "$MTLS_DIR/releases/$1/$MTLS_CONF_IN_RELEASE"
        return
    fi
    MTLS_CONTEXT="$MTLS_DIR/.context-$$"
    MTLS_ROOT="$MTLS_CONTEXT/root"
    rm -rf "$MTLS_CONTEXT"
    if ! _tc_e=$(mkdir -p "$MTLS_ROOT" 2>&1); then
        MTLS_TEST_OUTPUT="cannot create $MTLS_CONTEXT: ${_tc_e##*: }"
        return 2
    fi
    if ! mtls_mirror_build "$1"; then
        [ -n "${MTLS_TEST_OUTPUT:-}" ] || mtls_mirror_space || MTLS_TEST_OUTPUT="cannot write a copy of nginx's configuration into $MTLS_CONTEXT"
        return 2
    fi
    _tc_rc=0
    if [ "$MTLS_MODE" = dedicated ]; then
        _tc_out=$(mtls_nginx_d "$MTLS_ROOT$MTLS_MIRROR_MAIN" -t -q 2>&1 </dev/null) || _tc_rc=$?
    else
        _tc_out=$(mtls_nginx_sys -c "$MTLS_ROOT$MTLS_MIRROR_MAIN" -t -q 2>&1 </dev/null) || _tc_rc=$?
    fi
    MTLS_TEST_OUTPUT=$(printf '%s\n' "$_tc_out" | mtls_unmirror "$1")
    rm -rf "$MTLS_CONTEXT"
    MTLS_CONTEXT=
    return "$_tc_rc"
}
