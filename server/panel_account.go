package server

import (
	"net/http"
	"time"

	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

func (s *Server) accountVM(r *http.Request) (web.AccountVM, error) {
	v := viewerOf(r)
	vm := web.AccountVM{Lang: v.user.Lang, Notify: v.user.Notify, TwoFactor: v.user.TOTPEnabled, Require2FA: s.require2FA(r.Context())}
	sessions, err := s.store.UserSessions(r.Context(), v.user.ID)
	if err != nil {
		return vm, err
	}
	for _, ss := range sessions {
		vm.Sessions = append(vm.Sessions, web.SessionVM{Created: time.Unix(ss.CreatedAt, 0), LastSeen: time.Unix(ss.LastSeenAt, 0), IP: ss.IP, Agent: ss.UserAgent, Current: ss.ID == v.session.ID})
	}
	return vm, nil
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

func (s *Server) accountPassword(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	if !checkPassword(v.user.PasswordHash, r.PostFormValue("current")) {
		s.audit(r, store.AuditEntry{Actor: v.actor(), Action: "password.change_failed"})
		s.renderAccount(w, r, http.StatusUnauthorized, func(vm *web.AccountVM) { vm.Error = web.T(ctx, "Das aktuelle Passwort stimmt nicht.") })
		return
	}
	pw := r.PostFormValue("password")
	if problem := passwordProblem(pw, v.user.Email); problem != "" {
		s.renderAccount(w, r, http.StatusUnprocessableEntity, func(vm *web.AccountVM) { vm.Error = web.T(ctx, problem) })
		return
	}
	// Other sessions end: whoever knew the old password is out.
	if err := s.store.SetPassword(ctx, v.user.ID, hashPassword(pw), v.session.ID, store_audit(v, r, "password.change")); err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(ctx, "Passwort geändert. Andere Geräte wurden abgemeldet."))
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
	if err := s.store.EnableTOTP(ctx, v.user.ID, sealed, hashes, step, store_audit(v, r, "user.2fa_enable")); err != nil {
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
	v := viewerOf(r)
	if s.require2FA(r.Context()) {
		s.failPage(w, r, http.StatusConflict, "Ihr Team verlangt die Zwei-Faktor-Anmeldung.")
		return
	}
	if err := s.store.ResetTOTP(r.Context(), v.user.ID, store_audit(v, r, "user.2fa_disable")); err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(r.Context(), "Zwei-Faktor-Anmeldung ausgeschaltet."))
	redirect(w, r, "/account")
}
