package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSSOFlagsFromEnvironment: every --sso-* setting has its PFORTE_SSO_*
// variable, and the client secret comes from a file.
func TestSSOFlagsFromEnvironment(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"PFORTE_SSO_ISSUER": "https://login.example.de/realms/firma/", "PFORTE_SSO_CLIENT_ID": "pforte",
		"PFORTE_SSO_CLIENT_SECRET_FILE": secret, "PFORTE_SSO_ALLOWED_DOMAINS": "Example.de, example.com", "PFORTE_SSO_ROLE_CLAIM": "roles",
		"PFORTE_SSO_ROLE_MAP": "it=admin; support=agent", "PFORTE_SSO_JIT": "on", "PFORTE_SSO_PASSWORD_LOGIN": "off",
		"PFORTE_SSO_BREAK_GLASS_ADMIN": "Notfall@example.de", "PFORTE_DATA_DIR": t.TempDir()}
	env := envLookup(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	fs, cfg := serveFlags(env)
	if err := parseFlags(fs, nil, env); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	f := cfg.sso
	if f.Issuer != "https://login.example.de/realms/firma" || f.ClientID != "pforte" || f.ClientSecret != "s3cr3t" || f.RoleClaim != "roles" ||
		!slices.Equal(f.Domains, []string{"example.de", "example.com"}) || f.RoleMap != "it=admin\nsupport=agent" ||
		f.JIT == nil || !*f.JIT || f.PasswordLogin == nil || *f.PasswordLogin || f.BreakGlassEmail != "notfall@example.de" {
		t.Fatalf("fixed SSO settings: %+v", f)
	}
	// Nothing given: nothing fixed, the settings page decides.
	fs, cfg = serveFlags(func(string) (string, bool) { return "", false })
	if err := parseFlags(fs, []string{"--data-dir", t.TempDir()}, func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if f := cfg.sso; f.Issuer != "" || f.Domains != nil || f.JIT != nil || f.PasswordLogin != nil {
		t.Fatalf("no flags, yet fixed: %+v", f)
	}
}

// TestSSOFlagsRefused: a bad --sso-* setting stops serve with one line
// naming the flag and its variable, before anything listens.
func TestSSOFlagsRefused(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("s3cr3t"), 0o600)
	cases := []struct {
		flag string
		args []string
	}{
		{"sso-issuer", []string{"--sso-issuer", "http://login.example.de", "--sso-client-id", "x"}},
		{"sso-client-id", []string{"--sso-issuer", "https://login.example.de"}},
		{"sso-client-secret-file", []string{"--sso-client-secret-file", filepath.Join(t.TempDir(), "missing")}},
		{"sso-role-map", []string{"--sso-role-map", "support=agent"}},
		{"sso-role-map", []string{"--sso-role-map", "support=chef"}},
		{"sso-jit", []string{"--sso-jit", "vielleicht"}},
		{"sso-password-login", []string{"--sso-password-login", "off"}},
		{"sso-break-glass-admin", []string{"--sso-issuer", "https://login.example.de", "--sso-client-id", "x", "--sso-client-secret-file", secret,
			"--sso-password-login", "off", "--sso-break-glass-admin", "niemand@example.de", "--http-addr", "127.0.0.1:0", "--internal-addr", "127.0.0.1:0"}},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"serve", "--data-dir", t.TempDir()}, c.args...), nil, &out, &errb)
		cancel()
		line := strings.TrimSpace(errb.String())
		if code != 1 || !strings.Contains(line, "--"+c.flag) || !strings.Contains(line, envName(c.flag)) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 naming --%s and %s", c.args, code, line, c.flag, envName(c.flag))
		}
	}
}
