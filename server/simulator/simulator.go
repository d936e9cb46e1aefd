// Package simulator is a stand-in for Meta's Cloud API: a fake Graph API
// that answers sends and media calls with Meta's bodies, sends signed
// sent → delivered → read webhooks back, fails on demand with Meta's
// documented errors, and fictional customers who write in. Tests, the
// demo (serve --demo) and load tests (pforte simulate) use it; it never
// talks to Meta.
package simulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
)

// Options configure a simulator. The zero value works (no webhooks).
type Options struct {
	// AccessToken is the bearer token the fake Graph API accepts; other
	// tokens get error 190. Empty accepts any token.
	AccessToken string
	// AppSecret signs the webhooks it sends.
	AppSecret []byte
	// WebhookURL is the gateway's /webhook; empty sends no webhooks.
	WebhookURL string
	// The business number the simulator plays.
	PhoneNumberID      string
	DisplayPhoneNumber string
	WABAID             string
	// StatusDelay separates sent, delivered and read receipts; negative
	// sends none. Zero means 50 ms.
	StatusDelay time.Duration
	// MediaURLTTL is how long a media download URL works (Meta: 5 minutes).
	MediaURLTTL time.Duration
	// EnforceWindow refuses free-form messages to customers who have not
	// written in the last 24 hours, like Meta (error 131047).
	EnforceWindow bool
	// Latency is added to every Graph API answer, to look like a network.
	Latency time.Duration
	// Templates, if set, are the approved templates: a template send must
	// name one of them with the right parameters, as at Meta. Empty
	// accepts any template.
	Templates []Template
	// Campaign makes template sends fail, get replies and opt-outs at
	// realistic rates (see Campaign); the zero value changes nothing.
	Campaign Campaign
	// TemplatePageSize is how many templates one listing page holds
	// (default 25, as Meta's default).
	TemplatePageSize int
	// ReviewDelay is how long a new or edited template stays PENDING
	// before the review ends (default 100 ms).
	ReviewDelay time.Duration
	// RejectMarker: the review rejects templates whose name contains it
	// (default "reject").
	RejectMarker string
	// PricingCategory, if set, is the category every pricing object names
	// (e.g. one Meta has not announced, to test unknown categories).
	PricingCategory string
	// KeepRequests bounds how many send calls Requests remembers (the
	// newest); zero remembers all. A long-running simulator (the demo, a
	// load test) sets it so its memory stays flat; the per-outcome counts
	// at /_simulator/requests always cover every call.
	KeepRequests int
	Logger       *slog.Logger
	Client       *http.Client
}

// Fault makes the next matching send fail the way Meta does.
type Fault struct {
	// Code is the Graph error code to answer (e.g. 130429, 131056, 131000,
	// 100, 190); its HTTP status follows Meta's habits unless HTTPStatus is set.
	Code       cloudapi.ErrorCode `json:"code"`
	HTTPStatus int                `json:"http_status"`
	// Raw is sent as the body instead of a Graph error (e.g. an HTML 502 page).
	Raw string `json:"raw"`
	// Hang accepts the message, then drops the connection without an
	// answer: the sender cannot know it went out.
	Hang bool `json:"hang"`
	// To restricts the fault to one recipient (digits or user id).
	To string `json:"to"`
	// Times is how many sends it hits (default 1).
	Times int `json:"times"`
}

// Request is one call the fake Graph API received.
type Request struct {
	At            time.Time
	PhoneNumberID string
	To            string // digits, or the user id
	Type          string
	Body          []byte
	WAMID         string // set when the simulator accepted it
	Outcome       string // "accepted", "read", "error <code>", "hang"
	MessageID     string // the message a read receipt (or typing indicator) names
}

type mediaObject struct {
	data     []byte
	mime     string
	filename string
	pnid     string
	deleted  bool
}

