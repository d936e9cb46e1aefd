package panel

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

func (s *Server) accountVM(r *http.Request) (web.AccountVM, error) {
	v := viewerOf(r)
	vm := web.AccountVM{Email: v.user.Email, Lang: v.user.Lang, Notify: v.user.Notify, TwoFactor: v.user.TOTPEnabled, Require2FA: s.require2FA(r.Context())}
	sessions, err := s.store.UserSessions(r.Context(), v.user.ID)
	if err != nil {
		return vm, err
	}
	for _, ss := range sessions {
		vm.Sessions = append(vm.Sessions, web.SessionVM{Created: time.Unix(ss.CreatedAt, 0), LastSeen: time.Unix(ss.LastSeenAt, 0), IP: ss.IP, Agent: ss.UserAgent, Current: ss.ID == v.session.ID})
	}
	if v.user.Role == store.RoleAgent || v.user.Role == store.RoleAdmin {
		vm.Routable = true
		if vm.Available, err = s.store.Available(r.Context(), v.user.ID); err != nil {
			return vm, err
		}
	}
	return vm, nil
}

// accountAvailability is the agent's own available/away switch: routing
// rules give new conversations only to available agents.
func (s *Server) accountAvailability(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	on := r.PostFormValue("available") == "1"
	got, err := s.cfg.Automations.SetAvailable(r.Context(), v.user.ID, on)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	msg := web.T(r.Context(), "Sie sind jetzt abwesend.")
	if on {
		msg = web.T(r.Context(), "Sie sind jetzt verfügbar.")
	}
	switch {
	case got == 1:
		msg += " " + web.T(r.Context(), "Eine wartende Unterhaltung wurde Ihnen zugewiesen.")
	case got > 1:
		msg += " " + web.Tf(r.Context(), "%d wartende Unterhaltungen wurden Ihnen zugewiesen.", got)
	}
	setFlash(w, msg)
	redirect(w, r, "/account")
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	s.renderAccount(w, r, http.StatusOK, func(*web.AccountVM) {})
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, adjust func(*web.AccountVM)) {
	vm, err := s.accountVM(r)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	adjust(&vm)
	s.page(w, r, status, web.Chrome{Title: web.T(r.Context(), "Mein Konto"), Nav: "account"}, web.Account(vm))
}

func (s *Server) accountPreferences(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	lang := r.PostFormValue("lang")
	if lang != "de" && lang != "en" {
		lang = "de"
	}
	if err := s.store.SetPreferences(r.Context(), v.user.ID, lang, r.PostFormValue("notify") == "1"); err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(web.WithLang(r.Context(), lang), "Gespeichert."))
	redirect(w, r, "/account")
}

// The answers of reauth.
const (
	reauthErr     = "Das aktuelle Passwort stimmt nicht."
	reauthErr2FA  = "Das aktuelle Passwort oder der Bestätigungscode stimmt nicht."
	reauthNoteErr = "Bitte geben Sie Ihr aktuelles Passwort ein."
)

// reauth asks for the current password, and a code from the authenticator
// (or a recovery code) when 2FA is on, before a change to how the account
// logs in: a borrowed or stolen session alone cannot take the account
// over. Failures count on the login throttle, so guessing here is as slow
// as at the login; the current session does not count as known-good, as a
// thief would hold one. It returns 0 when the change may go ahead, else the
// status and German message it has not yet shown.
func (s *Server) reauth(r *http.Request, action store.AuditAction) (int, string, error) {
	ctx, v, now := r.Context(), viewerOf(r), s.now()
	at := attempt{account: normEmail(v.user.Email), ip: throttleAddr(tlsmgr.ClientIP(r))}
	if scope := s.panel.login.blocked(at, now); scope != scopeNone {
		s.auditThrottled(r, store.AuditEntry{Actor: v.actor(), Action: store.AuditReauthThrottled, Target: v.actor().String()}, scope)
		return http.StatusTooManyRequests, throttledErr, nil
	}
	current := r.PostFormValue("current")
	if current == "" {
		return http.StatusUnprocessableEntity, reauthNoteErr, nil
	}
	reason := ""
	if len(current) > 1024 || !s.checkPassword(v.user.PasswordHash, current) {
		reason = "bad_password"
	} else if v.user.TOTPEnabled {
		ok, method, err := s.checkSecondFactor(ctx, v.user, r.PostFormValue("code"), now)
		if err != nil {
			return 0, "", err
		}
		if !ok {
			reason = "bad_" + method
		}
	}
	if reason != "" {
		locked := s.panel.login.fail(at, now)
		detail, _ := json.Marshal(map[string]any{"reason": reason, "locked": locked, "for": action})
		s.audit(r, store.AuditEntry{Actor: v.actor(), Action: store.AuditReauthFailed, Target: v.actor().String(), Detail: string(detail)})
		if v.user.TOTPEnabled {
			return http.StatusUnauthorized, reauthErr2FA, nil
		}
		return http.StatusUnauthorized, reauthErr, nil
	}
	s.panel.login.success(at)
	return 0, "", nil
}

// checkSecondFactor checks a TOTP code (each accepted once) or uses up a
// recovery code.
func (s *Server) checkSecondFactor(ctx context.Context, u *store.User, code string, now time.Time) (ok bool, method string, err error) {
	code = normalizeCode(code)
	switch {
	case len(code) == 6:
		secret, err := s.store.Unseal(u.TOTPSecret, "totp")
		if err != nil {
			return false, "totp", err
		}
		if step := totpMatch(secret, code, now); step != 0 {
			// RFC 6238 §5.2: a code is accepted once.
			ok, err = s.store.UseTOTPStep(ctx, u.ID, step)
			return ok, "totp", err
		}
		return false, "totp", nil
	case len(code) >= 8 && len(code) <= 12:
		ok, err = s.store.UseRecoveryCode(ctx, u.ID, recoveryHash(code))
		return ok, "recovery_code", err
	}
	return false, "code", nil
}

