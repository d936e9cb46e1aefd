package panel

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// store_audit is the audit line of a panel action by the viewer.
func store_audit(v *viewer, r *http.Request, action store.AuditAction) store.AuditEntry {
	return store.AuditEntry{Actor: v.actor(), Action: action, IP: tlsmgr.ClientIP(r)}
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
	vm.Names = s.auditNames(r, entries)
	for _, e := range entries {
		vm.Entries = append(vm.Entries, web.AuditRowVM{ID: e.ID, At: time.Unix(e.TS, 0), Actor: actorVM(e.Actor), Action: string(e.Action),
			Target: e.Target, Detail: e.Detail, IP: e.IP})
	}
	if len(entries) == 100 {
		vm.Next = entries[len(entries)-1].ID
	}
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(ctx, "Protokoll"), Nav: "audit"}, web.Audit(vm))
}

// auditNames looks up the people, keys and contacts a page of entries
// mentions, so the log shows "Anna Berger", not "user:12". A failed
// lookup only costs the names: the page then shows numbers.
func (s *Server) auditNames(r *http.Request, entries []store.AuditEntry) web.AuditNames {
	ctx := r.Context()
	names := web.AuditNames{Users: map[int64]string{}, APIKeys: map[string]string{}, Contacts: map[int64]string{}}
	if users, err := s.store.Users(ctx); err == nil {
		for _, u := range users {
			names.Users[u.ID] = u.DisplayName()
		}
	} else {
		s.log.Warn("audit page: users", "err", err)
	}
	if keys, err := s.store.APIKeys(ctx); err == nil {
		for _, k := range keys {
			names.APIKeys[k.Prefix] = k.Name
		}
	} else {
		s.log.Warn("audit page: api keys", "err", err)
	}
	// Contacts by name only for those who may see them: auditors see the
	// log, and the log names the person an export or consent was about.
	for _, e := range entries {
		id, ok := strings.CutPrefix(e.Target, "contact:")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(id, 10, 64)
		if _, seen := names.Contacts[n]; err != nil || seen {
			continue
		}
		if c, err := s.store.ContactByID(ctx, n); err == nil {
			names.Contacts[n] = contactVM(*c).Display()
		} else {
			names.Contacts[n] = ""
		}
	}
	return names
}

// actorVM parses a stored actor for the audit page.
func actorVM(a store.Actor) web.ActorVM {
	vm := web.ActorVM{Raw: a.String()}
	if id, ok := a.UserID(); ok {
		vm.Kind, vm.UserID = web.ActorUser, id
		return vm
	}
	if prefix, ok := a.KeyPrefix(); ok {
		vm.Kind, vm.Key = web.ActorAPIKey, prefix
		return vm
	}
	switch a {
	case store.ActorSystem:
		vm.Kind = web.ActorSystem
	case store.ActorStopReply:
		vm.Kind = web.ActorStopReply
	case store.ActorCLI:
		vm.Kind = web.ActorCLI
	case store.ActorSetup:
		vm.Kind = web.ActorSetup
	case store.ActorAnonymous:
		vm.Kind = web.ActorAnonymous
	case store.ActorCustomer:
		vm.Kind = web.ActorCustomer
	case store.ActorRestore:
		vm.Kind = web.ActorRestore
	case store.ActorUnknown, "":
		vm.Kind = web.ActorUnknown
	}
	return vm
}
