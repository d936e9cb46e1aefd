package panel

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// panelHome sends each role to its start page.
func (s *Server) panelHome(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	if v == nil {
		if n, err := s.store.CountUsers(r.Context()); err == nil && n == 0 {
			redirect(w, r, "/setup")
			return
		}
		redirect(w, r, "/login")
		return
	}
	switch v.user.Role {
	case store.RoleAuditor:
		redirect(w, r, "/audit")
	default:
		redirect(w, r, "/inbox")
	}
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if n, err := s.store.CountUsers(r.Context()); err == nil && n == 0 {
		redirect(w, r, "/setup")
		return
	}
	if v := viewerOf(r); v != nil && !v.session.MFAPending {
		redirect(w, r, "/")
		return
	}
	f := web.AuthForm{}
	if msg := takeFlash(w, r); msg != "" {
		f.Info = msg
	}
	s.loginAlternatives(r, &f, nil)
	s.bare(w, r, http.StatusOK, web.T(r.Context(), "Anmelden"), web.LoginForm(f))
}

// loginErr is the one answer to every failed login: it does not say
// whether the address exists (ASVS 6.3.8).
const loginErr = "E-Mail-Adresse oder Passwort ist falsch."

// throttledErr answers an attempt the throttle refused before hashing.
const throttledErr = "Zu viele Fehlversuche. Bitte warten Sie einige Minuten."

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	email := normEmail(r.PostFormValue("email"))
	pw := r.PostFormValue("password")
	ip := tlsmgr.ClientIP(r)
	now := s.now()
	form := web.AuthForm{Email: email}
	fail := func(status int, msg string) {
		form.Error = web.T(ctx, msg)
		s.loginAlternatives(r, &form, nil)
		s.bare(w, r, status, web.T(ctx, "Anmelden"), web.LoginForm(form))
	}
	if len(email) > 254 || len(pw) > 1024 {
		fail(http.StatusBadRequest, loginErr)
		return
	}
	// Looking the account up is cheap and tells whether this browser or
	// address is known-good; the throttle is checked before any hashing.
	u, err := s.store.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.storeFail(w, r, err)
		return
	}
	at := s.attemptFor(r, email, u)
	if scope := s.panel.login.blocked(at, now); scope != scopeNone {
		s.auditThrottled(r, store.AuditEntry{Actor: store.ActorAnonymous, Action: store.AuditLoginThrottled, Target: "email:" + email, IP: ip}, scope)
		fail(http.StatusTooManyRequests, throttledErr)
		return
	}
	ok := false
	if u != nil && u.PasswordHash != "" {
		ok = s.checkPassword(u.PasswordHash, pw)
	} else {
		s.checkPassword(s.panel.noSuchUser(), pw) // same cost as a real check
	}
	if !ok || u.Disabled {
		locked := s.panel.login.fail(at, now)
		reason := "bad_password"
		switch {
		case u == nil:
			reason = "unknown_email"
		case ok && u.Disabled:
			reason = "disabled"
		}
		detail, _ := json.Marshal(map[string]any{"reason": reason, "locked": locked, "known_good": at.knownGood})
		s.audit(r, store.AuditEntry{Actor: store.ActorAnonymous, Action: store.AuditLoginFailed, Target: "email:" + email, Detail: string(detail), IP: ip})
		fail(http.StatusUnauthorized, loginErr)
		return
	}
	if s.passwordLoginRefused(ctx, r, u) {
		// Only the break-glass admin still logs in with a password; the
		// right password is told apart only after it was checked.
		s.audit(r, store.AuditEntry{Actor: store.UserActor(u.ID), Action: store.AuditPasswordLoginOff, Target: "email:" + email, IP: ip})
		fail(http.StatusForbidden, "Die Anmeldung mit Passwort ist abgeschaltet. Bitte melden Sie sich mit Ihrem Firmenkonto an.")
		return
	}
	s.panel.login.success(at)
	s.sweepSessions(ctx)
	// A fresh token at every login; the browser's old session (if any) is
	// deleted in the same commit, so a planted cookie is worth nothing.
	token := newToken()
	action := store.AuditLoginSuccess
	if u.HasSecondFactor() {
		action = store.AuditLoginPasswordOK
	}
	_, err = s.store.CreateSession(ctx, token, store.Session{UserID: u.ID, MFAPending: u.HasSecondFactor(), IP: ip, UserAgent: shortUA(r.UserAgent()), CreatedAt: now.Unix()},
		s.sessionToken(r), store.AuditEntry{Actor: store.UserActor(u.ID), Action: action, IP: ip})
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.setSessionCookie(w, r, token)
	if u.HasSecondFactor() {
		redirect(w, r, "/login/2fa")
		return
	}
	s.setDeviceCookie(w, r, u.ID)
	redirect(w, r, "/")
}

