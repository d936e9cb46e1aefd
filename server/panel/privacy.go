package panel

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// privacy is the data protection page: retention with what is due now,
// the scheduled jobs, and the record of processing activities.
func (s *Server) privacy(w http.ResponseWriter, r *http.Request) {
	s.renderPrivacy(w, r, http.StatusOK, nil)
}

// renderPrivacy shows the page; stop, if set, is a refused stop-word form
// to show again as typed.
func (s *Server) renderPrivacy(w http.ResponseWriter, r *http.Request, status int, stop *web.StopWordsVM) {
	ctx := r.Context()
	vm := web.PrivacyVM{}
	policies, err := s.store.RetentionPolicies(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	preview, err := s.store.RunRetention(ctx, store.RetentionOptions{Now: s.now(), DryRun: true})
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	// A number without its own policy counts under the default row.
	overridden := map[string]bool{}
	for _, p := range policies {
		if p.PhoneNumberID != "" {
			overridden[p.Class+"/"+p.PhoneNumberID] = true
		}
	}
	due := map[string]int64{}
	for _, it := range preview.Items {
		class := strings.TrimSuffix(it.Class, ".orphans")
		number := it.PhoneNumberID
		if !overridden[class+"/"+number] {
			number = ""
		}
		due[class+"/"+number] += it.Rows
	}
	for _, p := range policies {
		vm.Policies = append(vm.Policies, web.RetentionVM{Class: p.Class, Label: web.RetentionLabel(ctx, p.Class), Number: p.PhoneNumberID,
			Days: p.Days, Due: due[p.Class+"/"+p.PhoneNumberID]})
	}
	vm.MediaFiles = preview.MediaFiles + preview.OrphanFiles
	if s.cfg.Jobs != nil {
		for _, e := range s.cfg.Jobs.Entries() {
			jv := web.JobVM{Name: e.Name, Next: e.Next}
			if e.Last.Finished {
				jv.LastAt, jv.LastResult = e.Last.Started, e.Last.Summary
				if e.Last.Err != nil {
					jv.LastError = e.Last.Err.Error()
				}
			}
			vm.Jobs = append(vm.Jobs, jv)
		}
	}
	rec, err := s.store.RecordsOfProcessing(ctx, s.cfg.Processing)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	for _, a := range rec.Activities {
		vm.Activities = append(vm.Activities, web.ActivityVM{Name: a.Name, Purpose: a.Purpose, LegalBasis: a.LegalBasis, Subjects: a.Subjects,
			Categories: strings.Join(a.DataCategories, "; "), Recipients: strings.Join(a.Recipients, "; "), ThirdCountry: a.ThirdCountry,
			Retention: strings.Join(a.Retention, "; "), Location: a.Location})
	}
	for _, p := range rec.Processors {
		vm.Processors = append(vm.Processors, p.Name+" — "+p.Role)
	}
	vm.Measures = rec.Measures
	if vm.Stop, err = s.stopWordsVM(ctx); err != nil {
		s.storeFail(w, r, err)
		return
	}
	if stop != nil {
		stop.DefaultReply = vm.Stop.DefaultReply
		vm.Stop = *stop
	}
	s.page(w, r, status, web.Chrome{Title: web.T(ctx, "Datenschutz"), Nav: "privacy"}, web.Privacy(vm))
}

// privacyRetention changes one retention policy.
func (s *Server) privacyRetention(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	days, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("days")))
	if err != nil || days < 0 {
		setFlash(w, web.T(ctx, "Bitte eine Zahl von 0 bis 36500 Tagen angeben."))
		redirect(w, r, "/privacy")
		return
	}
	p := store.RetentionPolicy{Class: r.PostFormValue("class"), PhoneNumberID: r.PostFormValue("phone_number_id"), Days: days}
	if err := s.store.SetRetentionPolicy(ctx, p, v.actor(), s.now()); err != nil {
		if errors.Is(err, store.ErrInvalid) {
			setFlash(w, web.T(ctx, "Ungültige Eingabe."))
			redirect(w, r, "/privacy")
			return
		}
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(ctx, "Löschfrist gespeichert."))
	redirect(w, r, "/privacy")
}

// privacyJobRun starts a scheduled job now.
func (s *Server) privacyJobRun(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if s.cfg.Jobs == nil || !s.cfg.Jobs.StartJob(r.PathValue("name")) {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	setFlash(w, web.T(ctx, "Gestartet; das Ergebnis steht gleich unter „Geplante Aufgaben“."))
	redirect(w, r, "/privacy")
}

// contactHold sets a legal hold on a customer from a preset.
func (s *Server) contactHold(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	id, ok := pathID(r, "id")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if !ok || reason == "" || len(reason) > 500 {
		s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
		return
	}
	loc := s.cfg.Location
	if loc == nil {
		loc = time.Local
	}
	until, err := store.HoldUntil(r.PostFormValue("preset"), s.now(), loc)
	if err != nil {
		s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
		return
	}
	if _, err := s.store.SetHold(ctx, store.LegalHold{ContactID: id, Preset: r.PostFormValue("preset"), Reason: reason,
		Until: until.Unix(), CreatedBy: v.actor(), CreatedAt: s.now().Unix()}); err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.Tf(ctx, "Aufbewahrungspflicht bis %s gesetzt.", until.Format("02.01.2006")))
	redirect(w, r, fmt.Sprintf("/contacts/%d", id))
}

// contactHoldRelease ends a legal hold early.
func (s *Server) contactHoldRelease(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	id, ok1 := pathID(r, "id")
	hold, ok2 := pathID(r, "hold")
	if !ok1 || !ok2 {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	if err := s.store.ReleaseHold(ctx, hold, v.actor(), s.now()); err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(ctx, "Aufbewahrungspflicht aufgehoben."))
	redirect(w, r, fmt.Sprintf("/contacts/%d", id))
}
