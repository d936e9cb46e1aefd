package panel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

func (s *Server) settingsVM(ctx context.Context, r *http.Request) (web.SettingsVM, error) {
	vm := web.SettingsVM{WebhookURL: s.publicURL(r) + "/webhook", VerifyToken: s.cfg.VerifyToken, LabelColors: store.LabelColors,
		AppSecretSet: len(s.appSecrets()) > 0, Require2FA: s.require2FA(ctx)}
	if _, ok, err := s.store.Setting(ctx, store.SettingAccessToken); err == nil && ok {
		vm.AccessTokenSet = true
	}
	dels, err := s.store.RecentDeliveries(ctx, 20)
	if err != nil {
		return vm, err
	}
	for i, d := range dels {
		dv := web.DeliveryVM{ID: d.ID, At: time.Unix(d.ReceivedAt, 0), Bytes: d.Bytes, Verdict: "ok", Messages: d.Messages, Statuses: d.Statuses, Events: d.Events}
		if d.ParseError != "" {
			dv.Verdict, dv.Detail = "parse_error", d.ParseError
		}
		if i == 0 {
			vm.LastWebhook = dv.At
		}
		vm.Deliveries = append(vm.Deliveries, dv)
	}
	nums, err := s.store.BusinessNumbers(ctx)
	if err != nil {
		return vm, err
	}
	if err := s.numberSignalsVM(ctx, nums, &vm); err != nil {
		return vm, err
	}
	hs, err := s.store.NumberHealths(ctx)
	if err != nil {
		return vm, err
	}
	vm.Storage = map[string]web.NumberHealthVM{}
	for _, h := range hs {
		vm.Storage[h.PhoneNumberID] = numberHealthVM(ctx, h)
	}
	keys, err := s.store.APIKeys(ctx)
	if err != nil {
		return vm, err
	}
	for _, k := range keys {
		kv := web.APIKeyVM{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes.Strings(), Created: time.Unix(k.CreatedAt, 0), Revoked: k.RevokedAt > 0}
		if k.LastUsedAt > 0 {
			kv.LastUsed = time.Unix(k.LastUsedAt, 0)
		}
		vm.APIKeys = append(vm.APIKeys, kv)
	}
	canned, err := s.store.CannedReplies(ctx)
	if err != nil {
		return vm, err
	}
	for _, c := range canned {
		vm.Canned = append(vm.Canned, web.CannedVM{ID: c.ID, Title: c.Title, Body: c.Body})
	}
	labels, err := s.store.Labels(ctx)
	if err != nil {
		return vm, err
	}
	for _, l := range labels {
		vm.Labels = append(vm.Labels, web.LabelVM{ID: l.ID, Name: l.Name, Color: l.Color})
	}
	if vm.Alarms, err = s.alarms(ctx); err != nil {
		return vm, err
	}
	vm.SendingOff = s.cfg.Outbox == nil
	vm.SubscriptionNote = web.T(ctx, "Keine Weiterleitungen eingerichtet.")
	subs, err := s.store.Subscriptions(ctx)
	if err != nil {
		return vm, err
	}
	now := s.now()
	ms := func(v int64) time.Time {
		if v == 0 {
			return time.Time{}
		}
		return time.UnixMilli(v)
	}
	for _, sub := range subs {
		q := sub.Queue
		sv := web.SubscriptionVM{ID: sub.ID, Name: sub.Name, URL: sub.URL, Enabled: sub.Enabled, Pending: q.Pending, Dead: q.Dead,
			OldestAge: q.OldestAge(now), Delivered: q.Delivered, LastSuccess: ms(q.LastSuccessAt), LastError: q.LastError, LastErrorAt: ms(q.LastErrorAt)}
		vm.Subscriptions = append(vm.Subscriptions, sv)
	}
	if s.cfg.Replica != nil {
		vm.Replica = s.cfg.Replica()
	}
	if s.cfg.ReplicaSetup != nil {
		if vm.ReplicaForm, err = s.replicaFormVM(ctx); err != nil {
			return vm, err
		}
	}
	return vm, nil
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request) {
	s.renderSettings(w, r, "")
}

func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, newKey string) {
	vm, err := s.settingsVM(r.Context(), r)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm.NewAPIKey = newKey
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(r.Context(), "Einstellungen"), Nav: "settings"}, web.Settings(vm))
}

func (s *Server) settingsDone(w http.ResponseWriter, r *http.Request, anchor string) {
	setFlash(w, web.T(r.Context(), "Gespeichert."))
	redirect(w, r, "/settings"+anchor)
}