// Simulator is the fake Cloud API.
type Simulator struct {
	opts Options
	log  *slog.Logger

	mu          sync.Mutex
	faults      []*Fault
	requests    []Request
	outcomes    map[string]int // every send call by outcome, however many are kept
	media       map[string]*mediaObject
	windows     map[string]time.Time // customer → last inbound
	sentTo      map[string][]string  // customer → wamids the business sent
	inbound     map[string][]string  // customer → wamids the customer sent
	corrupt     int
	expire      int
	downloads   int
	webhookErrs int
	wg          sync.WaitGroup
	closed      bool
	statusCtx   context.Context
	stopStatus  context.CancelFunc
	number      *NumberState // nil: defaultNumberState

	templates      []*storedTemplate
	nextTemplateID int64
	templateLists  int
	uploads        map[string]*uploadSession
	handles        map[string]bool
}

// New creates a simulator.
func New(opts Options) *Simulator {
	if opts.PhoneNumberID == "" {
		opts.PhoneNumberID = "106540352242922"
	}
	if opts.DisplayPhoneNumber == "" {
		opts.DisplayPhoneNumber = "15550783881"
	}
	if opts.WABAID == "" {
		opts.WABAID = "102290129340398"
	}
	if opts.StatusDelay == 0 {
		opts.StatusDelay = 50 * time.Millisecond
	}
	if opts.MediaURLTTL <= 0 {
		opts.MediaURLTTL = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.TemplatePageSize <= 0 {
		opts.TemplatePageSize = 25
	}
	if opts.ReviewDelay <= 0 {
		opts.ReviewDelay = 100 * time.Millisecond
	}
	if opts.RejectMarker == "" {
		opts.RejectMarker = DefaultRejectMarker
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Simulator{opts: opts, log: opts.Logger, media: map[string]*mediaObject{}, windows: map[string]time.Time{},
		sentTo: map[string][]string{}, inbound: map[string][]string{}, statusCtx: ctx, stopStatus: cancel,
		uploads: map[string]*uploadSession{}, handles: map[string]bool{}, nextTemplateID: 1000, outcomes: map[string]int{}}
	s.seedTemplates()
	return s
}

// Options returns the simulator's settings.
func (s *Simulator) Options() Options { return s.snapshot() }

func (s *Simulator) snapshot() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// Close stops pending status webhooks and waits for those in flight.
func (s *Simulator) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stopStatus()
	s.wg.Wait()
}

// Inject queues a fault for the next matching sends.
func (s *Simulator) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// CorruptDownloads makes the next n media downloads return altered bytes.
func (s *Simulator) CorruptDownloads(n int) { s.mu.Lock(); s.corrupt += n; s.mu.Unlock() }

// ExpireDownloads makes the next n media downloads answer 404, as an
// expired download URL does.
func (s *Simulator) ExpireDownloads(n int) { s.mu.Lock(); s.expire += n; s.mu.Unlock() }

// Downloads is how many media download requests arrived.
func (s *Simulator) Downloads() int { s.mu.Lock(); defer s.mu.Unlock(); return s.downloads }

// Requests returns a copy of the send calls received so far: all of
// them, or the newest Options.KeepRequests.
func (s *Simulator) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.requests
	if k := s.opts.KeepRequests; k > 0 && len(kept) > k {
		kept = kept[len(kept)-k:]
	}
	return append([]Request(nil), kept...)
}

// ReadReceipts returns the read receipts received, typing indicators
// (Type "typing") included, so tests can assert what the customer saw.
func (s *Simulator) ReadReceipts() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Outcome == "read" {
			out = append(out, r)
		}
	}
	return out
}

// Accepted returns the sends the simulator accepted (or swallowed by a hang).
func (s *Simulator) Accepted() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Outcome == "accepted" || r.Outcome == "hang" {
			out = append(out, r)
		}
	}
	return out
}

// Handler serves the fake Graph API.
func (s *Simulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{version}/{pnid}/messages", s.handleSend)
	mux.HandleFunc("POST /{version}/{pnid}/media", s.handleUpload)
	mux.HandleFunc("GET /{version}/{media_id}", s.handleMediaGet)
	mux.HandleFunc("DELETE /{version}/{media_id}", s.handleMediaDelete)
	mux.HandleFunc("GET /lookaside/{media_id}", s.handleDownload)
	mux.HandleFunc("GET /{version}/{pnid}/settings", s.handleSettings)
	mux.HandleFunc("GET /{version}/{waba}/message_templates", s.handleTemplateList)
	mux.HandleFunc("POST /{version}/{waba}/message_templates", s.handleTemplateCreate)
	mux.HandleFunc("DELETE /{version}/{waba}/message_templates", s.handleTemplateDelete)
	mux.HandleFunc("POST /{version}/{app}/uploads", s.handleUploadStart)
	mux.HandleFunc("POST /{version}/{id}", s.handleObjectPost)
	// Control endpoints for people testing by hand (not part of Meta's API).
	mux.HandleFunc("POST /_simulator/faults", s.handleFault)
	mux.HandleFunc("GET /_simulator/requests", s.handleRequests)
	return mux
}

