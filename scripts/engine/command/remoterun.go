package main

import (
	"context"
	"fmt"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"golang.org/x/crypto/ssh"
)

// runRemote runs command in a new SSH session and returns what it printed; on failure it
// returns previous unchanged and an error naming the command and its output.
func runRemote(ctx context.Context, command string, in RemoteCommandInputs, previous printed) (printed, error) {
	client, err := in.Connection.dial(ctx)
	if err != nil {
		return previous, err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return previous, err
	}
	defer session.Close()

	if err := setRemoteEnvironment(ctx, session, in, previous); err != nil {
		return previous, err
	}
	if in.Stdin != nil && *in.Stdin != "" {
		session.Stdin = strings.NewReader(*in.Stdin)
	}
	out := newCapture(ctx, loggedStreams(in.Logging))
	session.Stdout = out.stdoutWriter()
	session.Stderr = out.stderrWriter()
	err = session.Run(command)
	out.finish()
	if err != nil {
		return previous, out.failure(err, command)
	}
	stdout, stderr := out.outputs()
	return printed{Stdout: stdout, Stderr: stderr}, nil
}

// setRemoteEnvironment asks the server to set the given variables (a refusal fails the run:
// the command would run without them) and the previous output (a refusal only warns, since
// most servers accept no variables by default).
func setRemoteEnvironment(ctx context.Context, session *ssh.Session, in RemoteCommandInputs, previous printed) error {
	for name, value := range in.Environment {
		if err := session.Setenv(name, value); err != nil {
			p.GetLogger(ctx).Error(setenvRefusedAdvice(name))
			return fmt.Errorf("could not set environment variable %q: %w", name, err)
		}
	}
	if !previousOutputWanted(in.AddPreviousOutputInEnv) {
		return nil
	}
	for _, v := range []struct{ name, value string }{
		{previousStdoutVar, previous.Stdout},
		{previousStderrVar, previous.Stderr},
	} {
		if v.value == "" {
			continue
		}
		if err := session.Setenv(v.name, v.value); err != nil {
			p.GetLogger(ctx).Warning(setenvRefusedAdvice(v.name))
		}
	}
	return nil
}

func setenvRefusedAdvice(name string) string {
	return fmt.Sprintf("Unable to set '%s': the SSH server accepts only the variables its AcceptEnv "+
		"setting lists. Configure AcceptEnv, or prefix the command with 'VAR=value'.", name)
}
