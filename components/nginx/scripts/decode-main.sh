# shellcheck shell=sh
# A standalone run of the install script's payload decoder (renderDecodeScript): reads stdin into
# MTLS_TARGET (created 0755 when missing) and prints "decoded <count> files <contentHash> (<KiB> KiB)".
set -eu
umask 077
(umask 022 && mkdir -p "$MTLS_TARGET")
mtls_decode_payload "$MTLS_TARGET"
printf 'decoded %s files %s (%s KiB)\n' "$MTLS_PAYLOAD_FILES" "$MTLS_PAYLOAD_HASH" "$MTLS_PAYLOAD_KIB"
