package panel

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// Passkeys (WebAuthn, through github.com/go-webauthn/webauthn): several per
// account, named and removable; usable for a login without password and
// as the second factor after a password. Each ceremony's challenge is
// kept here, bound to the browser by a cookie, for a few minutes and once.

const (
	ceremonyTTL    = 5 * time.Minute
	ceremonyCookie = "pforte_webauthn"
	maxPasskeys    = 20
)

type ceremonyKind uint8

const (
	ceremonyRegister ceremonyKind = iota + 1
	ceremonyLogin
	ceremonySecondFactor
	ceremonyReauth
)

type ceremony struct {
	kind    ceremonyKind
	userID  int64
	data    webauthn.SessionData
	expires time.Time
}

type ceremonies struct {
	mu sync.Mutex
	m  map[string]ceremony
}

// waUser adapts an account to the library.
type waUser struct {
	u     *store.User
	keys  []*store.Passkey
	creds []webauthn.Credential
}

func userHandle(id int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

func (w *waUser) WebAuthnID() []byte                         { return userHandle(w.u.ID) }
func (w *waUser) WebAuthnName() string                       { return w.u.Email }
func (w *waUser) WebAuthnDisplayName() string                { return w.u.DisplayName() }
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func (s *Server) waUser(ctx context.Context, u *store.User) (*waUser, error) {
	keys, err := s.store.Passkeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	w := &waUser{u: u, keys: keys}
	for _, k := range keys {
		var c webauthn.Credential
		if err := json.Unmarshal(k.Credential, &c); err != nil {
			s.log.Warn("passkey unreadable", "id", k.ID, "err", err)
			continue
		}
		w.creds = append(w.creds, c)
	}
	return w, nil
}

// relyingParty is WebAuthn for the address people use: the RP ID is the
// host name (WebAuthn refuses IP addresses), the origin the public URL.
func (s *Server) relyingParty(r *http.Request) (*webauthn.WebAuthn, error) {
	base := s.publicURL(r)
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	return webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: "Pforte", RPOrigins: []string{base},
		AuthenticatorSelection: protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired},
		Timeouts:               webauthn.TimeoutsConfig{Login: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL}, Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL}}})
}

func (s *Server) putCeremony(w http.ResponseWriter, r *http.Request, c ceremony) {
	key := newToken()
	now := s.now()
	c.expires = now.Add(ceremonyTTL)
	cs := &s.panel.webauthn
	cs.mu.Lock()
	for k, old := range cs.m {
		if now.After(old.expires) {
			delete(cs.m, k)
		}
	}
	if len(cs.m) < 10000 {
		cs.m[key] = c
	}
	cs.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: ceremonyCookie, Value: key, Path: "/", HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: int(ceremonyTTL.Seconds())})
}

// takeCeremony returns and forgets this browser's ceremony of kind.
func (s *Server) takeCeremony(w http.ResponseWriter, r *http.Request, kind ceremonyKind) (ceremony, bool) {
	http.SetCookie(w, &http.Cookie{Name: ceremonyCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: -1})
	ck, err := r.Cookie(ceremonyCookie)
	if err != nil {
		return ceremony{}, false
	}
	cs := &s.panel.webauthn
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.m[ck.Value]
	delete(cs.m, ck.Value)
	if !ok || c.kind != kind || s.now().After(c.expires) {
		return ceremony{}, false
	}
	return c, true
}

// passkeyJSON answers a ceremony step: the options, or where to go next,
// or a message for the page.
func (s *Server) passkeyJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) passkeyError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.passkeyJSON(w, status, map[string]string{"error": web.T(r.Context(), msg)})
}

// --- the account page ------------------------------------------------------

func (s *Server) passkeysPage(w http.ResponseWriter, r *http.Request) {
	s.renderPasskeys(w, r, http.StatusOK, "")
}

func (s *Server) renderPasskeys(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	ctx, v := r.Context(), viewerOf(r)
	keys, err := s.store.Passkeys(ctx, v.user.ID)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm := web.PasskeysVM{Error: errMsg, NeedsReauth: !s.recentlyAuthenticated(v), HasPassword: v.user.PasswordHash != "", TwoFactor: v.user.TOTPEnabled}
	if set, err := s.ssoSettings(ctx, r); err == nil {
		vm.SSO = set.configured()
	}
	for _, k := range keys {
		pv := web.PasskeyVM{ID: k.ID, Name: k.Name, Created: time.Unix(k.CreatedAt, 0)}
		if k.LastUsedAt > 0 {
			pv.LastUsed = time.Unix(k.LastUsedAt, 0)
		}
		vm.Passkeys = append(vm.Passkeys, pv)
	}
	ids, err := s.store.UserIdentities(ctx, v.user.ID)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	for _, id := range ids {
		vm.Linked = append(vm.Linked, web.IdentityVM{Issuer: id.Issuer, Email: id.Email, Since: time.Unix(id.CreatedAt, 0)})
	}
	s.page(w, r, status, web.Chrome{Title: web.T(ctx, "Passkeys"), Nav: "account"}, web.Passkeys(vm))
}

