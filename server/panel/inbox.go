package panel

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// inboxFilter reads the inbox selection from the query string.
func inboxFilter(r *http.Request) web.InboxFilter {
	q := r.URL.Query()
	f := web.InboxFilter{Assigned: q.Get("assigned"), Status: q.Get("status")}
	switch f.Assigned {
	case "mine", "unassigned", "all":
	default:
		f.Assigned = "all"
	}
	switch f.Status {
	case "open", "closed", "all":
	default:
		f.Status = "open"
	}
	f.NumberID, _ = strconv.ParseInt(q.Get("number"), 10, 64)
	f.LabelID, _ = strconv.ParseInt(q.Get("label"), 10, 64)
	f.TeamID, _ = strconv.ParseInt(q.Get("team"), 10, 64)
	return f
}

func storeFilter(f web.InboxFilter, userID int64, before string) store.ConversationFilter {
	sf := store.ConversationFilter{UserID: userID, NumberID: f.NumberID, LabelID: f.LabelID, TeamID: f.TeamID, Before: store.ParseCursor(before), Limit: 50}
	if f.Assigned != "all" {
		sf.Assigned = f.Assigned
	}
	if f.Status != "all" {
		sf.Status = f.Status
	}
	return sf
}

// inboxVM loads the list side of the inbox.
func (s *Server) inboxVM(ctx context.Context, v *viewer, f web.InboxFilter, before string, active int64) (web.InboxVM, error) {
	vm := web.InboxVM{Filter: f}
	sf := storeFilter(f, v.user.ID, before)
	sf.HideRestricted = !v.seesRestricted()
	list, next, err := s.store.Conversations(ctx, sf)
	if err != nil {
		return vm, err
	}
	for _, cs := range list {
		row := convRow(ctx, cs)
		row.Active = cs.ID == active
		vm.List = append(vm.List, row)
	}
	vm.Next = next.String()
	counts, err := s.store.InboxCounts(ctx, v.user.ID)
	if err != nil {
		return vm, err
	}
	vm.Counts = web.InboxCounts{Mine: counts.Mine, Unassigned: counts.Unassigned, All: counts.All}
	nums, err := s.store.BusinessNumbers(ctx)
	if err != nil {
		return vm, err
	}
	for _, n := range nums {
		vm.Numbers = append(vm.Numbers, numberVM(n))
		if text, err := s.hoursLine(ctx, n.PhoneNumberID); err != nil {
			return vm, err
		} else if text != "" {
			vm.Hours = append(vm.Hours, web.HoursStateVM{Number: numberVM(n).Display, Text: text})
		}
	}
	labels, err := s.store.Labels(ctx)
	if err != nil {
		return vm, err
	}
	for _, l := range labels {
		vm.Labels = append(vm.Labels, web.LabelVM{ID: l.ID, Name: l.Name, Color: l.Color})
	}
	if vm.Reminders, err = s.reminders(ctx, v.user.ID); err != nil {
		return vm, err
	}
	teams, err := s.store.Teams(ctx)
	if err != nil {
		return vm, err
	}
	for _, t := range teams {
		vm.Teams = append(vm.Teams, web.TeamVM{ID: t.ID, Name: t.Name})
	}
	return vm, nil
}

func numberVM(n store.BusinessNumber) web.NumberVM {
	d := n.DisplayPhoneNumber
	if d == "" {
		d = n.PhoneNumberID
	} else {
		d = "+" + d
	}
	return web.NumberVM{ID: n.ID, PhoneNumberID: n.PhoneNumberID, Display: d, WABAID: n.WABAID}
}

func contactVM(c store.Contact) web.ContactVM {
	return web.ContactVM{ID: c.ID, Name: c.Name, WaID: c.WaID, UserID: c.UserID, Username: c.Username, Since: time.Unix(c.CreatedAt, 0)}
}

func convRow(ctx context.Context, cs *store.ConversationSummary) web.ConvRowVM {
	cv := contactVM(cs.Contact)
	row := web.ConvRowVM{
		ID: cs.ID, Name: cv.Display(), Handle: cv.Handle(), Outbound: cs.LastDirection == "outbound",
		LastAt: time.Unix(cs.LastMessageAt, 0), Unread: cs.Unread, Status: cs.Status, Assignee: cs.AssigneeName,
		Number: "+" + cs.DisplayNumber, Failed: cs.LastDirection == "outbound" && cs.LastStatus == store.MessageFailed, Restricted: cs.Restricted,
	}
	if cs.LastInboundAt > 0 {
		row.WaitingSince = time.Unix(cs.LastInboundAt, 0)
		if cs.LastDirection == "outbound" {
			row.WaitingSince = time.Time{} // answered: nobody is waiting
		}
	}
	row.Preview = previewText(cs.LastText, 120)
	if cs.LastType != "text" && cs.LastType != "" {
		row.PreviewIcon = cs.LastType
	}
	for _, l := range cs.Labels {
		row.Labels = append(row.Labels, web.LabelVM{ID: l.ID, Name: l.Name, Color: l.Color})
	}
	return row
}

// previewText shortens a message to one line.
func previewText(s string, n int) string {
	out := make([]rune, 0, n)
	for _, r := range s {
		if r == '\n' || r == '\r' || r == '\t' {
			r = ' '
		}
		out = append(out, r)
		if len(out) == n {
			return string(out) + "…"
		}
	}
	return string(out)
}

// inbox renders the list-only inbox page.
func (s *Server) inbox(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	vm, err := s.inboxVM(r.Context(), v, inboxFilter(r), r.URL.Query().Get("before"), 0)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(r.Context(), "Posteingang"), Nav: "inbox"}, web.Inbox(vm))
}

// inboxList renders the list alone, for live refresh and "load older".
func (s *Server) inboxList(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	q := r.URL.Query()
	active, _ := strconv.ParseInt(q.Get("active"), 10, 64)
	vm, err := s.inboxVM(r.Context(), v, inboxFilter(r), q.Get("before"), active)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	if q.Get("append") == "1" {
		s.fragment(w, r, web.ConvRows(vm))
		return
	}
	if r.Header.Get("HX-Request") != "true" {
		// A plain link (no JavaScript): show the whole page.
		s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(r.Context(), "Posteingang"), Nav: "inbox"}, web.Inbox(vm))
		return
	}
	s.fragment(w, r, web.ConvList(vm))
}
