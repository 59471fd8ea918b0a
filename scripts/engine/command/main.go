// Command is the mtls-nginx test stand-in for the pulumi-command resource provider: a plugin
// named "command" serving command:local:Command and command:remote:Command for CI, where the
// upstream provider's Go module cannot be fetched. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
)

// version is what the plugin reports to the engine; set with -ldflags "-X main.version=1.2.1".
var version = "1.2.1"

func main() {
	if err := newProvider().Run(context.Background(), "command", strings.TrimPrefix(version, "v")); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %s", err.Error())
		os.Exit(1)
	}
}

// newProvider declares the two resources; diffs, defaults, secrets and preview unknowns come
// from infer, driven by the field tags, exactly as for the provider this stands in for.
func newProvider() p.Provider {
	return infer.Provider(infer.Options{
		Resources: []infer.InferredResource{
			infer.Resource(&LocalCommand{}),
			infer.Resource(&RemoteCommand{}),
		},
	})
}