// settingsMeta replaces Meta secrets; they are sealed and never shown again.
func (s *Server) settingsMeta(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	secret, token := strings.TrimSpace(r.PostFormValue("app_secret")), strings.TrimSpace(r.PostFormValue("access_token"))
	if len(secret) > 256 || len(token) > 4096 || strings.ContainsAny(secret+token, " \n\t") {
		s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
		return
	}
	if secret != "" {
		if err := s.store.SetSecret(ctx, store.SettingAppSecret, []byte(secret), store_audit(v, r, store.AuditSettingsChange)); err != nil {
			s.storeFail(w, r, err)
			return
		}
		s.setAppSecrets([][]byte{[]byte(secret)})
	}
	if token != "" {
		if err := s.store.SetSecret(ctx, store.SettingAccessToken, []byte(token), store_audit(v, r, store.AuditSettingsChange)); err != nil {
			s.storeFail(w, r, err)
			return
		}
		// The Meta client reads the stored token on every call (AccessTokens):
		// the next send, download or erasure uses this one.
	}
	s.settingsDone(w, r, "#meta")
}

var digits = regexp.MustCompile(`^[0-9]{1,32}$`)

func (s *Server) settingsNumber(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	id, disp, waba := strings.TrimSpace(r.PostFormValue("phone_number_id")), strings.TrimLeft(strings.TrimSpace(r.PostFormValue("display")), "+"), strings.TrimSpace(r.PostFormValue("waba_id"))
	if !digits.MatchString(id) || (disp != "" && !digits.MatchString(disp)) || (waba != "" && !digits.MatchString(waba)) {
		s.failPage(w, r, http.StatusBadRequest, "Bitte nur Ziffern eingeben.")
		return
	}
	if err := s.store.AddBusinessNumber(r.Context(), store.Number{PhoneNumberID: id, DisplayPhoneNumber: disp, WABAID: waba}, store_audit(v, r, store.AuditSettingsNumberAdd)); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.settingsDone(w, r, "")
}

func (s *Server) settingsSecurity(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	val := "0"
	if r.PostFormValue("require_2fa") == "1" {
		val = "1"
	}
	e := store_audit(v, r, store.AuditSettingsChange)
	e.Detail = fmt.Sprintf(`{"require_2fa":%s}`, map[string]string{"0": "false", "1": "true"}[val])
	if err := s.store.SetSetting(r.Context(), settingRequire2FA, val, e); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.settingsDone(w, r, "")
}

func (s *Server) apiKeyCreate(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	r.ParseForm()
	name := strings.TrimSpace(r.PostFormValue("name"))
	scopes, err := store.ParseScopes(strings.Join(r.PostForm["scope"], ","))
	if name == "" || len(name) > 100 || err != nil {
		s.failPage(w, r, http.StatusBadRequest, "Bitte Name und mindestens ein Recht angeben.")
		return
	}
	secret, k, err := s.store.CreateAPIKey(ctx, name, scopes)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	e := store_audit(v, r, store.AuditAPIKeyCreate)
	e.Target, e.Detail = store.KeyActor(k.Prefix).String(), fmt.Sprintf(`{"scopes":%q}`, scopes.String())
	s.audit(r, e)
	// The key is shown in this response only, never stored in the clear.
	s.renderSettings(w, r, secret)
}

func (s *Server) apiKeyRevoke(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	if err := s.store.RevokeAPIKey(r.Context(), id, store_audit(v, r, store.AuditAPIKeyRevoke)); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.settingsDone(w, r, "")
}

func (s *Server) cannedCreate(w http.ResponseWriter, r *http.Request) {
	title, body := r.PostFormValue("title"), r.PostFormValue("body")
	if len(title) > 100 || len(body) > 4096 {
		s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
		return
	}
	if err := s.store.SaveCannedReply(r.Context(), store.CannedReply{Title: title, Body: body}); err != nil {
		s.failPage(w, r, http.StatusUnprocessableEntity, "Titel und Text dürfen nicht leer sein.")
		return
	}
	s.settingsDone(w, r, "")
}

func (s *Server) cannedDelete(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	if err := s.store.DeleteCannedReply(r.Context(), id); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.settingsDone(w, r, "")
}

func (s *Server) labelCreate(w http.ResponseWriter, r *http.Request) {
	if _, err := s.store.CreateLabel(r.Context(), r.PostFormValue("name"), r.PostFormValue("color")); err != nil {
		msg := "Der Name muss 1 bis 40 Zeichen haben."
		if err == store.ErrExists {
			msg = "Ein Label mit diesem Namen gibt es schon."
		}
		s.failPage(w, r, http.StatusUnprocessableEntity, msg)
		return
	}
	s.settingsDone(w, r, "")
}

func (s *Server) labelDelete(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	if err := s.store.DeleteLabel(r.Context(), id); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.settingsDone(w, r, "")
}

// subscriptionReplay sends a subscription's given-up deliveries, or the
// last day's, again (peers' users most miss this when a consumer was down).
func (s *Server) subscriptionReplay(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	rp := store.Replay{DeadLetter: true}
	if r.PostFormValue("what") == "day" {
		now := s.now()
		rp = store.Replay{From: now.Add(-24 * time.Hour), To: now}
	}
	n, err := s.store.ReplayFanout(r.Context(), v.actor(), id, rp)
	if err != nil {
		var in *store.InputError
		if errors.As(err, &in) {
			s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
			return
		}
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.Plural(r.Context(), int64(n), "%s Zustellung wird erneut gesendet.", "%s Zustellungen werden erneut gesendet."))
	redirect(w, r, "/settings#fanout")
}