// handleFault queues a fault given as JSON, e.g. {"code":130429,"times":3}.
func (s *Simulator) handleFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || (f.Code == 0 && !f.Hang) {
		http.Error(w, `want {"code": 130429, "times": 1, "to": "<digits>"} or {"hang": true}`, http.StatusBadRequest)
		return
	}
	s.Inject(f)
	w.WriteHeader(http.StatusNoContent)
}

// handleRequests counts the send calls received by outcome.
func (s *Simulator) handleRequests(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Outcomes())
}

// Outcomes counts every send call received by outcome ("accepted",
// "error 131047", …), including those no longer kept by Requests.
func (s *Simulator) Outcomes() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.outcomes)
}

func (s *Simulator) graphError(w http.ResponseWriter, status int, code cloudapi.ErrorCode, title, details string) {
	e := cloudapi.NewError(status, code, title, details)
	e.FBTraceID = randomID(12)
	e.Raw = nil
	writeJSON(w, status, json.RawMessage(e.JSON()))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Simulator) authorised(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || (s.opts.AccessToken != "" && tok != s.opts.AccessToken) {
		e := &cloudapi.Error{Message: "Error validating access token: Session has expired.", Type: "OAuthException", Code: cloudapi.CodeAccessTokenExpired, Subcode: cloudapi.SubcodeSessionExpired, FBTraceID: randomID(12)}
		writeJSON(w, http.StatusUnauthorized, json.RawMessage(e.JSON()))
		return false
	}
	return true
}

