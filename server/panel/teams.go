package panel

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// teamsPage lists the teams with their members and who is available.
func (s *Server) teamsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	teams, err := s.store.Teams(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	users, err := s.store.Users(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm := web.TeamsVM{}
	for _, u := range users {
		if (u.Role != store.RoleAgent && u.Role != store.RoleAdmin) || u.Disabled {
			continue
		}
		avail, err := s.store.Available(ctx, u.ID)
		if err != nil {
			s.storeFail(w, r, err)
			return
		}
		name := u.Name
		if name == "" {
			name = u.Email
		}
		vm.Agents = append(vm.Agents, web.TeamAgentVM{ID: u.ID, Name: name, Available: avail})
	}
	for _, t := range teams {
		tv := web.TeamPageVM{ID: t.ID, Name: t.Name, Members: map[int64]bool{}}
		for _, m := range t.Members {
			tv.Members[m] = true
		}
		vm.Teams = append(vm.Teams, tv)
	}
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(ctx, "Teams"), Nav: "settings"}, web.Teams(vm))
}

func (s *Server) teamCreate(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || len([]rune(name)) > 60 {
		s.failPage(w, r, http.StatusUnprocessableEntity, "Der Teamname muss 1 bis 60 Zeichen haben.")
		return
	}
	if _, err := s.store.CreateTeam(r.Context(), viewerOf(r).actor(), name, time.Now()); err != nil {
		if errors.Is(err, store.ErrTeamExists) {
			s.failPage(w, r, http.StatusUnprocessableEntity, "Ein Team mit diesem Namen gibt es schon.")
			return
		}
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(r.Context(), "Gespeichert."))
	redirect(w, r, "/settings/teams")
}

func (s *Server) teamMembers(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	var users []int64
	for _, v := range r.PostForm["member"] {
		u, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
			return
		}
		users = append(users, u)
	}
	if err := s.store.SetTeamMembers(r.Context(), viewerOf(r).actor(), id, users, time.Now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.failPage(w, r, http.StatusUnprocessableEntity, "Team oder Person nicht gefunden; nichts gespeichert.")
			return
		}
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(r.Context(), "Gespeichert."))
	redirect(w, r, "/settings/teams")
}

func (s *Server) teamDelete(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	if err := s.store.DeleteTeam(r.Context(), viewerOf(r).actor(), id, time.Now()); err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(r.Context(), "Gespeichert."))
	redirect(w, r, "/settings/teams")
}
