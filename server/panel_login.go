package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

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
	s.bare(w, r, http.StatusOK, web.T(r.Context(), "Anmelden"), web.LoginForm(f))
}

// loginErr is the one answer to every failed login: it does not say
// whether the address exists (ASVS 6.3.8).
const loginErr = "E-Mail-Adresse oder Passwort ist falsch."

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	pw := r.PostFormValue("password")
	ip := clientIP(r)
	now := s.now()
	form := web.AuthForm{Email: email}
	fail := func(status int, msg string) {
		form.Error = web.T(ctx, msg)
		s.bare(w, r, status, web.T(ctx, "Anmelden"), web.LoginForm(form))
	}
	if len(email) > 254 || len(pw) > 1024 {
		fail(http.StatusBadRequest, loginErr)
		return
	}
	// Throttle before hashing, so a locked account or address costs nothing.
	if locked, _ := s.panel.ips.blocked("ip:"+ip, now); locked {
		s.audit(r, store.AuditEntry{Actor: "anonymous", Action: "login.throttled", Target: "ip", IP: ip})
		fail(http.StatusTooManyRequests, "Zu viele Fehlversuche. Bitte warten Sie einige Minuten.")
		return
	}
	if locked, _ := s.panel.accounts.blocked("acct:"+email, now); locked {
		s.audit(r, store.AuditEntry{Actor: "anonymous", Action: "login.throttled", Target: "email:" + email, IP: ip})
		fail(http.StatusTooManyRequests, "Zu viele Fehlversuche. Bitte warten Sie einige Minuten.")
		return
	}
	u, err := s.store.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.storeFail(w, r, err)
		return
	}
	ok := false
	if u != nil && u.PasswordHash != "" {
		ok = checkPassword(u.PasswordHash, pw)
	} else {
		checkPassword(s.panel.noSuchUser(), pw) // same cost as a real check
	}
	if !ok || u.Disabled {
		s.panel.ips.fail("ip:"+ip, now)
		locked := s.panel.accounts.fail("acct:"+email, now)
		reason := "bad_password"
		switch {
		case u == nil:
			reason = "unknown_email"
		case ok && u.Disabled:
			reason = "disabled"
		}
		detail, _ := json.Marshal(map[string]any{"reason": reason, "locked": locked})
		s.audit(r, store.AuditEntry{Actor: "anonymous", Action: "login.failed", Target: "email:" + email, Detail: string(detail), IP: ip})
		fail(http.StatusUnauthorized, loginErr)
		return
	}
	s.panel.accounts.success("acct:" + email)
	s.sweepSessions(ctx)
	// A fresh token at every login; the browser's old session (if any) is
	// deleted in the same commit, so a planted cookie is worth nothing.
	token := newToken()
	action := store.AuditLoginSuccess
	if u.TOTPEnabled {
		action = store.AuditLoginPasswordOK
	}
	_, err = s.store.CreateSession(ctx, token, store.Session{UserID: u.ID, MFAPending: u.TOTPEnabled, IP: ip, UserAgent: shortUA(r.UserAgent())},
		s.sessionToken(r), store.AuditEntry{Actor: "user:" + itoa64(u.ID), Action: action, IP: ip})
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.setSessionCookie(w, r, token)
	if u.TOTPEnabled {
		redirect(w, r, "/login/2fa")
		return
	}
	redirect(w, r, "/")
}

func (s *Server) totpPage(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	if v == nil || !v.session.MFAPending {
		redirect(w, r, "/login")
		return
	}
	s.bare(w, r, http.StatusOK, web.T(r.Context(), "Bestätigungscode"), web.TwoFactorForm(web.AuthForm{}))
}

