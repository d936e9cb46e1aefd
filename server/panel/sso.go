package panel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pforte/pforte/server/panel/sso"
	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// Single sign-on with OpenID Connect. The provider's answer is checked by
// package sso; here it becomes an account decision: match by (issuer,
// sub), link by e-mail only once and only if the provider verified it,
// create just in time if the admin allows it, take the role from the
// group mapping, and start a session that is re-checked at the provider.

// ssoFlowTTL is how long a started login may take at the provider.
const ssoFlowTTL = 10 * time.Minute

// defaultRecheck is how often a provider session is re-checked.
const defaultRecheck = 10 * time.Minute

// ssoCallbackPath is the redirect URI to register at the provider.
const ssoCallbackPath = "/login/sso/callback"

// ssoState holds the logins under way and the discovered provider.
type ssoState struct {
	mu     sync.Mutex
	flows  map[string]pendingFlow // by state
	client *sso.Client
	key    string // configuration the client was discovered with
	at     time.Time
}

type pendingFlow struct {
	flow    sso.Flow
	expires time.Time
}

// ssoSettings is the admin's configuration, read from the settings.
type ssoSettings struct {
	cfg         sso.Config
	domains     []string
	jit         bool
	defaultRole store.Role
	recheck     time.Duration
	passwordOff bool
	breakGlass  int64
	label       string
	roleMapText string
}

// SSOFixed is single sign-on configuration from the start parameters.
// Nil or empty fields are not given and come from the settings page.
type SSOFixed struct {
	Issuer       string
	ClientID     string
	ClientSecret string // read from --sso-client-secret-file, never a flag value
	Domains      []string
	RoleClaim    string
	RoleMap      string // lines "group=role", as on the page
	JIT          *bool
	// PasswordLogin false switches password (and passkey) login off for
	// everyone but BreakGlassEmail, the break-glass admin.
	PasswordLogin   *bool
	BreakGlassEmail string
}

// fixed names the page's fields the start parameters set.
func (f *SSOFixed) fixed() map[string]bool {
	m := map[string]bool{}
	for k, on := range map[string]bool{"issuer": f.Issuer != "", "client_id": f.ClientID != "", "client_secret": f.ClientSecret != "",
		"domains": f.Domains != nil, "role_claim": f.RoleClaim != "", "role_map": f.RoleMap != "", "jit": f.JIT != nil, "password_login": f.PasswordLogin != nil} {
		if on {
			m[k] = true
		}
	}
	return m
}

// configured reports whether single sign-on is set up.
func (c *ssoSettings) configured() bool { return c.cfg.Issuer != "" && c.cfg.ClientID != "" }

