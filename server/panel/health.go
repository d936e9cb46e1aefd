package panel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/server/health"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// healthPage shows each number's standing at Meta, the alarms and the
// alarm mail status with the mail server form.
func (s *Server) healthPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vm := web.HealthVM{}
	var err error
	if vm.Alarms, err = s.alarms(ctx); err != nil {
		s.storeFail(w, r, err)
		return
	}
	hs, err := s.store.NumberHealths(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	for _, h := range hs {
		vm.Numbers = append(vm.Numbers, numberHealthVM(ctx, h))
	}
	ms, err := s.store.AlarmMailStatus(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm.MailPending, vm.MailSent, vm.MailFailing, vm.MailError = ms.Pending, ms.Sent, ms.Failing, ms.LastError
	cfg, _ := health.LoadSMTP(ctx, s.store)
	vm.SMTP = web.SMTPFormVM{Host: cfg.Host, Security: string(cfg.Security), User: cfg.User, From: cfg.From,
		To: strings.Join(cfg.To, ", "), PasswordSet: cfg.Password != ""}
	if cfg.Port > 0 {
		vm.SMTP.Port = strconv.Itoa(cfg.Port)
	}
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(ctx, "Zustand und Alarme"), Nav: "dashboard"}, web.HealthPage(vm))
}

func numberHealthVM(ctx context.Context, h store.NumberHealth) web.NumberHealthVM {
	vm := web.NumberHealthVM{PhoneNumberID: h.PhoneNumberID, Quality: h.QualityRating, Tier: h.MessagingLimitTier,
		Throughput: h.Throughput, NameStatus: h.NameStatus, VerifiedName: h.VerifiedName, Account: h.AccountStatus,
		ReadError: h.ReadError}
	switch {
	case h.StorageStatus == "":
	case h.LocalStorageOn():
		vm.LocalStorage = web.Tf(ctx, "an (%s)", h.StorageRegion)
		vm.StorageEU, vm.StorageRegion = strings.EqualFold(h.StorageRegion, "DE"), h.StorageRegion
	default:
		vm.LocalStorage = web.T(ctx, "aus")
	}
	if h.LastWebhookAt > 0 {
		vm.LastWebhook = time.Unix(h.LastWebhookAt, 0)
	}
	if h.ReadAt > 0 {
		vm.ReadAt = time.Unix(h.ReadAt, 0)
	}
	return vm
}

// healthSMTP saves the mail server; nothing is saved when a field is wrong.
func (s *Server) healthSMTP(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	port, _ := strconv.Atoi(strings.TrimSpace(r.PostFormValue("port")))
	c := health.SMTPConfig{Host: strings.TrimSpace(r.PostFormValue("host")), Port: port,
		Security: health.Security(r.PostFormValue("security")), User: strings.TrimSpace(r.PostFormValue("user")),
		Password: r.PostFormValue("password"), From: strings.TrimSpace(r.PostFormValue("from"))}
	for _, a := range strings.Split(r.PostFormValue("to"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.To = append(c.To, a)
		}
	}
	if err := c.Validate(); err != nil {
		field := strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")
		msg := map[string]string{
			"host": "Bitte den Mailserver angeben.", "port": "Bitte einen Port von 1 bis 65535 angeben.",
			"security": "Bitte eine Verschlüsselung wählen.", "from": "Bitte eine Absenderadresse angeben.",
			"to": "Bitte mindestens eine gültige Empfängeradresse angeben.",
		}[field]
		if msg == "" {
			msg = "Ungültige Eingabe."
		}
		s.failPage(w, r, http.StatusBadRequest, msg)
		return
	}
	e := store_audit(v, r, store.AuditSMTPChange)
	e.Detail = fmt.Sprintf(`{"host":%q,"port":%d,"security":%q}`, c.Host, c.Port, c.Security)
	if err := health.SaveSMTP(ctx, s.store, c, e); err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(ctx, "Gespeichert."))
	redirect(w, r, "/health")
}

// costRange reads from/to (YYYY-MM) from the query or the form,
// defaulting to the current month.
func (s *Server) costRange(r *http.Request) (from, to string, ok bool) {
	r.ParseForm()
	q := r.Form
	to = q.Get("to")
	if to == "" {
		to = s.now().UTC().Format("2006-01")
	}
	from = q.Get("from")
	if from == "" {
		from = to
	}
	_, e1 := time.Parse("2006-01", from)
	_, e2 := time.Parse("2006-01", to)
	return from, to, e1 == nil && e2 == nil && from <= to
}

