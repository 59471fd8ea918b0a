// Package shim exposes terraform-provider-tls's plugin-framework provider, which lives in an internal
// package: only a module under the provider's own path may import it.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	upstream "github.com/hashicorp/terraform-provider-tls/internal/provider"
)

// NewProvider returns the upstream provider, unchanged.
func NewProvider() provider.Provider { return upstream.New() }