// attemptFor describes a check of email's credentials from r's address.
func (s *Server) attemptFor(r *http.Request, email string, u *store.User) attempt {
	ip := tlsmgr.ClientIP(r)
	return attempt{account: normEmail(email), ip: throttleAddr(ip), knownGood: s.knownGood(r, u, ip)}
}

// knownGood reports whether this account logged in fully from this browser
// (a device cookie) or from this address (a session of it, second factor
// done, comes from there). Such an attempt is never locked out for long by
// what others guess.
func (s *Server) knownGood(r *http.Request, u *store.User, ip string) bool {
	if u == nil {
		return false
	}
	if id, ok := s.deviceUser(r); ok && id == u.ID {
		return true
	}
	sessions, err := s.store.UserSessions(r.Context(), u.ID)
	if err != nil {
		s.log.Warn("sessions not read for the login throttle", "err", err)
		return false
	}
	addr := throttleAddr(ip)
	for _, ss := range sessions {
		if !ss.MFAPending && throttleAddr(ss.IP) == addr {
			return true
		}
	}
	return false
}

// deviceCookie holds a sealed {user id, issued} pair: proof that this
// browser logged in as that user before. It grants nothing but patience
// from the throttle.
type deviceCookie struct {
	User   int64 `json:"u"`
	Issued int64 `json:"t"`
}

func (s *Server) deviceCookieName(r *http.Request) string {
	if s.secure(r) {
		return "__Host-pforte_device"
	}
	return "pforte_device"
}

func (s *Server) setDeviceCookie(w http.ResponseWriter, r *http.Request, userID int64) {
	plain, _ := json.Marshal(deviceCookie{User: userID, Issued: s.now().Unix()})
	sealed, err := s.store.Seal(plain, "device")
	if err != nil {
		s.log.Warn("device cookie not sealed", "err", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.deviceCookieName(r), Value: base64.RawURLEncoding.EncodeToString(sealed), Path: "/", HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteLaxMode, MaxAge: int(deviceCookieAge.Seconds())})
}

// deviceUser returns the user a valid, unexpired device cookie names.
func (s *Server) deviceUser(r *http.Request) (int64, bool) {
	c, err := r.Cookie(s.deviceCookieName(r))
	if err != nil || len(c.Value) > 256 {
		return 0, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return 0, false
	}
	plain, err := s.store.Unseal(sealed, "device")
	if err != nil {
		return 0, false
	}
	var d deviceCookie
	if json.Unmarshal(plain, &d) != nil || s.now().Sub(time.Unix(d.Issued, 0)) > deviceCookieAge {
		return 0, false
	}
	return d.User, true
}

// auditThrottled writes a refused attempt's audit row, folded per minute.
func (s *Server) auditThrottled(r *http.Request, e store.AuditEntry, scope throttleScope) {
	if e.IP == "" {
		e.IP = tlsmgr.ClientIP(r)
	}
	s.panel.throttled.record(e, scope, s.now())
}

// writeAudit writes an audit row outside a request; a failure is logged.
func (s *Server) writeAudit(e store.AuditEntry) {
	if err := s.store.Audit(context.Background(), e); err != nil {
		s.log.Warn("audit entry not written", "action", e.Action, "err", err)
	}
}

func (s *Server) totpPage(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	if v == nil || !v.session.MFAPending {
		redirect(w, r, "/login")
		return
	}
	s.bare(w, r, http.StatusOK, web.T(r.Context(), "Bestätigungscode"), web.TwoFactorForm(web.AuthForm{Passkey2FA: v.user.Passkeys > 0, TOTP: v.user.TOTPEnabled}))
}

func (s *Server) totpSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := viewerOf(r)
	if v == nil || !v.session.MFAPending {
		redirect(w, r, "/login")
		return
	}
	ip, now := tlsmgr.ClientIP(r), s.now()
	at := s.attemptFor(r, v.user.Email, v.user)
	fail := func(status int, msg string) {
		s.bare(w, r, status, web.T(ctx, "Bestätigungscode"), web.TwoFactorForm(web.AuthForm{Error: web.T(ctx, msg), Passkey2FA: v.user.Passkeys > 0, TOTP: v.user.TOTPEnabled}))
	}
	if scope := s.panel.login.blocked(at, now); scope != scopeNone {
		s.auditThrottled(r, store.AuditEntry{Actor: v.actor(), Action: store.AuditLoginThrottled, Target: "totp", IP: ip}, scope)
		fail(http.StatusTooManyRequests, throttledErr)
		return
	}
	ok, method, err := s.checkSecondFactor(ctx, v.user, r.PostFormValue("code"), now)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	if !ok {
		locked := s.panel.login.fail(at, now)
		detail, _ := json.Marshal(map[string]any{"reason": "bad_" + method, "locked": locked})
		s.audit(r, store.AuditEntry{Actor: v.actor(), Action: store.AuditLoginFailed, Target: "totp", Detail: string(detail), IP: ip})
		fail(http.StatusUnauthorized, "Der Code stimmt nicht oder wurde schon benutzt.")
		return
	}
	s.panel.login.success(at)
	token := newToken()
	detail, _ := json.Marshal(map[string]string{"mfa": method})
	if err := s.store.CompleteMFA(ctx, v.token, token, store.AuditEntry{Actor: v.actor(), Action: store.AuditLoginSuccess, Target: v.actor().String(), Detail: string(detail), IP: ip}); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.setSessionCookie(w, r, token)
	s.setDeviceCookie(w, r, v.user.ID)
	redirect(w, r, "/")
}

