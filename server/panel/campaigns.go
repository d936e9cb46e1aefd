package panel

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// campaignRow turns a campaign's status into the list's and page's row.
func (s *Server) campaignRow(r *http.Request, st *campaign.Status) web.CampaignRowVM {
	c, n := st.Campaign, st.Counts
	row := web.CampaignRowVM{ID: c.ID, Name: c.Name, Status: string(c.Status), PauseReason: c.PauseReason, Template: c.TemplateName + " · " + c.TemplateLanguage,
		Eligible: n.Eligible, Excluded: n.Excluded, Skipped: n.Skipped, Queued: n.Queued, Sent: n.Sent, Delivered: n.Delivered, Read: n.Read,
		Failed: n.Failed, OptedOut: n.OptedOut, Stopped: n.Stopped, Pending: n.Pending, Cost: fmt.Sprintf("%.2f %s", st.Cost, st.Currency)}
	if c.Status == store.CampaignPaused && c.PauseReason != campaign.PauseManual {
		if alarms, err := s.store.Alarms(r.Context()); err == nil {
			for _, a := range alarms {
				if a.Key == "campaign_paused_"+strconv.FormatInt(c.ID, 10) {
					row.Alarm = a.Message
				}
			}
		}
	}
	return row
}

func (s *Server) campaignsVM(r *http.Request) (web.CampaignsVM, error) {
	ctx := r.Context()
	vm := web.CampaignsVM{CanCreate: viewerOf(r).user.Role == store.RoleAdmin}
	list, err := s.store.Campaigns(ctx, 100)
	if err != nil {
		return vm, err
	}
	for _, c := range list {
		st, err := s.cfg.Campaigns.Get(ctx, c.ID)
		if err != nil {
			return vm, err
		}
		vm.Items = append(vm.Items, s.campaignRow(r, st))
	}
	if !vm.CanCreate {
		return vm, nil
	}
	tpls, err := s.store.Templates(ctx)
	if err != nil {
		return vm, err
	}
	for _, t := range tpls {
		if t.Category == store.CategoryMarketing && t.Usable() {
			vm.Templates = append(vm.Templates, t.Name+"|"+t.Language)
		}
	}
	nums, err := s.store.BusinessNumbers(ctx)
	if err != nil {
		return vm, err
	}
	for _, n := range nums {
		vm.Numbers = append(vm.Numbers, n.PhoneNumberID)
	}
	labels, err := s.store.Labels(ctx)
	if err != nil {
		return vm, err
	}
	for _, l := range labels {
		vm.Labels = append(vm.Labels, l.Name)
	}
	defs, err := s.store.ContactFields(ctx)
	if err != nil {
		return vm, err
	}
	for _, d := range defs {
		vm.Fields = append(vm.Fields, web.CampaignFieldVM{Key: d.Key, Label: d.Label})
	}
	return vm, nil
}

// campaignForm reads the campaign form: the segment builder's contact
// labels and one value per custom field (empty: not a criterion).
func campaignForm(r *http.Request, vm web.CampaignsVM) web.CampaignFormVM {
	f := web.CampaignFormVM{Name: r.PostFormValue("name"), Number: r.PostFormValue("phone_number_id"), Template: r.PostFormValue("template"),
		Parameters: r.PostFormValue("parameters"), Contacts: r.PostFormValue("contacts"), Start: r.PostFormValue("start"), Labels: r.PostForm["labels"],
		ContactLabels: r.PostForm["contact_labels"], RecipientCSV: r.PostFormValue("recipient_csv"), Fields: map[string]string{}}
	for _, d := range vm.Fields {
		if v := strings.TrimSpace(r.PostFormValue("field." + d.Key)); v != "" {
			f.Fields[d.Key] = v
		}
	}
	return f
}

func skippedRows(rf *campaign.RecipientFile) []web.CampaignSkippedRow {
	var out []web.CampaignSkippedRow
	for _, s := range rf.Skipped {
		out = append(out, web.CampaignSkippedRow{Line: s.Line, Number: s.Number, Reason: s.DE, ReasonEN: s.EN})
	}
	return out
}

