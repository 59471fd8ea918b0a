package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	p "github.com/pulumi/pulumi-go-provider"
)

// capture collects what a command prints three ways: stdout and stderr apart (the resource's
// outputs), both interleaved in arrival order (for the error of a failed run), and line by line
// to the engine's status log for the streams that logging asks for.
type capture struct {
	stdout, stderr bytes.Buffer
	combined       lockedBuffer
	status         *statusLines
	logged         streams
}

// newCapture forwards to the engine the streams that logging asks for.
func newCapture(ctx context.Context, logged streams) *capture {
	return &capture{status: &statusLines{ctx: ctx}, logged: logged}
}

func (c *capture) stdoutWriter() io.Writer { return c.streamWriter(&c.stdout, c.logged.stdout) }
func (c *capture) stderrWriter() io.Writer { return c.streamWriter(&c.stderr, c.logged.stderr) }

func (c *capture) streamWriter(own *bytes.Buffer, logged bool) io.Writer {
	writers := []io.Writer{own, &c.combined}
	if logged {
		writers = append(writers, c.status)
	}
	return io.MultiWriter(writers...)
}

// finish logs a last line that had no newline; call it once the command has ended.
func (c *capture) finish() { c.status.flush() }

// failure is the error of a failed run: the cause, the command, then everything it printed.
// The command and its output are part of the message on purpose (that is what the provider
// this stands in for reports), so commands must keep secrets on stdin, never in their text.
func (c *capture) failure(cause error, command string) error {
	return fmt.Errorf("%w: running %q:\n%s", cause, command, c.combined.String())
}

// outputs are stdout and stderr with one trailing newline removed.
func (c *capture) outputs() (stdout, stderr string) {
	return strings.TrimSuffix(c.stdout.String(), "\n"), strings.TrimSuffix(c.stderr.String(), "\n")
}

// lockedBuffer is written from the stdout and stderr copiers at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(data []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(data)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// statusLines sends each complete line written to it to the engine as an info status message
// (shown while the step runs, not kept as a diagnostic). Both streams share one instance, so a
// partial line of one may be joined by the other, as with a shared pipe.
type statusLines struct {
	ctx     context.Context
	mu      sync.Mutex
	pending []byte
}

func (s *statusLines) Write(data []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, data...)
	for {
		end := bytes.IndexByte(s.pending, '\n')
		if end < 0 {
			return len(data), nil
		}
		s.send(s.pending[:end])
		s.pending = s.pending[end+1:]
	}
}

func (s *statusLines) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) > 0 {
		s.send(s.pending)
		s.pending = nil
	}
}

func (s *statusLines) send(line []byte) {
	p.GetLogger(s.ctx).InfoStatus(string(bytes.TrimSuffix(line, []byte("\r"))))
}
