// Package sso is the panel's OpenID Connect client: discovery, the
// authorization code flow with PKCE, nonce and ID token checks (through
// github.com/coreos/go-oidc and golang.org/x/oauth2), re-checks with the
// refresh token, RP-initiated logout, and the mapping from a provider's
// group claim to Pforte's roles. It knows nothing of Pforte's store: the
// panel decides what a verified login means for an account.
package sso

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Roles a mapping can hand out, highest privilege first. They are the
// panel's role names (store.Role values).
var Roles = []string{"admin", "agent", "auditor"}

// Config is one provider as the admin configured it.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURL  string // https://pforte.example.de/login/sso/callback
	// RoleClaim names the ID token claim with groups or app roles
	// ("groups" for Entra ID and Keycloak, "roles" for Entra app roles).
	RoleClaim string
	// RoleMap maps a group or role value to a Pforte role.
	RoleMap []Mapping
}

// Mapping is one line of the group mapping: members of Group get Role.
type Mapping struct {
	Group string
	Role  string
}

// Why a sign-in failed. The panel turns each into a German message and
// an audit reason (Reason).
var (
	ErrUnreachable   = errors.New("sso: provider unreachable")
	ErrWrongIssuer   = errors.New("sso: provider reports another issuer")
	ErrWrongAudience = errors.New("sso: token issued for another client")
	ErrBadToken      = errors.New("sso: id token invalid")
	ErrNonce         = errors.New("sso: nonce does not match")
	ErrRevoked       = errors.New("sso: provider refused the refresh token")
	ErrDenied        = errors.New("sso: provider refused the login")
)

// Reason is the audit key of an error from this package.
func Reason(err error) string {
	for _, c := range []struct {
		err    error
		reason string
	}{
		{ErrUnreachable, "provider_unreachable"}, {ErrWrongIssuer, "wrong_issuer"}, {ErrWrongAudience, "wrong_audience"},
		{ErrBadToken, "bad_token"}, {ErrNonce, "bad_nonce"}, {ErrRevoked, "refresh_refused"}, {ErrDenied, "provider_denied"},
	} {
		if errors.Is(err, c.err) {
			return c.reason
		}
	}
	return "error"
}

// Client talks to one discovered provider.
type Client struct {
	cfg        Config
	provider   *oidc.Provider
	hc         *http.Client
	verifier   *oidc.IDTokenVerifier
	oauth      oauth2.Config
	endSession string
	google     bool
}

// Discover reads the provider's discovery document and keys. hc carries
// every request to the provider (nil: a client with a 10 s timeout).
func Discover(ctx context.Context, cfg Config, hc *http.Client) (*Client, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	ctx = oidc.ClientContext(ctx, hc)
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		if strings.Contains(err.Error(), "did not match the issuer") {
			return nil, fmt.Errorf("%w: %v", ErrWrongIssuer, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&extra) // optional: a provider without it gets a local logout only
	c := &Client{cfg: cfg, provider: p, hc: hc, endSession: extra.EndSession, google: cfg.Issuer == "https://accounts.google.com"}
	c.verifier = p.VerifierContext(oidc.ClientContext(context.Background(), hc), &oidc.Config{ClientID: cfg.ClientID})
	scopes := []string{oidc.ScopeOpenID, "email", "profile"}
	if !c.google { // Google refuses offline_access; it wants access_type=offline
		scopes = append(scopes, oidc.ScopeOfflineAccess)
	}
	c.oauth = oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: p.Endpoint(), RedirectURL: cfg.RedirectURL, Scopes: scopes}
	return c, nil
}

// Config is the configuration the client was discovered with.
func (c *Client) Config() Config { return c.cfg }

// HasEndSession reports whether the provider offers RP-initiated logout.
func (c *Client) HasEndSession() bool { return c.endSession != "" }

// Flow is one login's single-use secrets: state (binds the answer to
// the browser), nonce (binds the ID token to the request) and the PKCE
// verifier.
type Flow struct {
	State    string
	Nonce    string
	Verifier string
}

// NewFlow makes fresh random secrets.
func NewFlow() Flow {
	return Flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier()}
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// AuthURL is where the browser goes to sign in.
func (c *Client) AuthURL(f Flow) string {
	opts := []oauth2.AuthCodeOption{oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)}
	if c.google {
		opts = append(opts, oauth2.AccessTypeOffline)
	}
	return c.oauth.AuthCodeURL(f.State, opts...)
}

// Claims is what Pforte reads from a verified ID token.
type Claims struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
}

// Result is a verified sign-in.
type Result struct {
	Claims       Claims
	RefreshToken string
	IDToken      string // raw, for RP-initiated logout
}

// Exchange trades the code for tokens and verifies the ID token
// (signature, issuer, audience, expiry, nonce).
func (c *Client) Exchange(ctx context.Context, code string, f Flow) (*Result, error) {
	ctx = oidc.ClientContext(ctx, c.hc)
	tok, err := c.oauth.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, classify(err)
	}
	res, err := c.verify(ctx, tok)
	if err != nil {
		return nil, err
	}
	if res.nonce != f.Nonce {
		return nil, ErrNonce
	}
	return &res.Result, nil
}

type verified struct {
	Result
	nonce string
}