func (s *Server) ssoSettings(ctx context.Context, r *http.Request) (*ssoSettings, error) {
	get := func(k string) (string, error) {
		v, _, err := s.store.Setting(ctx, k)
		return v, err
	}
	var set ssoSettings
	var err error
	var issuer, clientID, domains, jit, defRole, claim, roleMap, recheck, pwOff, breakGlass, label string
	for k, p := range map[string]*string{store.SettingSSOIssuer: &issuer, store.SettingSSOClientID: &clientID, store.SettingSSODomains: &domains,
		store.SettingSSOJIT: &jit, store.SettingSSODefaultRole: &defRole, store.SettingSSORoleClaim: &claim, store.SettingSSORoleMap: &roleMap,
		store.SettingSSORecheck: &recheck, store.SettingSSOPasswordOff: &pwOff, store.SettingSSOBreakGlass: &breakGlass, store.SettingSSOButtonLabel: &label} {
		if *p, err = get(k); err != nil {
			return nil, err
		}
	}
	secret, _, err := s.store.Secret(ctx, store.SettingSSOClientSecret)
	if err != nil {
		return nil, err
	}
	// The start parameters win over the page, field by field.
	fx := &s.cfg.SSO
	bool01 := map[bool]string{false: "0", true: "1"}
	for _, o := range []struct {
		v   string
		dst *string
	}{{fx.Issuer, &issuer}, {fx.ClientID, &clientID}, {fx.RoleClaim, &claim}, {fx.RoleMap, &roleMap}} {
		if o.v != "" {
			*o.dst = o.v
		}
	}
	if fx.ClientSecret != "" {
		secret = []byte(fx.ClientSecret)
	}
	if fx.Domains != nil {
		domains = strings.Join(fx.Domains, " ")
	}
	if fx.JIT != nil {
		jit = bool01[*fx.JIT]
	}
	if fx.PasswordLogin != nil {
		pwOff, breakGlass = bool01[!*fx.PasswordLogin], "0"
		if bg, err := s.store.UserByEmail(ctx, fx.BreakGlassEmail); err == nil {
			breakGlass = strconv.FormatInt(bg.ID, 10)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	set.cfg = sso.Config{Issuer: issuer, ClientID: clientID, ClientSecret: string(secret), RoleClaim: claim,
		RedirectURL: s.publicURL(r) + ssoCallbackPath}
	if set.cfg.RoleClaim == "" {
		set.cfg.RoleClaim = "groups"
	}
	set.roleMapText = roleMap
	set.cfg.RoleMap, _ = sso.ParseRoleMap(roleMap) // validated when saved
	set.domains = strings.Fields(domains)
	set.jit = jit == "1"
	set.defaultRole = store.Role(defRole)
	set.recheck = defaultRecheck
	if m, err := strconv.Atoi(recheck); err == nil && m > 0 {
		set.recheck = time.Duration(m) * time.Minute
	}
	set.passwordOff = pwOff == "1" && set.configured()
	set.breakGlass, _ = strconv.ParseInt(breakGlass, 10, 64)
	set.label = label
	return &set, nil
}

// ssoClient returns the discovered provider, discovering again when the
// configuration changed or the last discovery is an hour old (keys rotate).
func (s *Server) ssoClient(ctx context.Context, set *ssoSettings) (*sso.Client, error) {
	key := set.cfg.Issuer + "\x00" + set.cfg.ClientID + "\x00" + set.cfg.ClientSecret + "\x00" + set.cfg.RedirectURL + "\x00" + set.cfg.RoleClaim
	st := &s.panel.sso
	st.mu.Lock()
	if st.client != nil && st.key == key && s.now().Sub(st.at) < time.Hour {
		c := st.client
		st.mu.Unlock()
		return c, nil
	}
	st.mu.Unlock()
	c, err := sso.Discover(ctx, set.cfg, s.cfg.SSOHTTPClient)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	st.client, st.key, st.at = c, key, s.now()
	st.mu.Unlock()
	return c, nil
}

// ssoErrorText is the German message for a failed step.
func ssoErrorText(err error, passwordAllowed bool) string {
	switch {
	case errors.Is(err, sso.ErrUnreachable):
		if passwordAllowed {
			return "Der Anmeldedienst Ihrer Firma ist gerade nicht erreichbar. Bitte melden Sie sich mit Passwort an oder versuchen Sie es gleich noch einmal."
		}
		return "Der Anmeldedienst Ihrer Firma ist gerade nicht erreichbar. Bitte versuchen Sie es in einigen Minuten noch einmal; besteht das Problem weiter, wenden Sie sich an Ihre Administration."
	case errors.Is(err, sso.ErrWrongIssuer):
		return "Der Anmeldedienst meldet sich mit einer anderen Adresse (Issuer), als in Pforte eingerichtet ist. Bitte wenden Sie sich an Ihre Administration."
	case errors.Is(err, sso.ErrWrongAudience):
		return "Der Anmeldedienst hat die Anmeldung für eine andere Anwendung ausgestellt. Die Anmeldung wurde abgelehnt."
	case errors.Is(err, sso.ErrDenied):
		return "Der Anmeldedienst hat die Anmeldung abgelehnt."
	}
	return "Die Antwort des Anmeldedienstes war ungültig. Die Anmeldung wurde abgelehnt."
}

const ssoCookie = "pforte_sso"

// ssoStart sends the browser to the provider with fresh state, nonce and
// PKCE verifier; the state is also kept in a cookie so the answer must
// come back to the browser that started it.
func (s *Server) ssoStart(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	set, err := s.ssoSettings(ctx, r)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	if !set.configured() {
		s.failPage(w, r, http.StatusNotFound, "Single Sign-on ist nicht eingerichtet.")
		return
	}
	c, err := s.ssoClient(ctx, set)
	if err != nil {
		s.ssoRefuse(w, r, set, http.StatusBadGateway, sso.Reason(err), ssoErrorText(err, !set.passwordOff), map[string]any{"error": err.Error()})
		return
	}
	f := sso.NewFlow()
	now := s.now()
	st := &s.panel.sso
	st.mu.Lock()
	for k, p := range st.flows {
		if now.After(p.expires) {
			delete(st.flows, k)
		}
	}
	if len(st.flows) >= 10000 { // a flood of started logins must not grow memory
		st.mu.Unlock()
		s.failPage(w, r, http.StatusTooManyRequests, throttledErr)
		return
	}
	st.flows[f.State] = pendingFlow{flow: f, expires: now.Add(ssoFlowTTL)}
	st.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: f.State, Path: "/login/sso", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(ssoFlowTTL.Seconds())})
	http.Redirect(w, r, c.AuthURL(f), http.StatusFound)
}

