package panel

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

const inviteValidity = 7 * 24 * time.Hour

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request) {
	s.renderUsers(w, r, http.StatusOK, "", "")
}

func (s *Server) renderUsers(w http.ResponseWriter, r *http.Request, status int, link, linkFor string) {
	ctx, v := r.Context(), viewerOf(r)
	users, err := s.store.Users(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm := web.UsersVM{InviteLink: link, InviteFor: linkFor, SelfID: v.user.ID}
	for _, u := range users {
		sessions, err := s.store.UserSessions(ctx, u.ID)
		if err != nil {
			s.storeFail(w, r, err)
			return
		}
		vm.Users = append(vm.Users, web.UserRowVM{ID: u.ID, Name: u.DisplayName(), Email: u.Email, Role: string(u.Role), TwoFactor: u.TOTPEnabled,
			Disabled: u.Disabled, Pending: u.PasswordHash == "", Sessions: len(sessions), Created: time.Unix(u.CreatedAt, 0)})
	}
	s.page(w, r, status, web.Chrome{Title: web.T(ctx, "Team"), Nav: "users"}, web.Users(vm))
}

// userInvite creates an account without a password and shows a one-time
// link to set one; the link is never stored, only its hash.
func (s *Server) userInvite(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	name, email, role := strings.TrimSpace(r.PostFormValue("name")), strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))), store.Role(r.PostFormValue("role"))
	if problem := validName(name, email); problem != "" {
		s.failPage(w, r, http.StatusUnprocessableEntity, problem)
		return
	}
	if !role.Valid() {
		s.failPage(w, r, http.StatusBadRequest, "Unbekannte Rolle.")
		return
	}
	e := store_audit(v, r, store.AuditUserCreate)
	e.Detail = fmt.Sprintf(`{"role":%q}`, role)
	u, err := s.store.CreateUser(ctx, store.NewUser{Email: email, Name: name, Role: role}, false, e)
	if errors.Is(err, store.ErrExists) {
		s.failPage(w, r, http.StatusConflict, "Diese E-Mail-Adresse hat schon ein Konto.")
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.issueInvite(w, r, u)
}

func (s *Server) issueInvite(w http.ResponseWriter, r *http.Request, u *store.User) {
	v := viewerOf(r)
	token := newToken()
	if err := s.store.CreateInvite(r.Context(), u.ID, store.HashToken(token), v.user.ID, s.now().Add(inviteValidity), store_audit(v, r, store.AuditUserInvite)); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.renderUsers(w, r, http.StatusOK, s.publicURL(r)+"/invite/"+token, u.Email)
}

// targetUser loads the user a management action is about; nobody manages
// their own account here (no locking oneself out).
func (s *Server) targetUser(w http.ResponseWriter, r *http.Request) *store.User {
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return nil
	}
	if id == viewerOf(r).user.ID {
		s.failPage(w, r, http.StatusConflict, "Das eigene Konto ändern Sie unter „Mein Konto“.")
		return nil
	}
	u, err := s.store.UserByID(r.Context(), id)
	if err != nil {
		s.storeFail(w, r, err)
		return nil
	}
	return u
}

func (s *Server) userAction(w http.ResponseWriter, r *http.Request, err error, done string) {
	if errors.Is(err, store.ErrLastAdmin) {
		s.failPage(w, r, http.StatusConflict, "Es muss mindestens eine aktive Administratorin oder ein aktiver Administrator bleiben.")
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(r.Context(), done))
	redirect(w, r, "/users")
}

func (s *Server) userRole(w http.ResponseWriter, r *http.Request) {
	u := s.targetUser(w, r)
	if u == nil {
		return
	}
	role := store.Role(r.PostFormValue("role"))
	if !role.Valid() {
		s.failPage(w, r, http.StatusBadRequest, "Unbekannte Rolle.")
		return
	}
	e := store_audit(viewerOf(r), r, store.AuditUserRole)
	e.Detail = fmt.Sprintf(`{"from":%q,"to":%q}`, u.Role, role)
	s.userAction(w, r, s.store.SetRole(r.Context(), u.ID, role, e), "Rolle geändert.")
}

func (s *Server) userDisable(w http.ResponseWriter, r *http.Request) {
	if u := s.targetUser(w, r); u != nil {
		s.userAction(w, r, s.store.SetDisabled(r.Context(), u.ID, true, store_audit(viewerOf(r), r, store.AuditUserDisable)), "Konto gesperrt, alle Sitzungen beendet.")
	}
}

func (s *Server) userEnable(w http.ResponseWriter, r *http.Request) {
	if u := s.targetUser(w, r); u != nil {
		s.userAction(w, r, s.store.SetDisabled(r.Context(), u.ID, false, store_audit(viewerOf(r), r, store.AuditUserEnable)), "Konto entsperrt.")
	}
}

func (s *Server) userReset2FA(w http.ResponseWriter, r *http.Request) {
	if u := s.targetUser(w, r); u != nil {
		s.userAction(w, r, s.store.ResetTOTP(r.Context(), u.ID, store_audit(viewerOf(r), r, store.AuditUser2FAReset)), "Zwei-Faktor-Anmeldung zurückgesetzt.")
	}
}

func (s *Server) userLogout(w http.ResponseWriter, r *http.Request) {
	if u := s.targetUser(w, r); u != nil {
		s.userAction(w, r, s.store.DeleteUserSessions(r.Context(), u.ID, store_audit(viewerOf(r), r, store.AuditUserLogout)), "Alle Sitzungen beendet.")
	}
}

func (s *Server) userReinvite(w http.ResponseWriter, r *http.Request) {
	if u := s.targetUser(w, r); u != nil {
		s.issueInvite(w, r, u)
	}
}