func (c *Client) verify(ctx context.Context, tok *oauth2.Token) (*verified, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: no id_token in the answer", ErrBadToken)
	}
	idt, err := c.verifier.Verify(ctx, raw)
	if err != nil {
		if strings.Contains(err.Error(), "expected audience") {
			return nil, fmt.Errorf("%w: %v", ErrWrongAudience, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	// Providers that follow OIDC Core 5.4 strictly put e-mail, name and
	// often groups into the userinfo answer rather than the ID token when
	// an access token is issued; what the ID token lacks is taken from
	// there, for the same subject only.
	if _, ok := all["email"]; !ok && tok.AccessToken != "" && c.provider.UserInfoEndpoint() != "" {
		if ui, err := c.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil && ui.Subject == idt.Subject {
			var more map[string]any
			if ui.Claims(&more) == nil {
				for k, v := range more {
					if _, ok := all[k]; !ok {
						all[k] = v
					}
				}
			}
		}
	}
	cl := Claims{Subject: idt.Subject, Email: str(all["email"]), Name: str(all["name"]), Groups: strs(all[c.cfg.RoleClaim])}
	// email_verified is the standard claim; Entra ID sends xms_edov
	// (the e-mail's domain is verified by the tenant) instead.
	cl.EmailVerified = truth(all["email_verified"]) || truth(all["xms_edov"])
	if cl.Email == "" {
		cl.Email = str(all["preferred_username"])
		cl.EmailVerified = cl.EmailVerified && strings.Contains(cl.Email, "@")
	}
	v := &verified{Result: Result{Claims: cl, RefreshToken: tok.RefreshToken, IDToken: raw}, nonce: idt.Nonce}
	return v, nil
}

// Refresh re-checks an account at the provider with the session's
// refresh token. A provider that refuses (account disabled or deleted,
// token revoked) gives ErrRevoked. The answer carries the rotated refresh
// token and, where the provider sends one, fresh claims.
func (c *Client) Refresh(ctx context.Context, refreshToken, subject string) (*Result, error) {
	if refreshToken == "" {
		return nil, fmt.Errorf("%w: no refresh token was issued", ErrRevoked)
	}
	ctx = oidc.ClientContext(ctx, c.hc)
	tok, err := c.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		return nil, classify(err)
	}
	res := &Result{RefreshToken: tok.RefreshToken, Claims: Claims{Subject: subject}}
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		v, err := c.verify(ctx, tok)
		if err != nil {
			return nil, err
		}
		if v.Claims.Subject != subject {
			return nil, fmt.Errorf("%w: subject changed on refresh", ErrBadToken)
		}
		res = &v.Result
		if res.RefreshToken == "" {
			res.RefreshToken = tok.RefreshToken
		}
	}
	return res, nil
}

// classify tells a provider's "no" from a provider that did not answer.
func classify(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil && re.Response.StatusCode >= 500 {
			return fmt.Errorf("%w: %v", ErrUnreachable, err)
		}
		return fmt.Errorf("%w: %v", ErrRevoked, err)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	return fmt.Errorf("%w: %v", ErrBadToken, err)
}

// EndSessionURL is the provider's logout with the ID token as hint and
// the page to come back to; "" when the provider offers none.
func (c *Client) EndSessionURL(idToken, postLogout string) string {
	if c.endSession == "" {
		return ""
	}
	u, err := url.Parse(c.endSession)
	if err != nil {
		return ""
	}
	q := u.Query()
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	q.Set("client_id", c.cfg.ClientID)
	q.Set("post_logout_redirect_uri", postLogout)
	u.RawQuery = q.Encode()
	return u.String()
}

// ParseRoleMap reads lines "group=role" (blank lines and lines starting
// with # are skipped). A mapping must give admin to some group: a
// provider-driven role sync without one would demote every admin.
func ParseRoleMap(text string) ([]Mapping, error) {
	var out []Mapping
	admin := false
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		group, role, ok := strings.Cut(line, "=")
		group, role = strings.TrimSpace(group), strings.ToLower(strings.TrimSpace(role))
		if !ok || group == "" || !slices.Contains(Roles, role) {
			return nil, fmt.Errorf("%w: line %d: %q", ErrMapping, i+1, line)
		}
		admin = admin || role == Roles[0] // Roles is ordered by privilege
		out = append(out, Mapping{Group: group, Role: role})
	}
	if len(out) > 0 && !admin {
		return nil, ErrNoAdmin
	}
	return out, nil
}

// Mapping errors.
var (
	ErrMapping = errors.New("sso: mapping line is not group=admin|agent|auditor")
	ErrNoAdmin = errors.New("sso: the mapping gives no group the admin role")
)

// MapRole is the highest role any of groups maps to; ok is false when
// none does.
func MapRole(groups []string, m []Mapping) (role string, ok bool) {
	best := len(Roles)
	for _, line := range m {
		if !slices.Contains(groups, line.Group) {
			continue
		}
		if i := slices.Index(Roles, line.Role); i >= 0 && i < best {
			best = i
		}
	}
	if best == len(Roles) {
		return "", false
	}
	return Roles[best], true
}

// DomainAllowed reports whether email's domain is one of domains (any
// domain when the list is empty).
func DomainAllowed(email string, domains []string) bool {
	if len(domains) == 0 {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	d := strings.ToLower(email[at+1:])
	return slices.ContainsFunc(domains, func(x string) bool { return strings.EqualFold(strings.TrimPrefix(x, "@"), d) })
}

func str(v any) string { s, _ := v.(string); return s }

func truth(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x == "true"
	}
	return false
}

// strs reads a claim that is a list of strings or one string.
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
