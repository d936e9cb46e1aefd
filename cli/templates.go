package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/templates"
	"github.com/pforte/pforte/store"
)

// cmdTemplates is "pforte templates sync": list every configured
// account's templates from Meta into the data directory now, as the
// hourly job and the panel's button do.
func cmdTemplates(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "sync" {
		fmt.Fprint(stderr, "Usage: pforte templates sync [--data-dir D] [--access-token T]\n")
		return errUsage
	}
	fs := flag.NewFlagSet("templates sync", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	token := fs.String("access-token", "", "Meta access token (default: the one saved in the settings)")
	graphURL := fs.String("graph-url", "https://graph.facebook.com", "Graph API base URL")
	graphVersion := fs.String("graph-version", "v24.0", "Graph API version")
	if err := parseFlags(fs, args[1:], env); err != nil {
		return err
	}
	st, err := store.Open(ctx, *dataDir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	tokens := accessTokens(st, "")
	if *token != "" {
		tokens = cloudapi.StaticToken(*token)
	}
	client := cloudapi.NewClientWithTokens(*graphURL, *graphVersion, tokens)
	client.HTTP.Timeout = 60 * time.Second
	wabas, err := st.WABAs(ctx)
	if err != nil {
		return err
	}
	if len(wabas) == 0 {
		return errors.New("no WhatsApp Business Account is known yet: add a business number with its WABA id under Settings, or wait for the first webhook")
	}
	m := templates.New(st, client, templates.Options{Logger: newLogger(stderr, "warn", "text")})
	defer m.Close()
	var errs []error
	for _, w := range wabas {
		res, err := m.SyncAccount(ctx, w, store.ActorCLI)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: %d templates listed, %d new, %d marked deleted\n", w, res.Listed, res.Added, res.Deleted)
	}
	return errors.Join(errs...)
}