// takeFlow returns and forgets a started login: a state works once.
func (s *Server) takeFlow(state string) (sso.Flow, bool) {
	st := &s.panel.sso
	st.mu.Lock()
	defer st.mu.Unlock()
	p, ok := st.flows[state]
	delete(st.flows, state)
	if !ok || s.now().After(p.expires) {
		return sso.Flow{}, false
	}
	return p.flow, true
}

// ssoRefuse audits a refused sign-in and shows the login page with msg.
func (s *Server) ssoRefuse(w http.ResponseWriter, r *http.Request, set *ssoSettings, status int, reason, msg string, detail map[string]any) {
	if detail == nil {
		detail = map[string]any{}
	}
	detail["reason"] = reason
	b, _ := json.Marshal(detail)
	s.audit(r, store.AuditEntry{Actor: store.ActorAnonymous, Action: store.AuditSSORefused, Target: "sso", Detail: string(b)})
	f := web.AuthForm{Error: web.T(r.Context(), msg)}
	s.loginAlternatives(r, &f, set)
	s.bare(w, r, status, web.T(r.Context(), "Anmelden"), web.LoginForm(f))
}

// loginAlternatives fills in what the login page offers besides the password.
func (s *Server) loginAlternatives(r *http.Request, f *web.AuthForm, set *ssoSettings) {
	f.Passkey = true
	if set == nil {
		var err error
		if set, err = s.ssoSettings(r.Context(), r); err != nil {
			return
		}
	}
	if set.configured() {
		f.SSO = true
		f.SSOLabel = set.label
		f.PasswordOff = set.passwordOff
	}
}