func (s *Server) totpSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := viewerOf(r)
	if v == nil || !v.session.MFAPending {
		redirect(w, r, "/login")
		return
	}
	ip, now := clientIP(r), s.now()
	key := "acct:" + strings.ToLower(v.user.Email)
	fail := func(status int, msg string) {
		s.bare(w, r, status, web.T(ctx, "Bestätigungscode"), web.TwoFactorForm(web.AuthForm{Error: web.T(ctx, msg)}))
	}
	if locked, _ := s.panel.accounts.blocked(key, now); locked {
		s.audit(r, store.AuditEntry{Actor: v.actor(), Action: "login.throttled", Target: "totp", IP: ip})
		fail(http.StatusTooManyRequests, "Zu viele Fehlversuche. Bitte warten Sie einige Minuten.")
		return
	}
	code := normalizeCode(r.PostFormValue("code"))
	ok, method := false, "totp"
	if len(code) == 6 {
		secret, err := s.store.Unseal(v.user.TOTPSecret, "totp")
		if err != nil {
			s.storeFail(w, r, err)
			return
		}
		if step := totpMatch(secret, code, now); step != 0 {
			// RFC 6238 §5.2: a code is accepted once, so a step at or before
			// the last used one is refused.
			if ok, err = s.store.UseTOTPStep(ctx, v.user.ID, step); err != nil {
				s.storeFail(w, r, err)
				return
			}
		}
	} else if len(code) >= 8 && len(code) <= 12 {
		method = "recovery_code"
		var err error
		if ok, err = s.store.UseRecoveryCode(ctx, v.user.ID, recoveryHash(code)); err != nil {
			s.storeFail(w, r, err)
			return
		}
	}
	if !ok {
		locked := s.panel.accounts.fail(key, now)
		detail, _ := json.Marshal(map[string]any{"reason": "bad_" + method, "locked": locked})
		s.audit(r, store.AuditEntry{Actor: v.actor(), Action: "login.failed", Target: "totp", Detail: string(detail), IP: ip})
		fail(http.StatusUnauthorized, "Der Code stimmt nicht oder wurde schon benutzt.")
		return
	}
	s.panel.accounts.success(key)
	token := newToken()
	detail, _ := json.Marshal(map[string]string{"mfa": method})
	if err := s.store.CompleteMFA(ctx, v.token, token, store.AuditEntry{Actor: v.actor(), Action: "login.success", Target: "user:" + itoa64(v.user.ID), Detail: string(detail), IP: ip}); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.setSessionCookie(w, r, token)
	redirect(w, r, "/")
}

// logout ends this browser's session and tells it to forget site data.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if v := viewerOf(r); v != nil {
		if err := s.store.DeleteSession(r.Context(), v.token, store.AuditEntry{Actor: v.actor(), Action: "logout", Target: "user:" + itoa64(v.user.ID), IP: clientIP(r)}); err != nil {
			s.storeFail(w, r, err)
			return
		}
	}
	s.clearSessionCookie(w, r)
	w.Header().Set("Clear-Site-Data", `"cache", "storage"`)
	setFlash(w, web.T(r.Context(), "Sie sind abgemeldet."))
	redirect(w, r, "/login")
}

// logoutEverywhere ends every session of the user, this one included.
func (s *Server) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	if err := s.store.DeleteUserSessions(r.Context(), v.user.ID, store.AuditEntry{Actor: v.actor(), Action: "logout.everywhere", IP: clientIP(r)}); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.clearSessionCookie(w, r)
	w.Header().Set("Clear-Site-Data", `"cache", "storage"`)
	setFlash(w, web.T(r.Context(), "Sie sind auf allen Geräten abgemeldet."))
	redirect(w, r, "/login")
}

func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) {
	if n, err := s.store.CountUsers(r.Context()); err != nil || n > 0 {
		redirect(w, r, "/login")
		return
	}
	s.bare(w, r, http.StatusOK, web.T(r.Context(), "Willkommen bei Pforte"), web.SetupForm(web.AuthForm{Retention: s.setupRetention(r.Context())}))
}

// setupSubmit creates the first admin; it works only on an empty database.
func (s *Server) setupSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
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
	ip := clientIP(r)
	u, err := s.store.CreateUser(ctx, store.NewUser{Email: f.Email, Name: f.Name, Role: store.RoleAdmin, PasswordHash: hashPassword(pw), Lang: web.Lang(ctx)},
		true, store.AuditEntry{Actor: "setup", Action: "user.create", Detail: `{"role":"admin","first_run":true}`, IP: ip})
	if errors.Is(err, store.ErrExists) {
		// Someone finished setup first; this form must not make a second admin.
		redirect(w, r, "/login")
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	token := newToken()
	if _, err := s.store.CreateSession(ctx, token, store.Session{UserID: u.ID, IP: ip, UserAgent: shortUA(r.UserAgent())}, s.sessionToken(r),
		store.AuditEntry{Actor: "user:" + itoa64(u.ID), Action: "login.success", Detail: `{"via":"setup"}`, IP: ip}); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.setSessionCookie(w, r, token)
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
	if _, err := s.store.AcceptInvite(ctx, store.HashToken(token), hashPassword(pw), now,
		store.AuditEntry{Actor: "user:" + itoa64(u.ID), Action: "invite.accept", IP: clientIP(r)}); err != nil {
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
		e.IP = clientIP(r)
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