func (s *Server) accountPassword(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	refuse := func(status int, msg string) {
		s.renderAccount(w, r, status, func(vm *web.AccountVM) { vm.Error = web.T(ctx, msg) })
	}
	pw := r.PostFormValue("password")
	if problem := passwordProblem(pw, v.user.Email); problem != "" {
		refuse(http.StatusUnprocessableEntity, problem)
		return
	}
	if status, msg, err := s.reauth(r, store.AuditPasswordChange); err != nil {
		s.storeFail(w, r, err)
		return
	} else if status != 0 {
		refuse(status, msg)
		return
	}
	// Other sessions end: whoever knew the old password is out.
	if err := s.store.SetPassword(ctx, v.user.ID, s.hashPassword(pw), v.session.ID, store_audit(v, r, store.AuditPasswordChange)); err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(ctx, "Passwort geändert. Andere Geräte wurden abgemeldet."))
	redirect(w, r, "/account")
}

// accountEmail changes the address the user logs in with.
func (s *Server) accountEmail(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	refuse := func(status int, msg string) {
		s.renderAccount(w, r, status, func(vm *web.AccountVM) { vm.Error = web.T(ctx, msg) })
	}
	email := normEmail(r.PostFormValue("email"))
	if problem := validName(v.user.DisplayName(), email); problem != "" {
		refuse(http.StatusUnprocessableEntity, problem)
		return
	}
	if email == normEmail(v.user.Email) {
		refuse(http.StatusUnprocessableEntity, "Das ist schon Ihre E-Mail-Adresse.")
		return
	}
	if status, msg, err := s.reauth(r, store.AuditEmailChange); err != nil {
		s.storeFail(w, r, err)
		return
	} else if status != 0 {
		refuse(status, msg)
		return
	}
	e := store_audit(v, r, store.AuditEmailChange)
	detail, _ := json.Marshal(map[string]string{"from": v.user.Email, "to": email})
	e.Detail = string(detail)
	err := s.store.SetEmail(ctx, v.user.ID, email, v.session.ID, e)
	if errors.Is(err, store.ErrExists) {
		refuse(http.StatusConflict, "Diese E-Mail-Adresse hat schon ein Konto.")
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(ctx, "E-Mail-Adresse geändert. Andere Geräte wurden abgemeldet."))
	redirect(w, r, "/account")
}

// enrolStart shows a new TOTP secret as a QR code. The secret waits in
// memory until a code proves the app has it.
func (s *Server) enrolStart(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	if v.user.TOTPEnabled {
		redirect(w, r, "/account")
		return
	}
	secret := newTOTPSecret()
	s.panel.enrolMu.Lock()
	now := s.now()
	for id, e := range s.panel.enrolments {
		if now.After(e.expires) {
			delete(s.panel.enrolments, id)
		}
	}
	s.panel.enrolments[v.session.ID] = enrolment{secret: secret, expires: now.Add(15 * time.Minute)}
	s.panel.enrolMu.Unlock()
	s.renderEnrol(w, r, http.StatusOK, secret, "")
}

func (s *Server) renderEnrol(w http.ResponseWriter, r *http.Request, status int, secret []byte, errMsg string) {
	v := viewerOf(r)
	code, err := qrModules(totpURI(secret, v.user.Email))
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.renderAccount(w, r, status, func(vm *web.AccountVM) {
		vm.Enrol = &web.EnrolVM{Secret: b32.EncodeToString(secret), QR: code}
		vm.Error = errMsg
	})
}

func (s *Server) enrolConfirm(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	s.panel.enrolMu.Lock()
	e, ok := s.panel.enrolments[v.session.ID]
	s.panel.enrolMu.Unlock()
	if !ok || s.now().After(e.expires) {
		redirect(w, r, "/account/2fa")
		return
	}
	step := totpMatch(e.secret, r.PostFormValue("code"), s.now())
	if step == 0 {
		s.renderEnrol(w, r, http.StatusUnprocessableEntity, e.secret, web.T(ctx, "Der Code stimmt nicht. Prüfen Sie die Uhrzeit des Telefons und versuchen Sie es erneut."))
		return
	}
	sealed, err := s.store.Seal(e.secret, "totp")
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	codes, hashes := newRecoveryCodes()
	if err := s.store.EnableTOTP(ctx, v.user.ID, sealed, hashes, step, store_audit(v, r, store.AuditUser2FAEnable)); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.panel.enrolMu.Lock()
	delete(s.panel.enrolments, v.session.ID)
	s.panel.enrolMu.Unlock()
	v.user.TOTPEnabled = true
	s.renderAccount(w, r, http.StatusOK, func(vm *web.AccountVM) {
		vm.TwoFactor, vm.RecoveryCodes = true, codes
	})
}

func (s *Server) enrolDisable(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	if s.require2FA(ctx) {
		s.failPage(w, r, http.StatusConflict, "Ihr Team verlangt die Zwei-Faktor-Anmeldung.")
		return
	}
	if !v.user.TOTPEnabled {
		redirect(w, r, "/account")
		return
	}
	if status, msg, err := s.reauth(r, store.AuditUser2FADisable); err != nil {
		s.storeFail(w, r, err)
		return
	} else if status != 0 {
		s.renderAccount(w, r, status, func(vm *web.AccountVM) { vm.Error = web.T(ctx, msg) })
		return
	}
	if err := s.store.ResetTOTP(ctx, v.user.ID, store_audit(v, r, store.AuditUser2FADisable)); err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(ctx, "Zwei-Faktor-Anmeldung ausgeschaltet."))
	redirect(w, r, "/account")
}
