package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/store"
)

// ssoConfig is single sign-on from flags (or PFORTE_SSO_*). What is given
// wins over the panel's settings page, which then shows it read-only.
type ssoConfig struct {
	Issuer         string
	ClientID       string
	ClientSecretFn string
	Domains        string
	RoleClaim      string
	RoleMap        string
	JIT            string
	PasswordLogin  string
	BreakGlass     string
}

func (c *ssoConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Issuer, "sso-issuer", "", "OpenID Connect issuer URL of the company's sign-in provider (wins over Settings → Single Sign-on)")
	fs.StringVar(&c.ClientID, "sso-client-id", "", "client ID of Pforte's registration at the provider")
	fs.StringVar(&c.ClientSecretFn, "sso-client-secret-file", "", "file holding the client secret (the secret itself never goes on the command line)")
	fs.StringVar(&c.Domains, "sso-allowed-domains", "", "comma- or space-separated e-mail domains allowed to sign in (\"*\": all)")
	fs.StringVar(&c.RoleClaim, "sso-role-claim", "", "ID token claim with groups or roles (e.g. groups, roles)")
	fs.StringVar(&c.RoleMap, "sso-role-map", "", "group-to-role mapping, entries group=admin|agent|auditor separated by commas or semicolons")
	fs.StringVar(&c.JIT, "sso-jit", "", "on: create accounts at their first single sign-on login; off: only invited accounts")
	fs.StringVar(&c.PasswordLogin, "sso-password-login", "", "off: password and passkey login only for --sso-break-glass-admin; on: allowed for everyone")
	fs.StringVar(&c.BreakGlass, "sso-break-glass-admin", "", "e-mail of the admin who may still log in with a password when --sso-password-login=off")
}

func onOff(name, v string) (*bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return nil, nil
	case "on", "true", "1", "yes":
		t := true
		return &t, nil
	case "off", "false", "0", "no":
		f := false
		return &f, nil
	}
	return nil, settingError(name, v, `want "on" or "off"`)
}

// fixed checks the flags and reads the secret file. It does not ask the
// provider: an unreachable provider must not stop the gateway.
func (c *ssoConfig) fixed() (panel.SSOFixed, error) {
	var f panel.SSOFixed
	f.Issuer = strings.TrimRight(strings.TrimSpace(c.Issuer), "/")
	if f.Issuer != "" {
		u, err := url.Parse(f.Issuer)
		local := err == nil && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1")
		if err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && local) {
			return f, settingError("sso-issuer", c.Issuer, "want the https:// issuer URL, e.g. https://login.microsoftonline.com/<tenant-id>/v2.0")
		}
	}
	f.ClientID = strings.TrimSpace(c.ClientID)
	if c.ClientSecretFn != "" {
		b, err := os.ReadFile(c.ClientSecretFn)
		if err != nil {
			return f, settingError("sso-client-secret-file", c.ClientSecretFn, err.Error())
		}
		if f.ClientSecret = strings.TrimSpace(string(b)); f.ClientSecret == "" || len(f.ClientSecret) > 1000 {
			return f, settingError("sso-client-secret-file", c.ClientSecretFn, "the file must hold the client secret (at most 1000 characters)")
		}
	}
	if strings.TrimSpace(c.Domains) == "*" {
		f.Domains = []string{}
	} else if d := strings.Fields(strings.ToLower(strings.ReplaceAll(c.Domains, ",", " "))); len(d) > 0 {
		f.Domains = d
	}
	f.RoleClaim = strings.TrimSpace(c.RoleClaim)
	if c.RoleMap != "" {
		lines := strings.FieldsFunc(c.RoleMap, func(r rune) bool { return r == ',' || r == ';' || r == '\n' })
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		f.RoleMap = strings.Join(lines, "\n")
		if noAdmin, err := panel.CheckSSORoleMap(f.RoleMap); noAdmin {
			return f, settingError("sso-role-map", c.RoleMap, "no group gets the admin role, so every admin would lose it at the next login; add group=admin")
		} else if err != nil {
			return f, settingError("sso-role-map", c.RoleMap, "want entries group=admin, group=agent or group=auditor")
		}
	}
	var err error
	if f.JIT, err = onOff("sso-jit", c.JIT); err != nil {
		return f, err
	}
	if f.PasswordLogin, err = onOff("sso-password-login", c.PasswordLogin); err != nil {
		return f, err
	}
	f.BreakGlassEmail = strings.ToLower(strings.TrimSpace(c.BreakGlass))
	if f.PasswordLogin != nil && !*f.PasswordLogin {
		if f.BreakGlassEmail == "" {
			return f, settingError("sso-password-login", c.PasswordLogin, "switching password login off needs a break-glass admin: set --sso-break-glass-admin")
		}
	}
	if f.Issuer != "" && f.ClientID == "" {
		return f, settingError("sso-client-id", c.ClientID, "--sso-issuer is set, so the client ID is needed too")
	}
	return f, nil
}

// checkBreakGlass refuses a start that would switch password login off
// without a break-glass admin who can still log in with a password.
func checkBreakGlass(ctx context.Context, st *store.Store, f panel.SSOFixed) error {
	if f.PasswordLogin == nil || *f.PasswordLogin {
		return nil
	}
	u, err := st.UserByEmail(ctx, f.BreakGlassEmail)
	if errors.Is(err, store.ErrNotFound) {
		return settingError("sso-break-glass-admin", f.BreakGlassEmail, "no such panel user; create it first (pforte user add)")
	}
	if err != nil {
		return fmt.Errorf("--sso-break-glass-admin: %w", err)
	}
	if u.Role != store.RoleAdmin || u.Disabled || u.PasswordHash == "" {
		return settingError("sso-break-glass-admin", f.BreakGlassEmail, "must be an active admin with a password")
	}
	return nil
}
