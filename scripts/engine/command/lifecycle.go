package main

import (
	"crypto/rand"
	"encoding/hex"
)

// lifecycle holds the inputs both resources share: the three commands and the triggers.
// Only triggers replace the resource; any other change is an in-place update, which runs
// `update` (or `create` when there is no `update`).
type lifecycle struct {
	Triggers *[]any  `pulumi:"triggers,optional" provider:"replaceOnChanges"`
	Create   *string `pulumi:"create,optional"`
	Update   *string `pulumi:"update,optional"`
	Delete   *string `pulumi:"delete,optional"`
}

// updateCommand is what an in-place update runs: update, else create, else nothing.
func (l lifecycle) updateCommand() *string {
	if l.Update != nil {
		return l.Update
	}
	return l.Create
}

// The logging values (enums local.Logging and remote.Logging).
const (
	logStdout          = "stdout"
	logStderr          = "stderr"
	logStdoutAndStderr = "stdoutAndStderr"
)

// streams says which of stdout and stderr are forwarded to the engine.
type streams struct{ stdout, stderr bool }

// loggedStreams reads a logging input (which never changes what is captured): unset means
// stdoutAndStderr (the default); "none", or a value that is not one of the four (the check does
// not reject it), means neither.
func loggedStreams[T ~string](logging *T) streams {
	if logging == nil {
		return streams{stdout: true, stderr: true}
	}
	switch string(*logging) {
	case logStdout:
		return streams{stdout: true}
	case logStderr:
		return streams{stderr: true}
	case logStdoutAndStderr:
		return streams{stdout: true, stderr: true}
	}
	return streams{}
}

// previousOutputWanted reads addPreviousOutputInEnv, which defaults to true.
func previousOutputWanted(flag *bool) bool {
	return flag == nil || *flag
}

// newResourceID is the resource name and eight random hex digits; nothing depends on it
// but uniqueness.
func newResourceID(name string) (string, error) {
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return "", err
	}
	return name + hex.EncodeToString(suffix), nil
}
