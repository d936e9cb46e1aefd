package panel

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pforte/pforte/server/automation"

	"github.com/a-h/templ"

	"github.com/pforte/pforte/jobs"
	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/templates"
	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// Config configures the admin panel.
type Config struct {
	// PublicURL is how people and Meta reach this gateway, e.g.
	// "https://pforte.example.de"; empty derives it from each request.
	PublicURL string
	// TLS says the public listener terminates TLS: cookies get Secure and
	// the __Host- prefix, and responses carry HSTS.
	TLS bool
	// IdleTimeout and AbsoluteTimeout end sessions (defaults 2 h and 12 h:
	// a working day, with a break, without logging in again).
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// StreamCheck is how often an open live event stream re-checks its
	// session and role when nothing happens (default 30 s); it also checks
	// before it passes on an event.
	StreamCheck time.Duration
	// Sender sends the composer's messages; nil disables the composer.
	Sender Sender
	// Status reports optional figures for the dashboard and settings
	// (certificate expiry, free disk, queues); nil shows none.
	Status Status
	// MarkUntranslated renders an English text that has no translation as
	// ⟦German text⟧ instead of falling back to German, so tests that read
	// every page find the gaps. Off in production.
	MarkUntranslated bool

	// Campaigns runs campaigns; nil hides their pages.
	Campaigns *campaign.Engine

	// Outbox queues the messages the panel sends (stop replies, secure
	// links, the composer unless Sender is set); nil disables sending.
	Outbox *outbox.Sender
	// Secrets holds the Meta app secrets the gateway checks webhooks with;
	// the settings page saves a new one there.
	Secrets *cloudapi.AppSecrets
	// VerifyToken is shown on the settings page for Meta's dashboard.
	VerifyToken string
	// Location is the company's time zone (legal hold presets end on 31 Dec there).
	Location *time.Location
	// DeleteMetaMedia deletes a file Pforte uploaded to Meta; used after an
	// erasure. Nil, or cloudapi.ErrNoToken, skips it.
	DeleteMetaMedia func(ctx context.Context, mediaID string) error
	// Processing fills in the record of processing activities.
	Processing store.ProcessingContext
	// Jobs shows and starts the scheduled jobs; nil without a scheduler.
	Jobs jobs.Runner
	// SSOHTTPClient carries the requests to the single sign-on provider
	// (discovery, keys, tokens); nil uses a client with a 10 s timeout.
	SSOHTTPClient *http.Client
	// SSO is single sign-on configuration given at start (pforte serve
	// --sso-* flags or PFORTE_SSO_* variables): what it sets wins over the
	// settings page, which shows those fields read-only.
	SSO SSOFixed
	// Automations reads and saves business hours and automatic replies
	// (the same checks as the API); New makes one on the store when nil.
	Automations *automation.Settings
	// Templates syncs and manages templates at Meta; nil without an
	// access token (the templates page then only shows what is known).
	Templates *templates.Manager
	// Replica reads the off-site replication's state for the settings
	// page (the same status file as "pforte replica status"); nil: off.
	Replica func() *ReplicaState
	// ReplicaSetup lets admins set the replica up on the settings page;
	// nil: the page only shows its state.
	ReplicaSetup *ReplicaSetup
}

// ReplicaState is the off-site replication's state as the replicator last
// reported it; main fills it from the status file.
type ReplicaState = web.ReplicaVM

// Sender sends a message typed in the panel. Main wires the outbox in;
// its refusals (outbox.ErrWindowClosed, …) are what a Sender returns for
// a message refused before Meta.
type Sender interface {
	PanelSend(ctx context.Context, m Message) error
}

// Message is one message from the composer.
type Message struct {
	ConversationID int64
	PhoneNumberID  string
	ToWaID         string
	ToUserID       string
	ToGroupID      string // a group conversation's group: replies go to the group
	AgentID        int64
	Type           string // text, image, video, audio, document, template
	Text           string // body or caption
	ReplyTo        string // wamid of the quoted message
	File           *File
	Template       *Template
	// Built is a body the composer built and checked already (buttons,
	// lists, location, contact cards, reactions); sendBody only addresses it.
	Built *cloudapi.Outbound
}

// File is an attachment uploaded in the composer. Content streams
// from the request's spool file (up to 100 MB, never held in memory); it
// can be read once, during PanelSend.
type File struct {
	Name    string
	Mime    string
	Size    int64
	Content io.Reader
}

