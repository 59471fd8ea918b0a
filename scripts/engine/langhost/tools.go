//go:build tools

// Package tools pins Pulumi's Node.js language host (pulumi-language-nodejs), which install.sh builds from
// this module. The Go module proxy serves it at one commit only, the v3.137.0 release
// (v3.0.0-20241017230213-fd07f42c6116), so it is built with pkg/v3 and sdk/v3 v3.137.0, the versions of that
// commit; it speaks the same language-host protocol to the v3.248 CLI.
package tools

import _ "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3"