// errorStatus is the HTTP status Meta is commonly seen to use per code.
func errorStatus(code cloudapi.ErrorCode) int {
	switch code {
	case cloudapi.CodeAccessTokenExpired:
		return http.StatusUnauthorized
	case cloudapi.CodeThroughputReached, cloudapi.CodePairRateLimit:
		return http.StatusTooManyRequests
	case cloudapi.CodeSomethingWentWrong:
		return http.StatusInternalServerError
	case cloudapi.CodeServiceUnavailable, cloudapi.CodeServiceDown:
		return http.StatusServiceUnavailable
	case cloudapi.CodeTemplateNotFound:
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}

var errorTitles = map[cloudapi.ErrorCode][2]string{
	cloudapi.CodeInvalidParameter:    {"Invalid parameter", "Invalid parameter."},
	cloudapi.CodeThroughputReached:   {"Rate limit hit", "Cloud API message throughput has been reached."},
	cloudapi.CodeSomethingWentWrong:  {"Something went wrong", "Something went wrong."},
	cloudapi.CodeServiceUnavailable:  {"Service unavailable", "A service is temporarily unavailable."},
	cloudapi.CodeUndeliverable:       {"Message undeliverable", "Unable to deliver message."},
	cloudapi.CodeReEngagement:        {"Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
	cloudapi.CodePairRateLimit:       {"(Business Account, Consumer Account) pair rate limit hit", "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."},
	cloudapi.CodeMaintenance:         {"Account in maintenance mode", "Business Account is in maintenance mode."},
	cloudapi.CodeTemplateParamCount:  {"Number of parameters does not match the expected number of params", "body: number of localizable_params does not match the expected number of params"},
	cloudapi.CodeTemplateNotFound:    {"Template name does not exist in the translation", "template name does not exist in the language"},
	cloudapi.CodeTemplateParamFormat: {"Parameter format does not match format in the created template", "header: parameter type does not match the template's header format"},
	cloudapi.CodeNumberNotRegistered: {"Account not registered", "Account not registered"},
	cloudapi.CodePolicyBlocked:       {"Temporarily blocked for policies violations", "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy."},
}

func (s *Simulator) takeFault(to string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.To != "" && f.To != to {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}

func (s *Simulator) handleSend(w http.ResponseWriter, r *http.Request) {
	if s.opts.Latency > 0 {
		time.Sleep(s.opts.Latency)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	now := time.Now()
	pnid := r.PathValue("pnid")
	rec := Request{At: now, PhoneNumberID: pnid, Body: body}
	if !s.authorised(w, r) {
		rec.Outcome = "error " + strconv.Itoa(int(cloudapi.CodeAccessTokenExpired))
		s.record(rec)
		return
	}
	sr, gerr := cloudapi.ParseSend(body)
	if gerr != nil {
		rec.Outcome = "error " + strconv.Itoa(int(cloudapi.CodeInvalidParameter))
		s.record(rec)
		gerr.FBTraceID = randomID(12)
		gerr.Raw = nil
		writeJSON(w, http.StatusBadRequest, json.RawMessage(gerr.JSON()))
		return
	}
	if sr.IsReadReceipt() {
		rec.Outcome, rec.Type, rec.MessageID = "read", "read", sr.MessageID
		if len(sr.TypingIndicator) > 0 && string(sr.TypingIndicator) != "null" {
			rec.Type = "typing"
		}
		s.record(rec)
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
		return
	}
	if sr.Type == "interactive" {
		// Meta checks an interactive message's object before anything else;
		// request_contact_info needs a body text and its action name, and
		// interactive messages never go to groups.
		gerr := cloudapi.CheckRequestContactInfo(sr.Payload)
		if gerr == nil && sr.RecipientType == "group" {
			gerr = cloudapi.InvalidParameter("Interactive messages are not supported in groups.")
		}
		if gerr != nil {
			rec.Outcome = "error " + strconv.Itoa(int(cloudapi.CodeInvalidParameter))
			s.record(rec)
			gerr.FBTraceID = randomID(12)
			gerr.Raw = nil
			writeJSON(w, http.StatusBadRequest, json.RawMessage(gerr.JSON()))
			return
		}
	}
	to := sr.PairKey()
	rec.To, rec.Type = to, sr.Type
	if f := s.takeFault(to); f != nil {
		if f.Hang {
			rec.WAMID = newWAMID(to)
			rec.Outcome = "hang"
			s.record(rec)
			s.noteSent(to, rec.WAMID)
			s.scheduleStatuses(pnid, sr, rec.WAMID)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		rec.Outcome = "error " + strconv.Itoa(int(f.Code))
		s.record(rec)
		status := f.HTTPStatus
		if status == 0 {
			status = errorStatus(f.Code)
		}
		if f.Raw != "" {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			io.WriteString(w, f.Raw)
			return
		}
		t := errorTitles[f.Code]
		if t[0] == "" {
			t = [2]string{"Error", ""}
		}
		s.graphError(w, status, f.Code, t[0], t[1])
		return
	}
	if sr.IsTemplate() {
		if code := s.templateError(sr); code != 0 {
			rec.Outcome = "error " + strconv.Itoa(int(code))
			s.record(rec)
			t := errorTitles[code]
			s.graphError(w, errorStatus(code), code, t[0], t[1])
			return
		}
	}
	if s.opts.EnforceWindow && !sr.IsTemplate() && !s.windowOpen(to, now) {
		rec.Outcome = "error " + strconv.Itoa(int(cloudapi.CodeReEngagement))
		s.record(rec)
		t := errorTitles[cloudapi.CodeReEngagement]
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeReEngagement, t[0], t[1])
		return
	}
	rec.WAMID = newWAMID(to)
	rec.Outcome = "accepted"
	s.record(rec)
	s.noteSent(to, rec.WAMID)
	resp := map[string]any{"messaging_product": "whatsapp"}
	if sr.To != "" {
		resp["contacts"] = []map[string]string{{"input": sr.To, "wa_id": cloudapi.PhoneDigits(sr.To)}}
	} else {
		resp["contacts"] = []map[string]string{{"input": sr.Recipient, "user_id": sr.Recipient}}
	}
	m := map[string]string{"id": rec.WAMID}
	if sr.IsTemplate() {
		m["message_status"] = "accepted"
	}
	resp["messages"] = []map[string]string{m}
	writeJSON(w, http.StatusOK, resp)
	s.scheduleStatuses(pnid, sr, rec.WAMID)
}

func (s *Simulator) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes[r.Outcome]++
	if k := s.opts.KeepRequests; k > 0 && len(s.requests) >= 2*k {
		// Drop k at once (amortised O(1)); Requests shows the newest k.
		s.requests = append(s.requests[:0], s.requests[len(s.requests)-k:]...)
	}
	s.requests = append(s.requests, r)
}

func (s *Simulator) noteSent(to, wamid string) {
	s.mu.Lock()
	l := append(s.sentTo[to], wamid)
	if len(l) > 20 {
		l = l[len(l)-20:]
	}
	s.sentTo[to] = l
	s.mu.Unlock()
}

func (s *Simulator) windowOpen(to string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, ok := s.windows[to]
	return ok && now.Sub(last) < 24*time.Hour
}

// scheduleStatuses sends sent, delivered and read receipts for a message.
func (s *Simulator) scheduleStatuses(pnid string, sr *cloudapi.SendRequest, wamid string) {
	s.mu.Lock()
	if s.opts.WebhookURL == "" || s.opts.StatusDelay < 0 || s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		o := s.snapshot()
		fail, reply, optOut := s.campaignOutcome(o, sr)
		for _, st := range []string{"sent", "delivered", "read"} {
			select {
			case <-time.After(s.opts.StatusDelay):
			case <-s.statusCtx.Done():
				return
			}
			body := statusWebhook(o, pnid, sr, wamid, st, time.Now())
			if fail >= 0 {
				body = failedStatusWebhook(o, pnid, sr, wamid, fail, time.Now())
			}
			if _, err := s.PostWebhook(s.statusCtx, body); err != nil {
				s.mu.Lock()
				s.webhookErrs++
				s.mu.Unlock()
				s.log.Debug("simulator: status webhook failed", "err", err)
			}
			if fail >= 0 {
				return
			}
		}
		if reply || optOut {
			text := "Danke, klingt interessant!"
			if optOut {
				text = "STOP"
			}
			c := Customer{WaID: cloudapi.PhoneDigits(sr.To), UserID: sr.Recipient}
			msg := map[string]any{"type": "text", "text": map[string]string{"body": text},
				"context": map[string]string{"from": o.DisplayPhoneNumber, "id": wamid}}
			if _, err := s.customerMessage(s.statusCtx, c, msg); err != nil {
				s.log.Debug("simulator: reply failed", "err", err)
			}
		}
	}()
}

// PostWebhook delivers a body to the gateway signed with the app secret,
// retrying a few times on failure like Meta (which keeps trying for days).
// It returns the final HTTP status.
func (s *Simulator) PostWebhook(ctx context.Context, body []byte) (int, error) {
	s.mu.Lock()
	target, secret := s.opts.WebhookURL, s.opts.AppSecret
	s.mu.Unlock()
	var lastErr error
	for i := 0; i < 5; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign(secret, body))
		resp, err := s.opts.Client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return resp.StatusCode, nil
			}
			lastErr = fmt.Errorf("simulator: webhook answered %d", resp.StatusCode)
			if resp.StatusCode == http.StatusUnauthorized {
				return resp.StatusCode, lastErr
			}
		} else {
			lastErr = err
		}
		select {
		case <-time.After(time.Duration(50<<i) * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return 0, lastErr
}

func (s *Simulator) handleUpload(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(w, r) {
		return
	}
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "The upload must be multipart/form-data: "+err.Error())
		return
	}
	defer r.MultipartForm.RemoveAll()
	if r.FormValue("messaging_product") != "whatsapp" {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "The parameter messaging_product is required.")
		return
	}
	f, fh, err := r.FormFile("file")
	if err != nil {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "The parameter file is required.")
		return
	}
	defer f.Close()
	mt := r.FormValue("type")
	if mt == "" {
		mt = fh.Header.Get("Content-Type")
	}
	data, err := io.ReadAll(io.LimitReader(f, cloudapi.MaxDocument+1))
	if err != nil {
		return
	}
	if int64(len(data)) > cloudapi.MaxSize(cloudapi.KindOfMIME(mt)) {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeMediaUpload, "Media upload error", "The file is larger than Meta allows for "+mt+".")
		return
	}
	id := s.AddMedia(data, mt, fh.Filename, r.PathValue("pnid"))
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

