package cli

import (
	"context"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// accessTokens is the Meta access token as the settings hold it: the
// sealed value saved in the panel (seeded from --access-token on first
// start). It is read on every call to Meta, so that a token changed in the
// panel is used at once by sends, media downloads, the proxy and erasures;
// no copy taken at startup can go stale. fallback is used only while none
// is stored (the demo, whose generated token is not kept).
func accessTokens(st *store.Store, fallback string) cloudapi.TokenSource {
	return func(ctx context.Context) (string, error) {
		tok, ok, err := st.Secret(ctx, store.SettingAccessToken)
		if err != nil {
			return "", err
		}
		if !ok {
			return fallback, nil
		}
		return string(tok), nil
	}
}
