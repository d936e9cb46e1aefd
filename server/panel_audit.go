package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// store_audit is the audit line of a panel action by the viewer.
func store_audit(v *viewer, r *http.Request, action string) store.AuditEntry {
	return store.AuditEntry{Actor: v.actor(), Action: action, IP: clientIP(r)}
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	entries, err := s.store.AuditLog(ctx, before, 100)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm := web.AuditVM{}
	// Checking the chain reads every row, so it runs when asked for.
	if r.URL.Query().Get("verify") == "1" {
		broken, err := s.store.VerifyAuditChain(ctx)
		if err != nil {
			s.storeFail(w, r, err)
			return
		}
		vm.Verified, vm.ChainOK, vm.BrokenAt = true, broken == 0, broken
	}
	names := map[string]string{}
	if users, err := s.store.Users(ctx); err == nil {
		for _, u := range users {
			names["user:"+itoa64(u.ID)] = u.DisplayName()
		}
	}
	for _, e := range entries {
		actor := e.Actor
		if n, ok := names[actor]; ok {
			actor = n + " (" + e.Actor + ")"
		}
		vm.Entries = append(vm.Entries, web.AuditRowVM{ID: e.ID, At: time.Unix(e.TS, 0), Actor: actor, Action: e.Action, Target: e.Target, Detail: e.Detail, IP: e.IP})
	}
	if len(entries) == 100 {
		vm.Next = entries[len(entries)-1].ID
	}
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(ctx, "Protokoll"), Nav: "audit"}, web.Audit(vm))
}