// AddMedia stores a file as if uploaded and returns its media id.
func (s *Simulator) AddMedia(data []byte, mimeType, filename, pnid string) string {
	id := numericID(16)
	s.mu.Lock()
	s.media[id] = &mediaObject{data: data, mime: mimeType, filename: filename, pnid: pnid}
	s.mu.Unlock()
	return id
}

// Media returns an uploaded file's bytes.
func (s *Simulator) Media(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.media[id]
	if !ok || m.deleted {
		return nil, false
	}
	return m.data, true
}

func (s *Simulator) handleMediaGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("media_id")
	if strings.HasPrefix(id, "upload:") {
		s.handleUploadStatus(w, r, id)
		return
	}
	if id == "message_template_library" { // GET /message_template_library
		s.handleTemplateLibrary(w, r)
		return
	}
	if !s.authorised(w, r) {
		return
	}
	if id == s.snapshot().PhoneNumberID {
		s.numberFields(w, r) // GET /{phone_number_id} shares the path shape
		return
	}
	s.mu.Lock()
	m, ok := s.media[id]
	s.mu.Unlock()
	if !ok || m.deleted {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "Unsupported get request. Object with ID '"+id+"' does not exist.")
		return
	}
	if p := r.URL.Query().Get("phone_number_id"); p != "" && p != m.pnid {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "The media does not belong to this phone number.")
		return
	}
	sum := sha256.Sum256(m.data)
	exp := time.Now().Add(s.opts.MediaURLTTL).Unix()
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"messaging_product": "whatsapp",
		"url":               fmt.Sprintf("%s://%s/lookaside/%s?ext=%d&hash=%s", scheme, r.Host, id, exp, randomID(8)),
		"mime_type":         m.mime,
		"sha256":            base64.StdEncoding.EncodeToString(sum[:]),
		"file_size":         strconv.Itoa(len(m.data)),
		"id":                id,
	})
}

