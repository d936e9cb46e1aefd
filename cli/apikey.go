package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/pforte/pforte/store"
)

func cmdAPIKey(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: pforte apikey create --name NAME [--scopes read,send,gdpr,admin]")
		return errUsage
	}
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	name := fs.String("name", "", "what the key is for, e.g. \"shop\" (required)")
	scopes := fs.String("scopes", "read", "comma-separated: "+strings.Join(store.AllScopes().Strings(), ", "))
	if err := parseFlags(fs, args[1:], env); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		return errors.New("invalid --name (PFORTE_NAME): a name is required so the key can be recognised later")
	}
	sc, err := store.ParseScopes(*scopes)
	if err != nil {
		return settingError("scopes", *scopes, err.Error())
	}
	st, err := store.Open(ctx, *dataDir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	secret, k, err := st.CreateAPIKey(ctx, strings.TrimSpace(*name), sc)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	fmt.Fprintf(stderr, "API key %q (%s…) with scopes %s created. It is shown only now; store it safely.\n",
		k.Name, k.Prefix, k.Scopes)
	return nil
}