// campaignParamsUpload reads an uploaded parameter file and shows the form
// again with its usable rows (carried to the preview and the start as
// UTF-8 text) and the rows skipped, each with its reason.
func (s *Server) campaignParamsUpload(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Campaigns == nil {
		s.failPage(w, r, http.StatusServiceUnavailable, "Kampagnen brauchen den Postausgang, der nicht läuft.")
		return
	}
	ctx := r.Context()
	vm, err := s.campaignsVM(r)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm.Form = campaignForm(r, vm)
	status := http.StatusOK
	up := uploadedFileOf(r, "file")
	if up == nil || up.Size == 0 {
		vm.Error, vm.ErrorEN, status = "Bitte eine CSV-Datei wählen.", "Please choose a CSV file.", http.StatusBadRequest
	} else if f, err := os.Open(up.path); err != nil {
		s.storeFail(w, r, err)
		return
	} else {
		defer f.Close()
		cols, _, _ := campaign.Needs(lines(vm.Form.Parameters))
		rf, err := s.cfg.Campaigns.ReadRecipientFile(ctx, f, cols)
		var fe *campaign.FieldError
		switch {
		case errors.As(err, &fe):
			vm.Error, vm.ErrorEN, vm.Field, status = fe.DE, fe.EN, fe.Field, http.StatusBadRequest
		case err != nil:
			s.storeFail(w, r, err)
			return
		default:
			vm.Form.RecipientCSV = rf.CSV()
			vm.Skipped = skippedRows(rf)
		}
	}
	s.page(w, r, status, web.Chrome{Title: web.T(ctx, "Kampagnen"), Nav: "campaigns"}, web.Campaigns(vm))
}

func (s *Server) campaignsPage(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Campaigns == nil {
		s.failPage(w, r, http.StatusServiceUnavailable, "Kampagnen brauchen den Postausgang, der nicht läuft.")
		return
	}
	vm, err := s.campaignsVM(r)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(r.Context(), "Kampagnen"), Nav: "campaigns"}, web.Campaigns(vm))
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// campaignSubmit previews (action=preview) or creates (action=create) a
// campaign from the form; bad input shows the form again with a German
// sentence and stores nothing.
func (s *Server) campaignSubmit(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Campaigns == nil {
		s.failPage(w, r, http.StatusServiceUnavailable, "Kampagnen brauchen den Postausgang, der nicht läuft.")
		return
	}
	ctx := r.Context()
	vm, err := s.campaignsVM(r)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	f := campaignForm(r, vm)
	name, lang, _ := strings.Cut(f.Template, "|")
	in := campaign.Input{Name: f.Name, PhoneNumberID: f.Number, Template: name, Language: lang, Parameters: lines(f.Parameters),
		Audience: store.AudienceFilter{Contacts: lines(f.Contacts), Labels: f.Labels, ContactLabels: f.ContactLabels}, Start: f.Start}
	if len(f.Fields) > 0 {
		in.Audience.Fields = f.Fields
	}
	vm.Form = f
	show := func(status int, err error) {
		var fe *campaign.FieldError
		if !errors.As(err, &fe) {
			s.storeFail(w, r, err)
			return
		}
		vm.Error, vm.ErrorEN, vm.Field = fe.DE, fe.EN, fe.Field
		s.page(w, r, status, web.Chrome{Title: web.T(ctx, "Kampagnen"), Nav: "campaigns"}, web.Campaigns(vm))
	}
	if strings.TrimSpace(f.RecipientCSV) != "" {
		cols, _, _ := campaign.Needs(in.Parameters)
		rf, err := s.cfg.Campaigns.ReadRecipientFile(ctx, strings.NewReader(f.RecipientCSV), cols)
		if err != nil {
			show(http.StatusBadRequest, err)
			return
		}
		in.RecipientParams = rf.Params
		vm.Skipped = skippedRows(rf)
	}
	if r.PostFormValue("action") == "create" {
		c, err := s.cfg.Campaigns.Create(ctx, in, viewerOf(r).actor())
		if err != nil {
			show(http.StatusBadRequest, err)
			return
		}
		redirect(w, r, fmt.Sprintf("/campaigns/%d", c.ID))
		return
	}
	p, err := s.cfg.Campaigns.Preview(ctx, in, 5)
	if err != nil {
		show(http.StatusBadRequest, err)
		return
	}
	pv := &web.CampaignPreviewVM{Eligible: p.Eligible, Skipped: p.Skipped, Excluded: p.Unknown, Cost: fmt.Sprintf("%.2f %s", p.Cost, p.Currency)}
	for _, n := range p.Excluded {
		pv.Excluded += n
	}
	if !p.QuietUntil.IsZero() {
		loc := s.cfg.Location
		if loc == nil {
			loc = time.Local
		}
		pv.QuietUntil = p.QuietUntil.In(loc).Format("02.01.2006 15:04")
	}
	for _, m := range p.Messages {
		pv.Messages = append(pv.Messages, web.CampaignPreviewMessage{Recipient: m.Recipient, Text: m.Text})
	}
	vm.Preview = pv
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(ctx, "Kampagnen"), Nav: "campaigns"}, web.Campaigns(vm))
}

func (s *Server) campaignStatus(w http.ResponseWriter, r *http.Request) (*campaign.Status, bool) {
	if s.cfg.Campaigns == nil {
		s.failPage(w, r, http.StatusServiceUnavailable, "Kampagnen brauchen den Postausgang, der nicht läuft.")
		return nil, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return nil, false
	}
	st, err := s.cfg.Campaigns.Get(r.Context(), id)
	if err != nil {
		s.storeFail(w, r, err)
		return nil, false
	}
	return st, true
}

