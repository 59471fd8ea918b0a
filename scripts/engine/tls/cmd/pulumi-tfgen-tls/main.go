// Command pulumi-tfgen-tls writes schema.json and bridge-metadata.json for the provider build.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"pulumi-mtls-nginx/engine/tls/info"
)

func main() { tfgen.Main("tls", info.Provider(nil)) }