// reauthWindow is how long a login or a confirmed password counts as
// recent enough to add a passkey: a borrowed or stolen session alone must
// not plant a passkey that outlives it.
const reauthWindow = 10 * time.Minute

type recentAuths struct {
	mu sync.Mutex
	m  map[int64]time.Time // by session id
}

const passkeyReauthErr = "Bitte bestätigen Sie zuerst Ihr Passwort (oder melden Sie sich neu an), bevor Sie einen Passkey hinzufügen."

// recentlyAuthenticated reports whether the session proved its owner
// within reauthWindow: its login itself (password with second factor,
// single sign-on or passkey all start a new session) or a password
// confirmed on the passkeys page since.
func (s *Server) recentlyAuthenticated(v *viewer) bool {
	now := s.now()
	if now.Sub(time.Unix(v.session.CreatedAt, 0)) < reauthWindow {
		return true
	}
	ra := &s.panel.recentAuth
	ra.mu.Lock()
	defer ra.mu.Unlock()
	at, ok := ra.m[v.session.ID]
	return ok && now.Sub(at) < reauthWindow
}

// refuseNotRecent audits and answers a passkey enrolment without a
// recent re-authentication.
func (s *Server) refuseNotRecent(w http.ResponseWriter, r *http.Request, step string) {
	v := viewerOf(r)
	detail, _ := json.Marshal(map[string]any{"reason": "not_recent", "for": store.AuditPasskeyAdd, "step": step})
	s.audit(r, store.AuditEntry{Actor: v.actor(), Action: store.AuditReauthFailed, Target: v.actor().String(), Detail: string(detail)})
	s.passkeyError(w, r, http.StatusForbidden, passkeyReauthErr)
}

// passkeyReauth confirms the password (and the second factor, when on)
// with the panel's one re-authentication, so a passkey can be added in
// the next minutes.
func (s *Server) passkeyReauth(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	status, msg, err := s.reauth(r, store.AuditPasskeyAdd)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	if status != 0 {
		s.renderPasskeys(w, r, status, web.T(ctx, msg))
		return
	}
	s.markRecent(v.session.ID)
	setFlash(w, web.T(ctx, "Bestätigt. Sie können jetzt einen Passkey hinzufügen."))
	redirect(w, r, "/account/passkeys")
}

// markRecent records that the session's owner just proved it is them.
func (s *Server) markRecent(sessionID int64) {
	now := s.now()
	ra := &s.panel.recentAuth
	ra.mu.Lock()
	defer ra.mu.Unlock()
	for id, at := range ra.m {
		if now.Sub(at) >= reauthWindow {
			delete(ra.m, id)
		}
	}
	ra.m[sessionID] = now
}

// passkeyReauthBegin asks for one of the account's existing passkeys as
// the re-authentication before adding another.
func (s *Server) passkeyReauthBegin(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	wu, err := s.waUser(r.Context(), v.user)
	if err != nil || len(wu.creds) == 0 {
		s.passkeyError(w, r, http.StatusBadRequest, "Für dieses Konto ist kein Passkey eingerichtet.")
		return
	}
	rp, err := s.relyingParty(r)
	if err != nil {
		s.passkeyNotStarted(w, r, err)
		return
	}
	opts, data, err := rp.BeginLogin(wu, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		s.passkeyNotStarted(w, r, err)
		return
	}
	s.putCeremony(w, r, ceremony{kind: ceremonyReauth, userID: v.user.ID, data: *data})
	s.passkeyJSON(w, http.StatusOK, opts)
}

// passkeyReauthFinish checks the existing passkey (a failure or a clone
// is audited by passkeyCheck) and counts it as a recent re-authentication.
func (s *Server) passkeyReauthFinish(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	c, ok := s.takeCeremony(w, r, ceremonyReauth)
	if !ok || c.userID != v.user.ID {
		s.passkeyError(w, r, http.StatusBadRequest, "Die Anfrage ist abgelaufen. Bitte versuchen Sie es noch einmal.")
		return
	}
	if _, _, ok := s.passkeyCheck(w, r, c, v.user); !ok {
		return
	}
	s.markRecent(v.session.ID)
	setFlash(w, web.T(ctx, "Bestätigt. Sie können jetzt einen Passkey hinzufügen."))
	s.passkeyJSON(w, http.StatusOK, map[string]string{"redirect": "/account/passkeys"})
}