// ssoCallback finishes a login: state, code exchange, token checks, then
// the account decision, all refused with an audit line and nothing
// written when any step fails.
func (s *Server) ssoCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	set, err := s.ssoSettings(ctx, r)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	if !set.configured() {
		s.failPage(w, r, http.StatusNotFound, "Single Sign-on ist nicht eingerichtet.")
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	cookie, _ := r.Cookie(ssoCookie)
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: "", Path: "/login/sso", HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode, MaxAge: -1})
	if len(state) > 200 {
		state = state[:200]
	}
	flow, ok := s.takeFlow(state)
	if !ok || cookie == nil || cookie.Value != state {
		s.ssoRefuse(w, r, set, http.StatusBadRequest, "state",
			"Diese Anmeldung ist abgelaufen oder wurde schon verwendet. Bitte starten Sie die Anmeldung erneut.", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		s.ssoRefuse(w, r, set, http.StatusUnauthorized, "provider_denied", ssoErrorText(sso.ErrDenied, !set.passwordOff), map[string]any{"error": trim(e, 100)})
		return
	}
	c, err := s.ssoClient(ctx, set)
	if err != nil {
		s.ssoRefuse(w, r, set, http.StatusBadGateway, sso.Reason(err), ssoErrorText(err, !set.passwordOff), map[string]any{"error": err.Error()})
		return
	}
	res, err := c.Exchange(ctx, q.Get("code"), flow)
	if err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, sso.ErrUnreachable) {
			status = http.StatusBadGateway
		}
		s.ssoRefuse(w, r, set, status, sso.Reason(err), ssoErrorText(err, !set.passwordOff), map[string]any{"error": trim(err.Error(), 300)})
		return
	}
	s.ssoSignIn(w, r, set, res)
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ssoSignIn decides which account a verified login is, and signs it in.
func (s *Server) ssoSignIn(w http.ResponseWriter, r *http.Request, set *ssoSettings, res *sso.Result) {
	ctx := r.Context()
	cl := res.Claims
	issuer := set.cfg.Issuer
	who := map[string]any{"issuer": issuer, "sub": cl.Subject, "email": cl.Email}
	refuse := func(status int, reason, msg string) { s.ssoRefuse(w, r, set, status, reason, msg, who) }
	if !sso.DomainAllowed(cl.Email, set.domains) {
		refuse(http.StatusForbidden, "domain", "Mit diesem Konto ist die Anmeldung bei Pforte nicht erlaubt (E-Mail-Domain nicht freigegeben).")
		return
	}
	in := store.SSOLogin{Issuer: issuer, Subject: cl.Subject, Email: cl.Email}
	var audits []store.AuditEntry
	ip := tlsmgr.ClientIP(r)
	detail := func(m map[string]any) string {
		b, _ := json.Marshal(m)
		return string(b)
	}
	var u *store.User
	ident, err := s.store.IdentityBySubject(ctx, issuer, cl.Subject)
	switch {
	case err == nil:
		if u, err = s.store.UserByID(ctx, ident.UserID); err != nil {
			s.storeFail(w, r, err)
			return
		}
	case errors.Is(err, store.ErrNotFound):
		in.Link = true
		if cl.Email != "" {
			u, err = s.store.UserByEmail(ctx, cl.Email)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				s.storeFail(w, r, err)
				return
			}
		}
		if u != nil && !cl.EmailVerified {
			refuse(http.StatusForbidden, "email_unverified",
				"Ihre E-Mail-Adresse ist beim Anmeldedienst nicht bestätigt. Das Pforte-Konto mit dieser Adresse wird deshalb nicht verknüpft.")
			return
		}
		if u == nil {
			if !set.jit {
				refuse(http.StatusForbidden, "no_account", "Für dieses Firmenkonto gibt es in Pforte kein Konto. Bitte lassen Sie sich von Ihrer Administration einladen.")
				return
			}
			if !cl.EmailVerified || cl.Email == "" {
				refuse(http.StatusForbidden, "email_unverified", "Ihre E-Mail-Adresse ist beim Anmeldedienst nicht bestätigt. Ein Konto wird deshalb nicht angelegt.")
				return
			}
		}
	default:
		s.storeFail(w, r, err)
		return
	}
	if u != nil && u.Disabled {
		refuse(http.StatusForbidden, "disabled", "Ihr Pforte-Konto ist gesperrt.")
		return
	}
	// The role: from the group mapping when one is configured, otherwise
	// the default role for new accounts; existing accounts keep theirs.
	role := store.Role("")
	if len(set.cfg.RoleMap) > 0 {
		if mapped, ok := sso.MapRole(cl.Groups, set.cfg.RoleMap); ok {
			role = store.Role(mapped)
		} else {
			role = set.defaultRole
		}
		if role == "" {
			refuse(http.StatusForbidden, "no_role", "Ihr Firmenkonto ist keiner Pforte-Rolle zugeordnet. Bitte wenden Sie sich an Ihre Administration.")
			return
		}
	} else if u == nil {
		role = set.defaultRole
		if role == "" {
			role = store.RoleAgent
		}
	}
	if u == nil {
		name := cl.Name
		if len(name) > 100 {
			name = name[:100]
		}
		in.Create = &store.NewUser{Email: strings.ToLower(cl.Email), Name: name, Role: role, Lang: web.Lang(ctx)}
		audits = append(audits, store.AuditEntry{Action: store.AuditSSOUserCreate, Detail: detail(map[string]any{"issuer": issuer, "sub": cl.Subject, "role": role}), IP: ip})
	} else {
		in.UserID = u.ID
		if in.Link {
			audits = append(audits, store.AuditEntry{Action: store.AuditSSOLink, Detail: detail(map[string]any{"issuer": issuer, "sub": cl.Subject, "email": cl.Email}), IP: ip})
		}
		if role != "" && role != u.Role {
			in.Role = role
			audits = append(audits, store.AuditEntry{Action: store.AuditSSORole, Detail: detail(map[string]any{"from": u.Role, "to": role, "groups": cl.Groups}), IP: ip})
		}
	}
	audits = append(audits, store.AuditEntry{Action: store.AuditSSOLogin, Detail: detail(map[string]any{"issuer": issuer, "sub": cl.Subject}), IP: ip})
	in.Token = newToken()
	in.Replace = s.sessionToken(r)
	in.Session = store.Session{IP: ip, UserAgent: shortUA(r.UserAgent()), CreatedAt: s.now().Unix()}
	if res.RefreshToken != "" {
		if in.RefreshSealed, err = s.store.Seal([]byte(res.RefreshToken), "sso-refresh"); err != nil {
			s.storeFail(w, r, err)
			return
		}
	}
	if in.IDTokenSealed, err = s.store.Seal([]byte(res.IDToken), "sso-id-token"); err != nil {
		s.storeFail(w, r, err)
		return
	}
	_, _, err = s.store.CompleteSSOLogin(ctx, in, audits...)
	if errors.Is(err, store.ErrLastAdmin) {
		// The mapping would take admin rights from the last admin: the
		// login goes ahead with the role unchanged, and the refusal is
		// on record.
		s.audit(r, store.AuditEntry{Actor: store.UserActor(in.UserID), Action: store.AuditSSORefused, Target: store.UserActor(in.UserID).String(),
			Detail: detail(map[string]any{"reason": "last_admin", "to": in.Role, "groups": cl.Groups})})
		in.Role = ""
		kept := audits[:0]
		for _, a := range audits {
			if a.Action != store.AuditSSORole {
				kept = append(kept, a)
			}
		}
		_, _, err = s.store.CompleteSSOLogin(ctx, in, kept...)
	}
	if errors.Is(err, store.ErrExists) {
		refuse(http.StatusConflict, "email_taken", "Ein anderes Pforte-Konto verwendet diese E-Mail-Adresse schon.")
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.setSessionCookie(w, r, in.Token)
	redirect(w, r, "/")
}