// logout ends this browser's session and tells it to forget site data.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	provider := ""
	if v := viewerOf(r); v != nil {
		audits := []store.AuditEntry{{Actor: v.actor(), Action: store.AuditLogout, Target: v.actor().String(), IP: tlsmgr.ClientIP(r)}}
		if v.session.SSO {
			// Read before the session (and its ID token) is deleted.
			if provider = s.ssoLogoutURL(r, v.session); provider != "" {
				audits = append(audits, store.AuditEntry{Actor: v.actor(), Action: store.AuditSSOLogout, Target: v.actor().String(), IP: tlsmgr.ClientIP(r)})
			}
		}
		if err := s.store.DeleteSession(r.Context(), v.token, audits...); err != nil {
			s.storeFail(w, r, err)
			return
		}
	}
	s.clearSessionCookie(w, r)
	w.Header().Set("Clear-Site-Data", `"cache", "storage"`)
	if provider != "" {
		// RP-initiated logout: the provider ends its session too and
		// sends the browser back to the login page. A forwarding page,
		// not a redirect: the submitting page's CSP (form-action 'self')
		// would block a form's redirect to another origin.
		s.bare(w, r, http.StatusOK, web.T(r.Context(), "Sie sind abgemeldet."), web.ProviderLogout(provider))
		return
	}
	setFlash(w, web.T(r.Context(), "Sie sind abgemeldet."))
	redirect(w, r, "/login")
}

// logoutEverywhere ends every session of the user, this one included.
func (s *Server) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	if err := s.store.DeleteUserSessions(r.Context(), v.user.ID, store.AuditEntry{Actor: v.actor(), Action: store.AuditLogoutEverywhere, IP: tlsmgr.ClientIP(r)}); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.clearSessionCookie(w, r)
	w.Header().Set("Clear-Site-Data", `"cache", "storage"`)
	setFlash(w, web.T(r.Context(), "Sie sind auf allen Geräten abgemeldet."))
	redirect(w, r, "/login")
}

// setupDone answers 404 once anyone has an account (or the count fails):
// the first-run form then does not exist, and costs no hashing.
func (s *Server) setupDone(w http.ResponseWriter, r *http.Request) bool {
	if n, err := s.store.CountUsers(r.Context()); err == nil && n == 0 {
		return false
	}
	http.NotFound(w, r)
	return true
}

func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) {
	if s.setupDone(w, r) {
		return
	}
	s.bare(w, r, http.StatusOK, web.T(r.Context(), "Willkommen bei Pforte"), web.SetupForm(web.AuthForm{Retention: s.setupRetention(r.Context())}))
}

// setupSubmit creates the first admin; it works only on an empty database.
func (s *Server) setupSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if s.setupDone(w, r) {
		return
	}
	f := web.AuthForm{Name: strings.TrimSpace(r.PostFormValue("name")), Email: strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))}
	pw := r.PostFormValue("password")
	fail := func(status int, msg string) {
		f.Error = web.T(ctx, msg)
		f.Retention = s.setupRetention(ctx)
		s.bare(w, r, status, web.T(ctx, "Willkommen bei Pforte"), web.SetupForm(f))
	}
	if problem := validName(f.Name, f.Email); problem != "" {
		fail(http.StatusUnprocessableEntity, problem)
		return
	}
	if problem := passwordProblem(pw, f.Email); problem != "" {
		fail(http.StatusUnprocessableEntity, problem)
		return
	}
	ip := tlsmgr.ClientIP(r)
	u, err := s.store.CreateUser(ctx, store.NewUser{Email: f.Email, Name: f.Name, Role: store.RoleAdmin, PasswordHash: s.hashPassword(pw), Lang: web.Lang(ctx)},
		true, store.AuditEntry{Actor: store.ActorSetup, Action: store.AuditUserCreate, Detail: `{"role":"admin","first_run":true}`, IP: ip})
	if errors.Is(err, store.ErrExists) {
		// Someone finished setup first; this form must not make a second admin.
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	token := newToken()
	if _, err := s.store.CreateSession(ctx, token, store.Session{UserID: u.ID, IP: ip, UserAgent: shortUA(r.UserAgent())}, s.sessionToken(r),
		store.AuditEntry{Actor: store.UserActor(u.ID), Action: store.AuditLoginSuccess, Detail: `{"via":"setup"}`, IP: ip}); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.setSessionCookie(w, r, token)
	s.setDeviceCookie(w, r, u.ID)
	setFlash(w, web.T(ctx, "Willkommen! Richten Sie als Nächstes die Zwei-Faktor-Anmeldung ein."))
	redirect(w, r, "/account")
}