func (s *Server) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	if !s.recentlyAuthenticated(v) {
		s.refuseNotRecent(w, r, "begin")
		return
	}
	wu, err := s.waUser(ctx, v.user)
	if err != nil {
		s.passkeyError(w, r, http.StatusServiceUnavailable, "Die Datenbank ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.")
		return
	}
	if len(wu.keys) >= maxPasskeys {
		s.passkeyError(w, r, http.StatusConflict, "Sie haben schon 20 Passkeys. Bitte entfernen Sie zuerst einen.")
		return
	}
	rp, err := s.relyingParty(r)
	if err != nil {
		s.passkeyNotStarted(w, r, err)
		return
	}
	opts, data, err := rp.BeginRegistration(wu, webauthn.WithExclusions(webauthn.Credentials(wu.creds).CredentialDescriptors()),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	if err != nil {
		s.passkeyNotStarted(w, r, err)
		return
	}
	s.putCeremony(w, r, ceremony{kind: ceremonyRegister, userID: v.user.ID, data: *data})
	s.passkeyJSON(w, http.StatusOK, opts)
}

func (s *Server) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	name := strings.TrimSpace(r.URL.Query().Get("name"))
	if name == "" {
		name = shortUA(r.UserAgent())
	}
	if len([]rune(name)) > 60 {
		s.passkeyError(w, r, http.StatusBadRequest, "Der Name des Passkeys darf höchstens 60 Zeichen lang sein.")
		return
	}
	if !s.recentlyAuthenticated(v) {
		s.refuseNotRecent(w, r, "finish")
		return
	}
	c, ok := s.takeCeremony(w, r, ceremonyRegister)
	if !ok || c.userID != v.user.ID {
		s.passkeyError(w, r, http.StatusBadRequest, "Die Anfrage ist abgelaufen. Bitte versuchen Sie es noch einmal.")
		return
	}
	wu, err := s.waUser(ctx, v.user)
	if err != nil {
		s.passkeyError(w, r, http.StatusServiceUnavailable, "Die Datenbank ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.")
		return
	}
	rp, err := s.relyingParty(r)
	if err != nil {
		s.passkeyNotStarted(w, r, err)
		return
	}
	cred, err := rp.FinishRegistration(wu, c.data, r)
	if err != nil {
		s.log.Info("passkey registration refused", "err", err)
		s.passkeyError(w, r, http.StatusBadRequest, "Der Passkey konnte nicht geprüft werden und wurde nicht gespeichert.")
		return
	}
	raw, _ := json.Marshal(cred)
	detail, _ := json.Marshal(map[string]any{"name": name, "aaguid": cred.Authenticator.AAGUID})
	_, err = s.store.AddPasskey(ctx, store.Passkey{UserID: v.user.ID, Name: name, CredentialID: cred.ID, Credential: raw},
		store.AuditEntry{Actor: v.actor(), Action: store.AuditPasskeyAdd, Detail: string(detail), IP: tlsmgr.ClientIP(r)})
	if errors.Is(err, store.ErrExists) {
		s.passkeyError(w, r, http.StatusConflict, "Dieser Passkey ist schon registriert.")
		return
	}
	if err != nil {
		s.passkeyError(w, r, http.StatusServiceUnavailable, "Die Datenbank ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.")
		return
	}
	setFlash(w, web.T(ctx, "Passkey hinzugefügt."))
	s.passkeyJSON(w, http.StatusOK, map[string]string{"redirect": "/account/passkeys"})
}

func (s *Server) passkeyDelete(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	keys, err := s.store.Passkeys(ctx, v.user.ID)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	name := ""
	for _, k := range keys {
		if k.ID == id {
			name = k.Name
		}
	}
	// With 2FA required, the last second factor cannot go.
	if name != "" && len(keys) == 1 && !v.user.TOTPEnabled && !v.session.SSO && s.require2FA(ctx) {
		setFlash(w, web.T(ctx, "Ihr Team verlangt eine Zwei-Faktor-Anmeldung: Der letzte Passkey kann erst entfernt werden, wenn eine Authenticator-App eingerichtet ist."))
		redirect(w, r, "/account/passkeys")
		return
	}
	detail, _ := json.Marshal(map[string]any{"name": name, "id": id})
	if err := s.store.DeletePasskey(ctx, v.user.ID, id, store.AuditEntry{Actor: v.actor(), Action: store.AuditPasskeyRemove, Detail: string(detail), IP: tlsmgr.ClientIP(r)}); err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(ctx, "Passkey entfernt."))
	redirect(w, r, "/account/passkeys")
}