// ssoRecheck asks the provider whether a session's account is still
// active, at most every recheck interval. It reports false when the
// session must end (the provider refused, or cannot be asked).
func (s *Server) ssoRecheck(r *http.Request, sess *store.Session, user *store.User, now time.Time) bool {
	ctx := r.Context()
	// Between re-checks only the interval is read (one row, not the
	// whole configuration and its sealed secret).
	every := defaultRecheck
	if v, _, err := s.store.Setting(ctx, store.SettingSSORecheck); err == nil {
		if m, err := strconv.Atoi(v); err == nil && m > 0 {
			every = time.Duration(m) * time.Minute
		}
	}
	if now.Unix()-sess.SSOCheckedAt < int64(every.Seconds()) {
		return true
	}
	set, err := s.ssoSettings(ctx, r)
	if err != nil {
		s.log.Warn("sso settings not read", "err", err)
		return true // the database is the problem, not the account
	}
	end := func(reason string, err error) bool {
		d := map[string]any{"reason": reason}
		if err != nil {
			d["error"] = trim(err.Error(), 300)
		}
		b, _ := json.Marshal(d)
		s.audit(r, store.AuditEntry{Actor: store.UserActor(user.ID), Action: store.AuditSSOSessionEnded, Target: store.UserActor(user.ID).String(), Detail: string(b)})
		return false
	}
	if !set.configured() {
		return end("sso_off", nil)
	}
	st, err := s.store.SessionSSOState(ctx, sess.ID)
	if err != nil {
		return end("state", err)
	}
	if st.Issuer != set.cfg.Issuer {
		return end("issuer_changed", nil)
	}
	rt, err := s.store.Unseal(st.RefreshSealed, "sso-refresh")
	if err != nil || len(rt) == 0 {
		return end("no_refresh_token", err)
	}
	c, err := s.ssoClient(ctx, set)
	if err != nil {
		return end(sso.Reason(err), err)
	}
	res, err := c.Refresh(ctx, string(rt), st.Subject)
	if err != nil {
		return end(sso.Reason(err), err)
	}
	var sealed []byte
	if res.RefreshToken != "" {
		if sealed, err = s.store.Seal([]byte(res.RefreshToken), "sso-refresh"); err != nil {
			return end("seal", err)
		}
	}
	var audits []store.AuditEntry
	if len(set.cfg.RoleMap) > 0 && res.Claims.Groups != nil {
		role, ok := sso.MapRole(res.Claims.Groups, set.cfg.RoleMap)
		if !ok {
			role = string(set.defaultRole)
		}
		if role == "" {
			return end("no_role", nil)
		}
		if store.Role(role) != user.Role {
			b, _ := json.Marshal(map[string]any{"from": user.Role, "to": role, "groups": res.Claims.Groups})
			e := store.AuditEntry{Actor: store.UserActor(user.ID), Action: store.AuditSSORole, Detail: string(b), IP: tlsmgr.ClientIP(r)}
			if err := s.store.SetRole(ctx, user.ID, store.Role(role), e); err == nil {
				user.Role = store.Role(role)
			} else if errors.Is(err, store.ErrLastAdmin) {
				b, _ := json.Marshal(map[string]any{"reason": "last_admin", "to": role})
				audits = append(audits, store.AuditEntry{Actor: store.UserActor(user.ID), Action: store.AuditSSORefused, Target: store.UserActor(user.ID).String(), Detail: string(b)})
			}
		}
	}
	if err := s.store.SSOChecked(ctx, sess.ID, sealed, now, audits...); err != nil {
		s.log.Warn("sso check not recorded", "err", err)
	}
	return true
}