// Template is a template with its body parameters, in placeholder order,
// and what its header and buttons take.
type Template struct {
	Name     string
	Language string
	Params   []Param
	// Header is the text header's placeholder, if it has one.
	Header *Param
	// HeaderMedia ("image", "video", "document") and HeaderLink fill a
	// media header.
	HeaderMedia, HeaderLink string
	// Buttons are the values of buttons that take one (URL suffix, coupon
	// code), by button index; CopyCode marks coupon codes.
	Buttons  map[int]string
	CopyCode map[int]bool
}

// Param is one filled-in placeholder; Name is the placeholder's name
// ("1", "2" for positional templates).
type Param struct {
	Name  string
	Value string
}

// Status supplies the dashboard's operating figures from the running
// server (cli implements it); without one the panel measures the store
// and its data directory itself.
type Status interface {
	// CertExpiry is the earliest certificate expiry (zero: none known).
	CertExpiry() time.Time
	// DiskFree is the space left for the data directory (0: unknown).
	DiskFree() int64
	// Queues are the outbox's and the fan-out's backlogs.
	Queues(ctx context.Context) (Queues, error)
}

// Queues are the backlogs the dashboard shows.
type Queues struct {
	OutboxWaiting int // queued or being sent
	OutboxUnknown int // left mid-send by a crash; never retried blindly
	Subscriptions []SubscriptionQueue
}

// SubscriptionQueue is one fan-out subscription's backlog.
type SubscriptionQueue struct {
	Name    string
	Pending int64
	Dead    int64
}

// StoreQueues reads the queue figures from the store.
func StoreQueues(ctx context.Context, st *store.Store) (Queues, error) {
	counts, err := st.OutboxCounts(ctx)
	if err != nil {
		return Queues{}, err
	}
	q := Queues{OutboxWaiting: counts[store.OutboxQueued] + counts[store.OutboxSending], OutboxUnknown: counts[store.OutboxUnknown]}
	subs, err := st.Subscriptions(ctx)
	if err != nil {
		return Queues{}, err
	}
	for _, sub := range subs {
		q.Subscriptions = append(q.Subscriptions, SubscriptionQueue{Name: sub.Name, Pending: sub.Queue.Pending, Dead: sub.Queue.Dead})
	}
	return q, nil
}

type panelState struct {
	cfg         Config
	broker      *broker
	login       *loginThrottle  // failed logins, codes and re-authentications (throttle.go)
	throttled   *throttledAudit // audit rows of refused attempts, folded per minute
	argon       argonCounter    // password hashes computed (password.go)
	cop         *http.CrossOriginProtection
	enrolMu     sync.Mutex
	enrolments  map[int64]enrolment // pending TOTP secrets by session id
	staticFiles http.Handler
	lastSweep   atomic.Int64 // unix seconds of the last expired-session sweep
	dash        dashCache
	noSuchUser  func() string // see noSuchUserHash

	// read receipts and typing sent to Meta (signals.go)
	signals  chatSignalState
	sso      ssoState   // logins under way at the provider (sso.go)
	webauthn ceremonies // passkey challenges under way (passkey.go)
	// recentAuth is when a session last confirmed its password, by
	// session id (passkey.go: enrolling a passkey needs a recent one).
	recentAuth recentAuths
}

type enrolment struct {
	secret  []byte
	expires time.Time
}

func newPanelState(cfg Config) *panelState {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Hour
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = 12 * time.Hour
	}
	if cfg.StreamCheck <= 0 {
		cfg.StreamCheck = 30 * time.Second
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	p := &panelState{
		cfg:         cfg,
		broker:      newBroker(),
		noSuchUser:  noSuchUserHash(),
		login:       newLoginThrottle(),
		cop:         http.NewCrossOriginProtection(),
		enrolments:  map[int64]enrolment{},
		staticFiles: web.StaticHandler(),
	}
	p.sso.flows = map[string]pendingFlow{}
	p.webauthn.m = map[string]ceremony{}
	p.recentAuth.m = map[int64]time.Time{}
	p.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	return p
}

// StopStreams ends the panel's live event streams so that a graceful
// shutdown does not wait for them. Register it with http.Server.RegisterOnShutdown.
func (s *Server) StopStreams() {
	s.panel.broker.close()
	s.panel.throttled.flush() // pending counts of throttled attempts
}