// --- login -------------------------------------------------------------------

// passkeyLoginBegin starts a login without a user name: the authenticator
// offers the passkeys it holds for this site.
func (s *Server) passkeyLoginBegin(w http.ResponseWriter, r *http.Request) {
	rp, err := s.relyingParty(r)
	if err != nil {
		s.passkeyNotStarted(w, r, err)
		return
	}
	opts, data, err := rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		s.passkeyNotStarted(w, r, err)
		return
	}
	s.putCeremony(w, r, ceremony{kind: ceremonyLogin, data: *data})
	s.passkeyJSON(w, http.StatusOK, opts)
}

// passkeyRefuse audits a refused passkey login and answers msg.
func (s *Server) passkeyRefuse(w http.ResponseWriter, r *http.Request, action store.AuditAction, actor store.Actor, status int, reason, msg string) {
	detail, _ := json.Marshal(map[string]string{"reason": reason})
	s.audit(r, store.AuditEntry{Actor: actor, Action: action, Target: "passkey", Detail: string(detail)})
	s.passkeyError(w, r, status, msg)
}

const passkeyLoginErr = "Die Anmeldung mit diesem Passkey ist nicht möglich."

// passkeyCheck finishes an assertion for a known or discovered user and
// stores the new signature counter. A counter that did not grow means a
// copy of the key exists: the login is refused and audited.
func (s *Server) passkeyCheck(w http.ResponseWriter, r *http.Request, c ceremony, known *store.User) (*store.User, *store.Passkey, bool) {
	ctx := r.Context()
	rp, err := s.relyingParty(r)
	if err != nil {
		s.passkeyNotStarted(w, r, err)
		return nil, nil, false
	}
	parsed, err := protocol.ParseCredentialRequestResponse(r)
	if err != nil {
		s.passkeyRefuse(w, r, store.AuditPasskeyFailed, store.ActorAnonymous, http.StatusBadRequest, "unreadable", passkeyLoginErr)
		return nil, nil, false
	}
	key, err := s.store.PasskeyByCredentialID(ctx, parsed.RawID)
	if err != nil || (known != nil && key.UserID != known.ID) {
		s.passkeyRefuse(w, r, store.AuditPasskeyFailed, store.ActorAnonymous, http.StatusUnauthorized, "unknown_credential", passkeyLoginErr)
		return nil, nil, false
	}
	u := known
	if u == nil {
		if u, err = s.store.UserByID(ctx, key.UserID); err != nil {
			s.passkeyRefuse(w, r, store.AuditPasskeyFailed, store.ActorAnonymous, http.StatusUnauthorized, "unknown_user", passkeyLoginErr)
			return nil, nil, false
		}
	}
	actor := store.UserActor(u.ID)
	wu, err := s.waUser(ctx, u)
	if err != nil {
		s.passkeyError(w, r, http.StatusServiceUnavailable, "Die Datenbank ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.")
		return nil, nil, false
	}
	var cred *webauthn.Credential
	if known != nil {
		cred, err = rp.ValidateLogin(wu, c.data, parsed)
	} else {
		cred, err = rp.ValidateDiscoverableLogin(func(_, userHandle []byte) (webauthn.User, error) {
			if !bytes.Equal(userHandle, wu.WebAuthnID()) {
				return nil, errors.New("user handle does not match the credential")
			}
			return wu, nil
		}, c.data, parsed)
	}
	if err != nil {
		s.log.Info("passkey login refused", "err", err)
		s.passkeyRefuse(w, r, store.AuditPasskeyFailed, actor, http.StatusUnauthorized, "bad_assertion", passkeyLoginErr)
		return nil, nil, false
	}
	if cred.Authenticator.CloneWarning {
		s.passkeyRefuse(w, r, store.AuditPasskeyClone, actor, http.StatusUnauthorized, "sign_count_backwards",
			"Dieser Passkey wurde abgelehnt: Sein Zähler ist zurückgesprungen, es gibt vermutlich eine Kopie. Bitte melden Sie das Ihrer Administration und entfernen Sie den Passkey.")
		return nil, nil, false
	}
	raw, _ := json.Marshal(cred)
	if err := s.store.UsePasskey(ctx, key.ID, raw, s.now()); err != nil {
		s.passkeyError(w, r, http.StatusServiceUnavailable, "Die Datenbank ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.")
		return nil, nil, false
	}
	return u, key, true
}