func validName(name, email string) string {
	switch {
	case name == "" || len(name) > 100:
		return "Bitte geben Sie einen Namen an (höchstens 100 Zeichen)."
	case len(email) > 254 || !strings.Contains(email, "@") || strings.ContainsAny(email, " <>\"'") || strings.HasPrefix(email, "@") || strings.HasSuffix(email, "@"):
		return "Bitte geben Sie eine gültige E-Mail-Adresse an."
	}
	return ""
}

func (s *Server) invitePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.PathValue("token")
	inv, err := s.store.InviteByToken(ctx, store.HashToken(token), s.now())
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.bare(w, r, http.StatusNotFound, web.T(ctx, "Link ungültig"), web.InviteInvalid())
			return
		}
		s.storeFail(w, r, err)
		return
	}
	u, err := s.store.UserByID(ctx, inv.UserID)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.bare(w, r, http.StatusOK, web.T(ctx, "Einladung annehmen"), web.InviteForm(web.AuthForm{Token: token, Invitee: u.Email}))
}

func (s *Server) inviteSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.PathValue("token")
	now := s.now()
	inv, err := s.store.InviteByToken(ctx, store.HashToken(token), now)
	if err != nil {
		s.bare(w, r, http.StatusNotFound, web.T(ctx, "Link ungültig"), web.InviteInvalid())
		return
	}
	u, err := s.store.UserByID(ctx, inv.UserID)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	pw := r.PostFormValue("password")
	if problem := passwordProblem(pw, u.Email); problem != "" {
		s.bare(w, r, http.StatusUnprocessableEntity, web.T(ctx, "Einladung annehmen"),
			web.InviteForm(web.AuthForm{Token: token, Invitee: u.Email, Error: web.T(ctx, problem)}))
		return
	}
	if _, err := s.store.AcceptInvite(ctx, store.HashToken(token), s.hashPassword(pw), now,
		store.AuditEntry{Actor: store.UserActor(u.ID), Action: store.AuditInviteAccept, IP: tlsmgr.ClientIP(r)}); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.bare(w, r, http.StatusNotFound, web.T(ctx, "Link ungültig"), web.InviteInvalid())
			return
		}
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(ctx, "Passwort gespeichert. Bitte melden Sie sich an."))
	redirect(w, r, "/login")
}

// audit writes an audit line; a failure is logged, not shown.
func (s *Server) audit(r *http.Request, e store.AuditEntry) {
	if e.IP == "" {
		e.IP = tlsmgr.ClientIP(r)
	}
	if err := s.store.Audit(r.Context(), e); err != nil {
		s.log.Warn("audit entry not written", "action", e.Action, "err", err)
	}
}

// shortUA keeps enough of the User-Agent to recognise a device in the
// session list.
func shortUA(ua string) string {
	name := "Browser"
	for _, b := range []string{"Edg/", "Firefox/", "Chrome/", "Safari/"} {
		if strings.Contains(ua, b) {
			name = map[string]string{"Edg/": "Edge", "Firefox/": "Firefox", "Chrome/": "Chrome", "Safari/": "Safari"}[b]
			break
		}
	}
	osName := ""
	for _, o := range []string{"Android", "iPhone", "iPad", "Windows", "Mac OS", "Linux"} {
		if strings.Contains(ua, o) {
			osName = o
			break
		}
	}
	if osName != "" {
		return name + " · " + osName
	}
	return name
}

// sweepSessions deletes timed-out sessions, at most once an hour, on the
// way through a login (the panel needs no scheduler for it).
func (s *Server) sweepSessions(ctx context.Context) {
	now := s.now()
	last := s.panel.lastSweep.Load()
	if now.Unix()-last < 3600 || !s.panel.lastSweep.CompareAndSwap(last, now.Unix()) {
		return
	}
	if _, err := s.store.DeleteExpiredSessions(ctx, now.Add(-s.panel.cfg.IdleTimeout), now.Add(-s.panel.cfg.AbsoluteTimeout)); err != nil {
		s.log.Warn("expired sessions not deleted", "err", err)
	}
}