// ssoLogoutURL is where the browser goes after Pforte's own logout: the
// provider's end_session_endpoint where it has one, else "".
func (s *Server) ssoLogoutURL(r *http.Request, sess *store.Session) string {
	ctx := r.Context()
	st, err := s.store.SessionSSOState(ctx, sess.ID)
	if err != nil {
		return ""
	}
	set, err := s.ssoSettings(ctx, r)
	if err != nil || !set.configured() || st.Issuer != set.cfg.Issuer {
		return ""
	}
	c, err := s.ssoClient(ctx, set)
	if err != nil || !c.HasEndSession() {
		return ""
	}
	idt, _ := s.store.Unseal(st.IDTokenSealed, "sso-id-token")
	return c.EndSessionURL(string(idt), s.publicURL(r)+"/login")
}

// passwordLoginRefused reports whether password login is off for u.
func (s *Server) passwordLoginRefused(ctx context.Context, r *http.Request, u *store.User) bool {
	set, err := s.ssoSettings(ctx, r)
	if err != nil {
		return false
	}
	return set.passwordOff && u.ID != set.breakGlass
}

// --- settings -------------------------------------------------------------

func (s *Server) ssoSettingsVM(ctx context.Context, r *http.Request) (web.SSOSettingsVM, error) {
	set, err := s.ssoSettings(ctx, r)
	if err != nil {
		return web.SSOSettingsVM{}, err
	}
	_, secretSet, _ := s.store.Setting(ctx, store.SettingSSOClientSecret)
	vm := web.SSOSettingsVM{Issuer: set.cfg.Issuer, ClientID: set.cfg.ClientID, SecretSet: secretSet, Domains: strings.Join(set.domains, " "),
		JIT: set.jit, DefaultRole: string(set.defaultRole), RoleClaim: set.cfg.RoleClaim, RoleMap: set.roleMapText,
		Recheck: int(set.recheck / time.Minute), PasswordOff: set.passwordOff, BreakGlass: set.breakGlass, Label: set.label,
		RedirectURI: s.publicURL(r) + ssoCallbackPath, Roles: sso.Roles, Fixed: s.cfg.SSO.fixed(), BreakGlassEmail: s.cfg.SSO.BreakGlassEmail}
	if vm.Fixed["client_secret"] {
		vm.SecretSet = true
	}
	users, err := s.store.Users(ctx)
	if err != nil {
		return vm, err
	}
	for _, u := range users {
		if u.Role == store.RoleAdmin && !u.Disabled {
			vm.Admins = append(vm.Admins, web.SSOAdmin{ID: u.ID, Label: u.DisplayName() + " (" + u.Email + ")"})
		}
	}
	return vm, nil
}

func (s *Server) ssoSettingsPage(w http.ResponseWriter, r *http.Request) {
	vm, err := s.ssoSettingsVM(r.Context(), r)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(r.Context(), "Single Sign-on"), Nav: "settings"}, web.SSOSettings(vm))
}