func (s *Server) passkeyLoginFinish(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, ok := s.takeCeremony(w, r, ceremonyLogin)
	if !ok {
		s.passkeyError(w, r, http.StatusBadRequest, "Die Anfrage ist abgelaufen. Bitte versuchen Sie es noch einmal.")
		return
	}
	u, key, ok := s.passkeyCheck(w, r, c, nil)
	if !ok {
		return
	}
	if u.Disabled {
		s.passkeyRefuse(w, r, store.AuditLoginFailed, store.UserActor(u.ID), http.StatusUnauthorized, "disabled", passkeyLoginErr)
		return
	}
	if s.passwordLoginRefused(ctx, r, u) {
		s.passkeyRefuse(w, r, store.AuditPasswordLoginOff, store.UserActor(u.ID), http.StatusForbidden, "passkey",
			"Die Anmeldung ist nur noch mit Ihrem Firmenkonto möglich.")
		return
	}
	ip := tlsmgr.ClientIP(r)
	token := newToken()
	detail, _ := json.Marshal(map[string]any{"via": "passkey", "passkey": key.Name})
	if _, err := s.store.CreateSession(ctx, token, store.Session{UserID: u.ID, IP: ip, UserAgent: shortUA(r.UserAgent()), CreatedAt: s.now().Unix()},
		s.sessionToken(r), store.AuditEntry{Actor: store.UserActor(u.ID), Action: store.AuditLoginSuccess, Detail: string(detail), IP: ip}); err != nil {
		s.passkeyError(w, r, http.StatusServiceUnavailable, "Die Datenbank ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.")
		return
	}
	s.setSessionCookie(w, r, token)
	s.setDeviceCookie(w, r, u.ID)
	s.passkeyJSON(w, http.StatusOK, map[string]string{"redirect": "/"})
}

// passkey2FABegin asks for one of this account's passkeys after the password.
func (s *Server) passkey2FABegin(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	if v == nil || !v.session.MFAPending {
		s.passkeyError(w, r, http.StatusUnauthorized, "Bitte melden Sie sich an.")
		return
	}
	wu, err := s.waUser(r.Context(), v.user)
	if err != nil || len(wu.creds) == 0 {
		s.passkeyError(w, r, http.StatusBadRequest, "Für dieses Konto ist kein Passkey eingerichtet.")
		return
	}
	rp, err := s.relyingParty(r)
	if err != nil {
		s.passkeyNotStarted(w, r, err)
		return
	}
	opts, data, err := rp.BeginLogin(wu)
	if err != nil {
		s.passkeyNotStarted(w, r, err)
		return
	}
	s.putCeremony(w, r, ceremony{kind: ceremonySecondFactor, userID: v.user.ID, data: *data})
	s.passkeyJSON(w, http.StatusOK, opts)
}

func (s *Server) passkey2FAFinish(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	if v == nil || !v.session.MFAPending {
		s.passkeyError(w, r, http.StatusUnauthorized, "Bitte melden Sie sich an.")
		return
	}
	c, ok := s.takeCeremony(w, r, ceremonySecondFactor)
	if !ok || c.userID != v.user.ID {
		s.passkeyError(w, r, http.StatusBadRequest, "Die Anfrage ist abgelaufen. Bitte versuchen Sie es noch einmal.")
		return
	}
	_, key, ok := s.passkeyCheck(w, r, c, v.user)
	if !ok {
		return
	}
	token := newToken()
	detail, _ := json.Marshal(map[string]string{"mfa": "passkey", "passkey": key.Name})
	if err := s.store.CompleteMFA(ctx, v.token, token, store.AuditEntry{Actor: v.actor(), Action: store.AuditLoginSuccess, Target: v.actor().String(),
		Detail: string(detail), IP: tlsmgr.ClientIP(r)}); err != nil {
		s.passkeyError(w, r, http.StatusServiceUnavailable, "Die Datenbank ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.")
		return
	}
	s.setSessionCookie(w, r, token)
	s.setDeviceCookie(w, r, v.user.ID)
	s.passkeyJSON(w, http.StatusOK, map[string]string{"redirect": "/"})
}

// passkeyNotStarted answers a ceremony the relying party could not begin
// (the panel's address is no valid passkey site, or the library refused).
func (s *Server) passkeyNotStarted(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Warn("passkey ceremony not started", "err", err)
	s.passkeyError(w, r, http.StatusInternalServerError, "Passkeys sind für diese Adresse nicht möglich.")
}
