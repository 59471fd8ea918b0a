// Package local holds the logging enum of command:local:Command. It is a package of its own
// because infer names an enum after its Go package: this one is command:local:Logging.
package local

import "github.com/pulumi/pulumi-go-provider/infer"

// Logging says which of the command's streams are forwarded to the engine as status lines.
type Logging string

func (Logging) Values() []infer.EnumValue[Logging] {
	return []infer.EnumValue[Logging]{
		{Name: "stdout", Value: "stdout", Description: "Log stdout only"},
		{Name: "stderr", Value: "stderr", Description: "Log stderr only"},
		{Name: "stdoutAndStderr", Value: "stdoutAndStderr", Description: "Log stdout and stderr"},
		{Name: "none", Value: "none", Description: "Log nothing"},
	}
}
