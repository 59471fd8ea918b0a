// Package info maps terraform-provider-tls onto Pulumi's "tls" package: every tls_* resource and data
// source becomes tls:index/<camelName>:<PascalName>, the tokens @pulumi/tls uses.
package info

import (
	_ "embed"

	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"

	"github.com/hashicorp/terraform-provider-tls/shim"
)

// Version is set with -ldflags to the version @pulumi/tls asks for.
var Version = "0.0.0-dev"

// Provider is the bridge's description of the provider; metadata is bridge-metadata.json (empty for tfgen).
func Provider(metadata []byte) tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:                              pf.ShimProvider(shim.NewProvider()),
		Name:                           "tls",
		Version:                        Version,
		License:                        "Apache-2.0",
		GitHubOrg:                      "hashicorp",
		MetadataInfo:                   tfbridge.NewProviderMetadata(metadata),
		EnableZeroDefaultSchemaVersion: true,
		EnableAccurateBridgePreview:    true,
	}
	info.MustComputeTokens(tokens.SingleModule("tls_", "index", tokens.MakeStandard("tls")))
	return info
}