// costsPage shows what Meta priced, per month × number × category ×
// country × agent, with the editable rate table.
func (s *Server) costsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	from, to, ok := s.costRange(r)
	if !ok {
		s.failPage(w, r, http.StatusBadRequest, "Bitte einen gültigen Zeitraum (Monat von–bis) angeben.")
		return
	}
	rows, err := s.store.CostReport(ctx, from, to)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	rates, err := s.store.Rates(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm := web.CostsVM{From: from, To: to, Totals: map[string]string{}, RatesDate: store.DefaultRatesDate}
	totals := map[string]int64{}
	for _, c := range rows {
		row := web.CostRowVM{Month: c.Month, PhoneNumberID: c.PhoneNumberID, Category: c.Category, Country: c.CountryCode,
			Messages: c.Messages, Billable: c.Billable, Currency: c.Currency}
		if len(c.Dims) > 0 {
			row.Agent = c.Dims[0]
		}
		for _, k := range store.PricingCategories {
			row.KnownCategory = row.KnownCategory || k == c.Category
		}
		if c.RateKnown {
			row.Cost = store.FormatMicros(c.CostMicros)
			totals[c.Currency] += c.CostMicros
		}
		vm.Rows = append(vm.Rows, row)
	}
	for cur, m := range totals {
		vm.Totals[cur] = store.FormatMicros(m)
	}
	var b strings.Builder
	for _, rt := range rates {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s\n", rt.CountryCode, rt.Category, rt.Currency, store.FormatMicros(rt.RateMicros), rt.ValidFrom)
	}
	vm.RatesText = b.String()
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(ctx, "Kosten"), Nav: "dashboard"}, web.CostsPage(vm))
}

// costsCSV is the cost report as a file, the same as /api/v1/costs?format=csv
// (a POST, like the contact export: a download, not a page).
func (s *Server) costsCSV(w http.ResponseWriter, r *http.Request) {
	from, to, ok := s.costRange(r)
	if !ok {
		s.failPage(w, r, http.StatusBadRequest, "Bitte einen gültigen Zeitraum (Monat von–bis) angeben.")
		return
	}
	rows, err := s.store.CostReport(r.Context(), from, to)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="pforte-kosten-`+from+`-`+to+`.csv"`)
	store.WriteCostCSV(w, rows)
}

// errRateLine names the line of the rate table at fault.
var errRateLine = errors.New("rate line")

// ParseRates reads the rate table's text: one rate per line,
// "country code, category, currency, price, valid from". Blank lines and
// lines starting with # are skipped.
func ParseRates(text string) ([]store.Rate, int, error) {
	var out []store.Rate
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 5 {
			return nil, i + 1, errRateLine
		}
		for j := range f {
			f[j] = strings.TrimSpace(f[j])
		}
		price, err := strconv.ParseFloat(strings.Replace(f[3], ",", ".", 1), 64)
		if err != nil || math.IsNaN(price) || math.IsInf(price, 0) || price < 0 || price > 10 {
			return nil, i + 1, errRateLine
		}
		rt := store.Rate{CountryCode: strings.TrimPrefix(f[0], "+"), Category: store.NormaliseCategory(f[1]),
			Currency: strings.ToUpper(f[2]), RateMicros: int64(math.Round(price * 1e6)), ValidFrom: f[4]}
		if store.ValidateRate(rt) != nil {
			return nil, i + 1, errRateLine
		}
		out = append(out, rt)
	}
	return out, 0, nil
}

// costsRates replaces the rate table; a wrong line saves nothing.
func (s *Server) costsRates(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	rates, line, err := ParseRates(r.PostFormValue("rates"))
	if err != nil {
		s.failPage(w, r, http.StatusBadRequest, web.Tf(ctx, "Zeile %d der Preistabelle ist ungültig: erwartet „Ländervorwahl, Kategorie, Währung, Preis, gültig ab (JJJJ-MM-TT)“.", line))
		return
	}
	e := store_audit(v, r, store.AuditPricingRates)
	e.Detail = fmt.Sprintf(`{"rates":%d}`, len(rates))
	if err := s.store.SetRates(ctx, rates, &e); err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(ctx, "Gespeichert."))
	redirect(w, r, "/costs")
}