// ssoSettingsSave checks and stores the provider configuration as a
// whole: a wrong issuer, a mapping without an admin, or switching off
// passwords without a break-glass admin saves nothing.
func (s *Server) ssoSettingsSave(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	f := r.PostForm
	vm := web.SSOSettingsVM{Issuer: strings.TrimRight(strings.TrimSpace(f.Get("issuer")), "/"), ClientID: strings.TrimSpace(f.Get("client_id")),
		Domains: strings.Join(strings.Fields(strings.ToLower(strings.ReplaceAll(f.Get("domains"), ",", " "))), " "), JIT: f.Get("jit") == "1",
		DefaultRole: f.Get("default_role"), RoleClaim: strings.TrimSpace(f.Get("role_claim")), RoleMap: strings.TrimSpace(f.Get("role_map")),
		PasswordOff: f.Get("password_off") == "1", Label: strings.TrimSpace(f.Get("label"))}
	vm.BreakGlass, _ = strconv.ParseInt(f.Get("break_glass"), 10, 64)
	vm.Recheck, _ = strconv.Atoi(strings.TrimSpace(f.Get("recheck")))
	secret := f.Get("client_secret")
	// What the start parameters fix is neither taken from the form nor
	// saved: the checks below run on the values in force.
	fixed := s.cfg.SSO.fixed()
	vm.Fixed, vm.BreakGlassEmail = fixed, s.cfg.SSO.BreakGlassEmail
	before, err := s.ssoSettings(ctx, r)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	if fixed["issuer"] {
		vm.Issuer = before.cfg.Issuer
	}
	if fixed["client_id"] {
		vm.ClientID = before.cfg.ClientID
	}
	if fixed["client_secret"] {
		secret = ""
	}
	if fixed["domains"] {
		vm.Domains = strings.Join(before.domains, " ")
	}
	if fixed["jit"] {
		vm.JIT = before.jit
	}
	if fixed["role_claim"] {
		vm.RoleClaim = before.cfg.RoleClaim
	}
	if fixed["role_map"] {
		vm.RoleMap = before.roleMapText
	}
	if fixed["password_login"] {
		vm.PasswordOff, vm.BreakGlass = !*s.cfg.SSO.PasswordLogin, before.breakGlass
	}
	fail := func(msg string, auditReason string) {
		if auditReason != "" {
			b, _ := json.Marshal(map[string]any{"reason": auditReason})
			s.audit(r, store.AuditEntry{Actor: v.actor(), Action: store.AuditSSORefused, Target: "settings:sso", Detail: string(b)})
		}
		full, err := s.ssoSettingsVM(ctx, r)
		if err == nil {
			vm.Admins, vm.RedirectURI, vm.Roles, vm.SecretSet = full.Admins, full.RedirectURI, full.Roles, full.SecretSet
		}
		vm.Error = web.T(ctx, msg)
		s.page(w, r, http.StatusUnprocessableEntity, web.Chrome{Title: web.T(ctx, "Single Sign-on"), Nav: "settings"}, web.SSOSettings(vm))
	}
	if vm.Recheck == 0 {
		vm.Recheck = int(defaultRecheck / time.Minute)
	}
	switch {
	case vm.Issuer != "" && !validIssuer(vm.Issuer):
		fail("Der Aussteller (Issuer) muss eine https-Adresse sein, z. B. https://login.microsoftonline.com/<Tenant-ID>/v2.0.", "")
		return
	case vm.Issuer != "" && vm.ClientID == "":
		fail("Bitte geben Sie die Client-ID der bei Ihrem Anmeldedienst registrierten Anwendung an.", "")
		return
	case len(vm.ClientID) > 300 || len(secret) > 1000 || len(vm.Label) > 60 || len(vm.RoleClaim) > 100:
		fail("Eine Angabe ist zu lang.", "")
		return
	case vm.Recheck < 1 || vm.Recheck > 24*60:
		fail("Die Prüfung beim Anmeldedienst muss zwischen 1 und 1440 Minuten liegen.", "")
		return
	case vm.DefaultRole != "" && !store.Role(vm.DefaultRole).Valid():
		fail("Unbekannte Rolle.", "")
		return
	}
	roleMap, err := sso.ParseRoleMap(vm.RoleMap)
	if fixed["role_map"] {
		err = nil // checked at start
	}
	if errors.Is(err, sso.ErrNoAdmin) {
		fail("Die Gruppenzuordnung gibt keiner Gruppe die Rolle Admin. So verlöre Pforte bei den nächsten Anmeldungen alle Administratoren; bitte ergänzen Sie eine Zeile „Gruppe=Admin“. Nichts wurde gespeichert.", "mapping_no_admin")
		return
	}
	if err != nil {
		fail("Jede Zeile der Gruppenzuordnung hat die Form „Gruppe=Admin“, „Gruppe=Agent“ oder „Gruppe=Auditor“.", "")
		return
	}
	if vm.PasswordOff && !fixed["password_login"] {
		bg, err := s.store.UserByID(ctx, vm.BreakGlass)
		if vm.Issuer == "" || err != nil || bg.Role != store.RoleAdmin || bg.Disabled || bg.PasswordHash == "" {
			fail("Um die Passwort-Anmeldung abzuschalten, wählen Sie einen Notfall-Administrator mit Passwort, der sich weiter mit Passwort anmelden darf.", "")
			return
		}
	}
	if vm.Issuer != "" {
		// Check the provider now: a typo in the issuer shows here, not at
		// everyone's next login.
		cs := secret
		if cs == "" {
			cs = before.cfg.ClientSecret
		}
		if _, err := sso.Discover(ctx, sso.Config{Issuer: vm.Issuer, ClientID: vm.ClientID, ClientSecret: cs, RoleMap: roleMap}, s.cfg.SSOHTTPClient); err != nil {
			fail(ssoErrorText(err, true)+" ("+trim(err.Error(), 200)+")", sso.Reason(err))
			return
		}
	}
	bool01 := map[bool]string{false: "0", true: "1"}
	plain := map[string]string{store.SettingSSOIssuer: vm.Issuer, store.SettingSSOClientID: vm.ClientID, store.SettingSSODomains: vm.Domains,
		store.SettingSSOJIT: bool01[vm.JIT], store.SettingSSODefaultRole: vm.DefaultRole, store.SettingSSORoleClaim: vm.RoleClaim,
		store.SettingSSORoleMap: vm.RoleMap, store.SettingSSORecheck: strconv.Itoa(vm.Recheck), store.SettingSSOPasswordOff: bool01[vm.PasswordOff],
		store.SettingSSOBreakGlass: strconv.FormatInt(vm.BreakGlass, 10), store.SettingSSOButtonLabel: vm.Label}
	for k, key := range map[string][]string{"issuer": {store.SettingSSOIssuer}, "client_id": {store.SettingSSOClientID}, "domains": {store.SettingSSODomains},
		"jit": {store.SettingSSOJIT}, "role_claim": {store.SettingSSORoleClaim}, "role_map": {store.SettingSSORoleMap},
		"password_login": {store.SettingSSOPasswordOff, store.SettingSSOBreakGlass}} {
		if fixed[k] {
			for _, k := range key {
				delete(plain, k) // what was saved stays, for when the parameter goes
			}
		}
	}
	secrets := map[string][]byte{}
	if secret != "" {
		secrets[store.SettingSSOClientSecret] = []byte(secret)
	}
	// The audit line names what changed, never the secret.
	b, _ := json.Marshal(map[string]any{"issuer": vm.Issuer, "client_id": vm.ClientID, "domains": vm.Domains, "jit": vm.JIT, "default_role": vm.DefaultRole,
		"role_claim": vm.RoleClaim, "role_map": roleMap, "password_off": vm.PasswordOff, "break_glass": vm.BreakGlass, "recheck_minutes": vm.Recheck,
		"secret_changed": secret != ""})
	if err := s.store.SetSettings(ctx, plain, secrets, store.AuditEntry{Actor: v.actor(), Action: store.AuditSSOSettings, Detail: string(b), IP: tlsmgr.ClientIP(r)}); err != nil {
		s.storeFail(w, r, err)
		return
	}
	if vm.PasswordOff && vm.Issuer != "" && (!before.passwordOff || before.breakGlass != vm.BreakGlass) {
		if _, err := s.EndPasswordSessions(ctx, v.actor(), vm.BreakGlass); err != nil {
			s.storeFail(w, r, err)
			return
		}
	}
	setFlash(w, web.T(ctx, "Single-Sign-on-Einstellungen gespeichert."))
	redirect(w, r, "/settings/sso")
}

