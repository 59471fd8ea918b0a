package main

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Names of the variables that carry the previous create/update output into the next run.
const (
	previousStdoutVar = "PULUMI_COMMAND_STDOUT"
	previousStderrVar = "PULUMI_COMMAND_STDERR"
)

// runLocal runs command through the interpreter and returns what it printed; on failure it
// returns previous unchanged and an error naming the command and its output.
func runLocal(ctx context.Context, command string, in localProcess, previous printed) (printed, error) {
	argv := append(interpreter(in.Interpreter), command)
	process := exec.CommandContext(ctx, argv[0], argv[1:]...) //nolint:gosec // running commands is the point
	dir, err := workingDir(in.Dir)
	if err != nil {
		return previous, err
	}
	process.Dir = dir
	process.Env = localEnvironment(in, previous)
	if in.Stdin != nil && *in.Stdin != "" {
		process.Stdin = strings.NewReader(*in.Stdin)
	}

	out := newCapture(ctx, loggedStreams(in.Logging))
	process.Stdout = out.stdoutWriter()
	process.Stderr = out.stderrWriter()
	err = process.Run()
	out.finish()
	if err != nil {
		return previous, out.failure(err, command)
	}
	stdout, stderr := out.outputs()
	return printed{Stdout: stdout, Stderr: stderr}, nil
}

// interpreter is the given program and arguments, or the platform shell.
func interpreter(given *[]string) []string {
	if given != nil && len(*given) > 0 {
		return append([]string(nil), (*given)...)
	}
	if runtime.GOOS == "windows" {
		return []string{"cmd", "/C"}
	}
	return []string{"/bin/sh", "-c"}
}

// workingDir is dir, or the provider's own working directory (the program's directory).
func workingDir(dir *string) (string, error) {
	if dir != nil {
		return *dir, nil
	}
	return os.Getwd()
}

// localEnvironment is the provider's environment, then the given variables, then the previous
// output; later entries win, so the previous output overrides a same-named given variable.
func localEnvironment(in localProcess, previous printed) []string {
	env := os.Environ()
	if in.Environment != nil {
		for name, value := range *in.Environment {
			env = append(env, name+"="+value)
		}
	}
	if previousOutputWanted(in.AddPreviousOutputInEnv) {
		env = appendIfSet(env, previousStdoutVar, previous.Stdout)
		env = appendIfSet(env, previousStderrVar, previous.Stderr)
	}
	return env
}

func appendIfSet(env []string, name, value string) []string {
	if value == "" {
		return env
	}
	return append(env, name+"="+value)
}
