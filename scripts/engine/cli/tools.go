//go:build tools

// Package tools pins the Pulumi CLI's main package (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi), which
// install.sh builds from this module: pkg/v3's go.mod has replace directives, so `go install pkg@version`
// refuses it, while a wrapper module that requires it builds it.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
