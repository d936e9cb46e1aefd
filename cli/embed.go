package cli

import (
	// The container image is "scratch": no CA bundle, no zoneinfo. These
	// embed both; the CA roots are used only when the system has none.
	_ "time/tzdata"

	_ "golang.org/x/crypto/x509roots/fallback"
)
