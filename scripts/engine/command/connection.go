package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Connection is how to reach the host, optionally through a bastion (proxy).
type Connection struct {
	sshEndpoint
	Proxy *ProxyConnection `pulumi:"proxy,optional"`
}

// ProxyConnection is the bastion host a Connection goes through.
type ProxyConnection struct {
	sshEndpoint
}

// sshEndpoint is one SSH hop. Numbers are as the SDK sends them (port a float).
type sshEndpoint struct {
	User               *string  `pulumi:"user,optional"`
	Password           *string  `pulumi:"password,optional" provider:"secret"`
	Host               *string  `pulumi:"host"`
	Port               *float64 `pulumi:"port,optional"`
	PrivateKey         *string  `pulumi:"privateKey,optional" provider:"secret"`
	PrivateKeyPassword *string  `pulumi:"privateKeyPassword,optional" provider:"secret"`
	AgentSocketPath    *string  `pulumi:"agentSocketPath,optional"`
	DialErrorLimit     *int     `pulumi:"dialErrorLimit,optional"`
	PerDialTimeout     *int     `pulumi:"perDialTimeout,optional"`
	HostKey            *string  `pulumi:"hostKey,optional"`
}

const defaultDialErrorLimit = 10

func (c *Connection) Annotate(a infer.Annotator) {
	a.SetToken("remote", "Connection")
	c.sshEndpoint.annotate(a)
}

func (c *ProxyConnection) Annotate(a infer.Annotator) {
	a.SetToken("remote", "ProxyConnection")
	c.sshEndpoint.annotate(a)
}

// annotate sets the defaults the SDK also applies (user root, port 22, 10 dial errors, 15 s).
func (e *sshEndpoint) annotate(a infer.Annotator) {
	a.SetDefault(&e.User, "root")
	a.SetDefault(&e.Port, 22)
	a.SetDefault(&e.DialErrorLimit, defaultDialErrorLimit)
	a.SetDefault(&e.PerDialTimeout, 15)
}

// dial connects to the host, through the proxy when one is given, retrying each hop up to
// its dialErrorLimit.
func (c *Connection) dial(ctx context.Context) (*ssh.Client, error) {
	config, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	address := c.address()
	if c.Proxy == nil {
		return retryDial(ctx, "Dial", c.dialErrorLimit(), func() (*ssh.Client, error) {
			return ssh.Dial("tcp", address, config)
		})
	}
	client, err := c.dialThroughProxy(ctx, address, config)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return client, nil
}

func (c *Connection) dialThroughProxy(ctx context.Context, address string, config *ssh.ClientConfig) (*ssh.Client, error) {
	proxyConfig, err := c.Proxy.clientConfig()
	if err != nil {
		return nil, err
	}
	bastion, err := retryDial(ctx, "Dial proxy", c.Proxy.dialErrorLimit(), func() (*ssh.Client, error) {
		return ssh.Dial("tcp", c.Proxy.address(), proxyConfig)
	})
	if err != nil {
		return nil, err
	}
	tunnel, err := retryDial(ctx, "Dial from proxy", c.dialErrorLimit(), func() (net.Conn, error) {
		return bastion.Dial("tcp", address)
	})
	if err != nil {
		return nil, err
	}
	type handshake struct {
		conn     ssh.Conn
		channels <-chan ssh.NewChannel
		requests <-chan *ssh.Request
	}
	h, err := retryDial(ctx, "Dial", c.dialErrorLimit(), func() (handshake, error) {
		conn, channels, requests, err := ssh.NewClientConn(tunnel, address, config)
		return handshake{conn, channels, requests}, err
	})
	if err != nil {
		return nil, err
	}
	return ssh.NewClient(h.conn, h.channels, h.requests), nil
}

func (e *sshEndpoint) address() string {
	return net.JoinHostPort(*e.Host, strconv.Itoa(int(*e.Port)))
}

func (e *sshEndpoint) dialErrorLimit() int {
	if e.DialErrorLimit == nil {
		return defaultDialErrorLimit
	}
	return *e.DialErrorLimit
}

// clientConfig builds the SSH client settings: the pinned host key when given (any key is
// accepted otherwise), then the private key, the password (also for keyboard-interactive)
// and the agent, in that order.
func (e *sshEndpoint) clientConfig() (*ssh.ClientConfig, error) {
	config := &ssh.ClientConfig{
		User:            *e.User,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // upstream semantics when no hostKey is given
		Timeout:         time.Duration(*e.PerDialTimeout) * time.Second,
	}
	if e.HostKey != nil {
		if err := pinHostKey(config, *e.HostKey); err != nil {
			return nil, err
		}
	}
	if e.PrivateKey != nil {
		signer, err := e.parsePrivateKey()
		if err != nil {
			return nil, err
		}
		config.Auth = append(config.Auth, ssh.PublicKeys(signer))
	}
	if e.Password != nil {
		config.Auth = append(config.Auth, ssh.Password(*e.Password), ssh.KeyboardInteractive(e.answerWithPassword))
	}
	if socket := e.agentSocket(); socket != "" {
		conn, err := net.Dial("unix", socket)
		if err != nil {
			return nil, err
		}
		config.Auth = append(config.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	return config, nil
}

// pinHostKey accepts only the given key (authorized_keys format), and asks the server for
// that key type.
func pinHostKey(config *ssh.ClientConfig, authorizedKey string) error {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		return fmt.Errorf("failed to parse host key: %w", err)
	}
	config.HostKeyCallback = ssh.FixedHostKey(key)
	config.HostKeyAlgorithms = []string{key.Type()}
	return nil
}

func (e *sshEndpoint) parsePrivateKey() (ssh.Signer, error) {
	if e.PrivateKeyPassword != nil {
		return ssh.ParsePrivateKeyWithPassphrase([]byte(*e.PrivateKey), []byte(*e.PrivateKeyPassword))
	}
	return ssh.ParsePrivateKey([]byte(*e.PrivateKey))
}

func (e *sshEndpoint) answerWithPassword(_, _ string, questions []string, _ []bool) ([]string, error) {
	answers := make([]string, len(questions))
	for i := range answers {
		answers[i] = *e.Password
	}
	return answers, nil
}

// agentSocket is agentSocketPath, else $SSH_AUTH_SOCK, else none.
func (e *sshEndpoint) agentSocket() string {
	if e.AgentSocketPath != nil {
		return *e.AgentSocketPath
	}
	return os.Getenv("SSH_AUTH_SOCK")
}

// retryDial calls dial until it succeeds or has failed limit+1 times (a negative limit means
// no limit), waiting 100 ms, then 1.5 times longer each time up to 5 s. Each failure but the
// last is reported as a status line; the last is returned.
func retryDial[T any](ctx context.Context, what string, limit int, dial func() (T, error)) (T, error) {
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		result, err := dial()
		if err == nil {
			return result, nil
		}
		if limit >= 0 && attempt > limit {
			var none T
			return none, fmt.Errorf("after %d failed attempts: %w", attempt-1, err)
		}
		p.GetLogger(ctx).InfoStatusf("%s %d/%s failed: retrying", what, attempt, limitText(limit))
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			var none T
			return none, ctx.Err()
		}
		delay = min(time.Duration(float64(delay)*1.5), 5*time.Second)
	}
}

func limitText(limit int) string {
	if limit < 0 {
		return "inf"
	}
	return strconv.Itoa(limit)
}