func (s *Server) campaignPage(w http.ResponseWriter, r *http.Request) {
	st, ok := s.campaignStatus(w, r)
	if !ok {
		return
	}
	vm := web.CampaignDetailVM{Row: s.campaignRow(r, st), CanManage: viewerOf(r).user.Role == store.RoleAdmin}
	s.page(w, r, http.StatusOK, web.Chrome{Title: st.Campaign.Name, Nav: "campaigns"}, web.CampaignDetail(vm))
}

func (s *Server) campaignCounts(w http.ResponseWriter, r *http.Request) {
	st, ok := s.campaignStatus(w, r)
	if !ok {
		return
	}
	s.fragment(w, r, web.CampaignCounts(s.campaignRow(r, st)))
}

func (s *Server) campaignResults(w http.ResponseWriter, r *http.Request) {
	st, ok := s.campaignStatus(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="kampagne-%d.csv"`, st.Campaign.ID))
	if err := s.cfg.Campaigns.WriteResultsCSV(r.Context(), st.Campaign.ID, w); err != nil {
		s.log.Error("campaign results", "err", err)
	}
}

func (s *Server) campaignControl(w http.ResponseWriter, r *http.Request) {
	st, ok := s.campaignStatus(w, r)
	if !ok {
		return
	}
	id, a := st.Campaign.ID, viewerOf(r).actor()
	var err error
	switch r.PathValue("action") {
	case "pause":
		err = s.cfg.Campaigns.Pause(r.Context(), id, a)
	case "resume":
		err = s.cfg.Campaigns.Resume(r.Context(), id, a)
	case "cancel":
		err = s.cfg.Campaigns.Cancel(r.Context(), id, a)
	default:
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	if errors.Is(err, store.ErrCampaignState) {
		setFlash(w, web.T(r.Context(), "Das geht im jetzigen Zustand der Kampagne nicht."))
	} else if err != nil {
		s.storeFail(w, r, err)
		return
	}
	redirect(w, r, fmt.Sprintf("/campaigns/%d", id))
}

func (s *Server) optInVM(r *http.Request) (web.OptInVM, map[int64]string, error) {
	var vm web.OptInVM
	links := map[int64]string{}
	list, err := s.store.OptInEntries(r.Context())
	if err != nil {
		return vm, nil, err
	}
	nums, err := s.store.BusinessNumbers(r.Context())
	if err != nil {
		return vm, nil, err
	}
	for _, e := range list {
		it := web.OptInEntryVM{ID: e.ID, Name: e.Name, Keyword: e.Keyword, Confirmation: e.Confirmation}
		for _, n := range nums {
			if n.DisplayPhoneNumber != "" && (e.PhoneNumberID == "" || e.PhoneNumberID == n.PhoneNumberID) {
				it.Link = campaign.Link(n.DisplayPhoneNumber, e)
				it.Snippet = campaign.Snippet(n.DisplayPhoneNumber, e, "")
				links[e.ID] = it.Link
				break
			}
		}
		vm.Entries = append(vm.Entries, it)
	}
	return vm, links, nil
}

func (s *Server) optInPage(w http.ResponseWriter, r *http.Request) {
	vm, _, err := s.optInVM(r)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(r.Context(), "Opt-in-Einstiege"), Nav: "campaigns"}, web.OptInEntries(vm))
}

func (s *Server) optInSubmit(w http.ResponseWriter, r *http.Request) {
	_, err := s.store.SaveOptInEntry(r.Context(), store.OptInEntry{Name: r.PostFormValue("name"), Keyword: r.PostFormValue("keyword"),
		Confirmation: r.PostFormValue("confirmation"), Button: r.PostFormValue("button")}, viewerOf(r).actor(), s.now())
	if errors.Is(err, store.ErrInvalid) {
		vm, _, verr := s.optInVM(r)
		if verr != nil {
			s.storeFail(w, r, verr)
			return
		}
		vm.Error = "Der Einstieg wurde nicht gespeichert: Name, Stichwort (einmalig), Bestätigung (bis 1024 Zeichen) und Schaltfläche (bis 20 Zeichen) angeben."
		vm.ErrorEN = strings.TrimPrefix(err.Error(), "store: invalid input: ")
		s.page(w, r, http.StatusBadRequest, web.Chrome{Title: web.T(r.Context(), "Opt-in-Einstiege"), Nav: "campaigns"}, web.OptInEntries(vm))
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	redirect(w, r, "/optin")
}

func (s *Server) optInQR(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	_, links, err := s.optInVM(r)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	link := links[id]
	if link == "" {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	var b []byte
	if r.PathValue("format") == "qr.svg" {
		b, err = campaign.QRSVG(link)
		w.Header().Set("Content-Type", "image/svg+xml")
	} else {
		b, err = campaign.QRPNG(link, 512)
		w.Header().Set("Content-Type", "image/png")
	}
	if err != nil {
		s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
		return
	}
	w.Write(b)
}