func (s *Simulator) handleMediaDelete(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(w, r) {
		return
	}
	id := r.PathValue("media_id")
	s.mu.Lock()
	m, ok := s.media[id]
	if ok {
		m.deleted = true
	}
	s.mu.Unlock()
	if !ok {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "Unsupported delete request. Object with ID '"+id+"' does not exist.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

func (s *Simulator) handleDownload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.downloads++
	expireNow := s.expire > 0
	if expireNow {
		s.expire--
	}
	s.mu.Unlock()
	if !s.authorised(w, r) {
		return
	}
	exp, _ := strconv.ParseInt(r.URL.Query().Get("ext"), 10, 64)
	if expireNow || time.Now().Unix() > exp {
		http.Error(w, "URL signature expired", http.StatusNotFound)
		return
	}
	s.mu.Lock()
	m, ok := s.media[r.PathValue("media_id")]
	corrupt := s.corrupt > 0
	if corrupt {
		s.corrupt--
	}
	s.mu.Unlock()
	if !ok || m.deleted {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	data := m.data
	if corrupt {
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0xff
	}
	w.Header().Set("Content-Type", m.mime)
	if m.filename != "" {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.filename}))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

func numericID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}

// newWAMID builds an id that looks like Meta's: "wamid." and base64 of a
// blob holding the peer and a random hex id. It is opaque to everyone.
func newWAMID(peer string) string {
	var buf bytes.Buffer
	buf.WriteString("\x18")
	buf.WriteByte(byte(len(peer)))
	buf.WriteString(peer)
	buf.WriteString("\x15\x02\x00\x11\x18\x12")
	h := make([]byte, 9)
	rand.Read(h)
	fmt.Fprintf(&buf, "%X\x00", h)
	return "wamid.HB" + base64.StdEncoding.EncodeToString(buf.Bytes())
}

// SetWebhook sets where webhooks go and the secret that signs them, for
// when the gateway's address is known only after the simulator started.
func (s *Simulator) SetWebhook(url string, appSecret []byte) {
	s.mu.Lock()
	s.opts.WebhookURL, s.opts.AppSecret = url, appSecret
	s.mu.Unlock()
}