// validIssuer accepts https, and http only for this machine (tests, a
// provider on the same host).
func validIssuer(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		return h == "localhost" || h == "127.0.0.1" || h == "::1"
	}
	return false
}

// EndPasswordSessions ends the open sessions that did not come through
// the single sign-on provider, except the break-glass admin's: switching
// password login off takes effect now, not at each session's timeout.
func (s *Server) EndPasswordSessions(ctx context.Context, actor store.Actor, breakGlass int64) (int64, error) {
	n, err := s.store.EndPasswordSessions(ctx, breakGlass, store.AuditEntry{Actor: actor, Action: store.AuditPasswordSessionsEnded})
	if err == nil && n > 0 {
		s.log.Info("password login is off: password sessions ended", "sessions", n)
	}
	return n, err
}

// ApplyStartSSO runs once at start: when the start parameters switch
// password login off, the password sessions still open end now (the
// break-glass admin's stay).
func (s *Server) ApplyStartSSO(ctx context.Context) error {
	fx := &s.cfg.SSO
	if fx.PasswordLogin == nil || *fx.PasswordLogin {
		return nil
	}
	bg, err := s.store.UserByEmail(ctx, fx.BreakGlassEmail)
	if err != nil {
		return fmt.Errorf("break-glass admin %q: %w", fx.BreakGlassEmail, err)
	}
	_, err = s.EndPasswordSessions(ctx, store.ActorSystem, bg.ID)
	return err
}

// CheckSSORoleMap checks a group mapping given at start; noAdmin reports
// a mapping that gives no group the admin role.
func CheckSSORoleMap(text string) (noAdmin bool, err error) {
	_, err = sso.ParseRoleMap(text)
	return errors.Is(err, sso.ErrNoAdmin), err
}
