package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestFlagsWinOverEnvironment(t *testing.T) {
	env := envLookup(func(k string) (string, bool) {
		v, ok := map[string]string{"PFORTE_HTTP_ADDR": "127.0.0.1:9999", "PFORTE_VERIFY_TOKEN": "from-env", "STATE_DIRECTORY": "/var/lib/pforte"}[k]
		return v, ok
	})
	fs, cfg := serveFlags(env)
	if err := parseFlags(fs, []string{"--http-addr", "127.0.0.1:7000"}, env); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:7000" || cfg.VerifyToken != "from-env" || cfg.DataDir != "/var/lib/pforte" {
		t.Errorf("got http %q token %q dir %q", cfg.HTTPAddr, cfg.VerifyToken, cfg.DataDir)
	}
}

// TestInvalidSettingsStopStartup checks that each bad setting stops serve
// with one line that names the flag and its environment variable.
func TestInvalidSettingsStopStartup(t *testing.T) {
	cases := [][]string{
		{"--http-addr", "8080"},
		{"--internal-addr", "localhost"},
		{"--graph-url", "graph.facebook.com"},
		{"--graph-version", "24"},
		{"--max-body", "1000"},
		{"--log-level", "loud"},
		{"--log-format", "xml"},
	}
	for _, args := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"serve", "--data-dir", t.TempDir()}, args...), nil, &out, &errb)
		line := strings.TrimSpace(errb.String())
		name := strings.TrimPrefix(args[0], "--")
		if code != 1 || strings.Count(line, "\n") != 0 || !strings.Contains(line, args[0]) || !strings.Contains(line, envName(name)) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and one line naming %s and %s", args, code, line, args[0], envName(name))
		}
	}
	var errb bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--no-such-flag"}, nil, &bytes.Buffer{}, &errb); code != 1 || !strings.Contains(errb.String(), "no-such-flag") {
		t.Errorf("unknown flag: exit %d %q", code, errb.String())
	}
}

func TestVersionAndAPIKeyCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "sqlite  3.") {
		t.Errorf("version: %d %q", code, out.String())
	}
	dir := t.TempDir()
	out.Reset()
	if code := run(context.Background(), []string{"apikey", "create", "--data-dir", dir, "--name", "shop", "--scopes", "read,send"}, nil, &out, &errb); code != 0 {
		t.Fatalf("apikey create: %d %s", code, errb.String())
	}
	if key := strings.TrimSpace(out.String()); !strings.HasPrefix(key, "pfk_") || len(key) < 30 {
		t.Errorf("printed key %q", key)
	}
	errb.Reset()
	if code := run(context.Background(), []string{"apikey", "create", "--data-dir", dir, "--name", "x", "--scopes", "root"}, nil, &out, &errb); code != 1 || !strings.Contains(errb.String(), "--scopes") {
		t.Errorf("bad scope: %d %q", code, errb.String())
	}
}
