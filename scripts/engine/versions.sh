# shellcheck shell=sh
# Versions of the engine parts install.sh builds. The plugin versions come from package-lock.json.
# The CLI: github.com/pulumi/pulumi/pkg/v3 (cli/go.mod pins the same version).
PULUMI_CLI_VERSION=3.248.0
# The Node.js language host: the only commit of its module the Go proxy serves is the v3.137.0 release
# (langhost/go.mod).
LANGHOST_VERSION=3.137.0
# The oldest Go that builds every module here.
GO_MIN=1.25.11
export PULUMI_CLI_VERSION LANGHOST_VERSION GO_MIN