// Publish tells open panels about a change (used by the send path too).
func (s *Server) Publish(ev Event) {
	if s.panel.broker.active() {
		s.panel.broker.publish(ev)
	}
}

// --- request context --------------------------------------------------

type panelCtxKey struct{}

// viewer is the logged-in person of a panel request.
type viewer struct {
	session *store.Session
	user    *store.User
	token   string
}

func viewerOf(r *http.Request) *viewer {
	v, _ := r.Context().Value(panelCtxKey{}).(*viewer)
	return v
}

func (v *viewer) actor() store.Actor { return store.UserActor(v.user.ID) }

func (v *viewer) vm() *web.UserVM {
	return &web.UserVM{ID: v.user.ID, Name: v.user.DisplayName(), Email: v.user.Email, Role: string(v.user.Role), Notify: v.user.Notify}
}

// --- rendering ----------------------------------------------------------

// page renders a full panel page with the chrome around content.
func (s *Server) page(w http.ResponseWriter, r *http.Request, status int, c web.Chrome, content templ.Component) {
	v := viewerOf(r)
	if v != nil {
		c.User = v.vm()
		if c.User.Can("inbox") {
			if n, err := s.store.UnreadCount(r.Context()); err == nil {
				c.Unread = n
			}
		}
	}
	if f := takeFlash(w, r); f != "" && c.Flash == "" {
		c.Flash = f
	}
	s.html(w, r, status, web.Page(c, content))
}

// bare renders a page without navigation (login, setup, invite).
func (s *Server) bare(w http.ResponseWriter, r *http.Request, status int, title string, content templ.Component) {
	s.html(w, r, status, web.Bare(title, content))
}

func (s *Server) html(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := c.Render(r.Context(), w); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn("panel render", "path", r.URL.Path, "err", err)
	}
}

// fragment renders a part of a page for htmx.
func (s *Server) fragment(w http.ResponseWriter, r *http.Request, c templ.Component) {
	s.html(w, r, http.StatusOK, c)
}

// failPage answers a refused or failed request with a readable page.
func (s *Server) failPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	ctx := r.Context()
	if viewerOf(r) == nil {
		s.bare(w, r, status, http.StatusText(status), web.ErrorPage(web.Chrome{}, status, web.T(ctx, msg)))
		return
	}
	s.page(w, r, status, web.Chrome{Title: http.StatusText(status)}, web.ErrorPage(web.Chrome{}, status, web.T(ctx, msg)))
}

// storeFail logs a storage error and shows a generic page.
func (s *Server) storeFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	s.log.Error("panel", "path", r.URL.Path, "err", err)
	s.failPage(w, r, http.StatusServiceUnavailable, "Die Datenbank ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.")
}

// redirect sends the browser on after a POST (303: the next request is a GET).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// --- cookies --------------------------------------------------------------

// cookieName is the session cookie's name; on TLS the __Host- prefix makes
// the browser refuse it from any other host or path.
func (s *Server) cookieName(r *http.Request) string {
	if s.secure(r) {
		return "__Host-pforte"
	}
	return "pforte"
}

func (s *Server) secure(r *http.Request) bool { return s.panel.cfg.TLS || tlsmgr.IsHTTPS(r) }

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(r), Value: token, Path: "/", HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteLaxMode, MaxAge: int(s.panel.cfg.AbsoluteTimeout.Seconds())})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(r), Value: "", Path: "/", HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

func (s *Server) sessionToken(r *http.Request) string {
	c, err := r.Cookie(s.cookieName(r))
	if err != nil || len(c.Value) < 20 || len(c.Value) > 100 {
		return ""
	}
	return c.Value
}

func newToken() string {
	b := make([]byte, 32) // 256 bits, ASVS 7.2.3 asks for at least 128
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

const flashCookie = "pforte_flash"

// setFlash leaves a one-line message for the next page.
func setFlash(w http.ResponseWriter, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(msg), Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: 60})
}

func takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	msg, _ := url.QueryUnescape(c.Value)
	if len(msg) > 300 {
		return ""
	}
	return msg
}

// publicURL is the gateway's external base URL.
func (s *Server) publicURL(r *http.Request) string {
	if s.panel.cfg.PublicURL != "" {
		return s.panel.cfg.PublicURL
	}
	scheme := "http"
	if s.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func itoa64(n int64) string { return strconvFormat(n) }

func strconvFormat(n int64) string {
	return strconv.FormatInt(n, 10)
}
