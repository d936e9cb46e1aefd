package server

import (
	"net/http"
)

// panelRoute is one line of the panel's route table. Roles: admins (A),
// agents (G), auditors (U), see panel_middleware.go.
type panelRoute struct {
	pattern string
	roles   string
	body    bodyKind
	handler http.HandlerFunc
}

// publicRoutes is the route table of the public listener.
func (s *Server) publicRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /webhook", s.webhookVerify)
	mux.HandleFunc("POST /webhook", s.webhookReceive)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /s/{token}", s.secureLinkPage)
	mux.HandleFunc("POST /s/{token}", s.secureLinkAnswer)

	// The admin panel: who may use a route and what body it takes. Every
	// route passes security headers, cross-origin protection, the session,
	// the role check and the body limit (panel_body.go).
	for _, rt := range []panelRoute{
		{"GET /static/", anyone, noBody, s.panel.staticFiles.ServeHTTP},
		{"GET /{$}", anyone, noBody, s.panelHome},
		{"GET /setup", anyone, noBody, s.setupPage},
		{"POST /setup", anyone, shortForm, s.setupSubmit},
		{"GET /login", anyone, noBody, s.loginPage},
		{"POST /login", anyone, shortForm, s.loginSubmit},
		{"GET /login/2fa", anyone, noBody, s.totpPage},
		{"POST /login/2fa", anyone, shortForm, s.totpSubmit},
		{"POST /logout", anyone, shortForm, s.logout},
		{"GET /invite/{token}", anyone, noBody, s.invitePage},
		{"POST /invite/{token}", anyone, shortForm, s.inviteSubmit},
		{"POST /logout-all", everyone, shortForm, s.logoutEverywhere},
		{"GET /account", everyone, noBody, s.account},
		{"POST /account/preferences", everyone, shortForm, s.accountPreferences},
		{"POST /account/password", everyone, shortForm, s.accountPassword},
		{"POST /account/email", everyone, shortForm, s.accountEmail},
		{"GET /account/2fa", everyone, noBody, s.enrolStart},
		{"POST /account/2fa", everyone, shortForm, s.enrolConfirm},
		{"POST /account/2fa/disable", everyone, shortForm, s.enrolDisable},
		{"GET /inbox", agents, noBody, s.inbox},
		{"GET /inbox/list", agents, noBody, s.inboxList},
		{"GET " + eventsPath, everyone, noBody, s.events}, // checks eventsRoles itself
		{"GET /search", agents, noBody, s.search},
		{"GET /conversations/{id}", agents, noBody, s.conversation},
		{"GET /conversations/{id}/thread", agents, noBody, s.thread},
		{"GET /conversations/{id}/media/{msg}", agents, noBody, s.media},
		{"POST /conversations/{id}/assign", agents, shortForm, s.assign},
		{"POST /conversations/{id}/status", agents, shortForm, s.setStatus},
		{"POST /conversations/{id}/notes", agents, longForm, s.addNote},
		{"POST /conversations/{id}/labels", agents, shortForm, s.setLabel},
		{"POST /conversations/{id}/send", agents, attachmentForm, s.sendMessage},
		{"POST /conversations/{id}/template", agents, longForm, s.sendTemplate},
		{"POST /conversations/{id}/secure-links", agents, longForm, s.conversationSecureLink},
		{"GET /contacts", everyone, noBody, s.contacts},
		{"GET /contacts/{id}", everyone, noBody, s.contactDetail},
		{"POST /contacts/{id}/consent", agents, shortForm, s.contactConsent},
		{"POST /contacts/{id}/export", admins, shortForm, s.contactExport},
		{"POST /contacts/{id}/erase", admins, shortForm, s.contactErase},
		{"POST /contacts/{id}/holds", admins, longForm, s.contactHold},
		{"POST /contacts/{id}/holds/{hold}/release", admins, shortForm, s.contactHoldRelease},
		{"GET /privacy", admins, noBody, s.privacy},
		{"POST /privacy/retention", admins, longForm, s.privacyRetention},
		{"POST /privacy/stop-words", admins, longForm, s.privacyStopWords},
		{"POST /privacy/jobs/{name}/run", admins, shortForm, s.privacyJobRun},
		{"GET /templates", agents, noBody, s.templatesPage},
		{"POST /templates/text", admins, longForm, s.templateText},
		{"GET /dashboard", admins, noBody, s.dashboard},
		{"GET /settings", admins, noBody, s.settings},
		{"POST /settings/meta", admins, longForm, s.settingsMeta},
		{"POST /settings/numbers", admins, shortForm, s.settingsNumber},
		{"POST /settings/security", admins, longForm, s.settingsSecurity},
		{"POST /settings/apikeys", admins, shortForm, s.apiKeyCreate},
		{"POST /settings/apikeys/{id}/revoke", admins, shortForm, s.apiKeyRevoke},
		{"POST /settings/canned", admins, longForm, s.cannedCreate},
		{"POST /settings/canned/{id}/delete", admins, shortForm, s.cannedDelete},
		{"POST /settings/labels", admins, shortForm, s.labelCreate},
		{"POST /settings/labels/{id}/delete", admins, shortForm, s.labelDelete},
		{"POST /settings/subscriptions/{id}/replay", admins, shortForm, s.subscriptionReplay},
		{"GET /users", admins, noBody, s.usersPage},
		{"POST /users", admins, shortForm, s.userInvite},
		{"POST /users/{id}/role", admins, shortForm, s.userRole},
		{"POST /users/{id}/disable", admins, shortForm, s.userDisable},
		{"POST /users/{id}/enable", admins, shortForm, s.userEnable},
		{"POST /users/{id}/reset-2fa", admins, shortForm, s.userReset2FA},
		{"POST /users/{id}/logout", admins, shortForm, s.userLogout},
		{"POST /users/{id}/invite", admins, shortForm, s.userReinvite},
		{"GET /audit", auditors, noBody, s.auditPage},
	} {
		mux.Handle(rt.pattern, s.panelRoute(rt.roles, rt.body, rt.handler))
	}
	return mux
}

// internalRoutes is the route table of the internal listener. Graph paths
// no route takes get Meta's "unsupported request" error (graphFallback).
func (s *Server) internalRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.Handle("GET /api/v1/messages/{id}", s.apiKey("read", s.apiMessageGet))
	mux.Handle("GET /api/v1/contacts/{id}", s.apiKey("read", s.apiContactGet))
	mux.Handle("GET /api/v1/contacts/{id}/messages", s.apiKey("read", s.apiContactMessages))
	mux.Handle("GET /api/v1/contacts/{id}/export", s.apiKey("gdpr", s.apiContactExport))
	mux.Handle("DELETE /api/v1/contacts/{id}", s.apiKey("gdpr", s.apiContactErase))
	mux.Handle("GET /api/v1/contacts/{id}/consent", s.apiKey("read", s.apiConsentList))
	mux.Handle("POST /api/v1/contacts/{id}/consent", s.apiKey("gdpr", s.apiConsentRecord))
	mux.Handle("GET /api/v1/contacts/{id}/legal-holds", s.apiKey("gdpr", s.apiHoldList))
	mux.Handle("POST /api/v1/contacts/{id}/legal-holds", s.apiKey("gdpr", s.apiHoldSet))
	mux.Handle("DELETE /api/v1/legal-holds/{hold}", s.apiKey("gdpr", s.apiHoldRelease))
	mux.Handle("POST /api/v1/contacts/{id}/secure-links", s.apiKey("send", s.apiSecureLinkCreate))
	mux.Handle("GET /api/v1/retention/preview", s.apiKey("gdpr", s.apiRetentionPreview))
	mux.Handle("GET /api/v1/records-of-processing", s.apiKey("gdpr", s.apiRecordsOfProcessing))
	mux.Handle("GET /api/v1/jobs", s.apiKey("admin", s.apiJobs))
	mux.Handle("POST /api/v1/jobs/{name}/run", s.apiKey("admin", s.apiJobRun))
	mux.Handle("POST /api/v1/messages", s.apiKey("send", s.apiMessageSend))
	mux.Handle("POST /api/v1/messages/{id}/retry", s.apiKey("send", s.apiMessageRetry))
	mux.Handle("GET /api/v1/messages/{id}/media", s.apiKey("read", s.apiMessageMedia))
	mux.HandleFunc("GET /api/v1/openapi.json", s.apiOpenAPI)
	// The Graph-compatible proxy: Meta's paths, an API key instead of the token.
	mux.Handle("POST /{version}/{phone_number_id}/messages", s.graphKey("send", s.proxySend))
	mux.Handle("POST /{version}/{phone_number_id}/media", s.graphKey("send", s.proxyUpload))
	mux.Handle("GET /{version}/{media_id}", s.graphKey("send", s.proxyMediaGet))
	mux.Handle("DELETE /{version}/{media_id}", s.graphKey("send", s.proxyMediaDelete))
	mux.Handle("GET /pforte/media/{media_id}", s.graphKey("send", s.proxyMediaDownload))
	mux.Handle("GET /api/v1/subscriptions", s.apiKey("admin", s.apiSubscriptionList))
	mux.Handle("POST /api/v1/subscriptions", s.apiKey("admin", s.apiSubscriptionCreate))
	mux.Handle("GET /api/v1/subscriptions/{id}", s.apiKey("admin", s.apiSubscriptionGet))
	mux.Handle("PATCH /api/v1/subscriptions/{id}", s.apiKey("admin", s.apiSubscriptionUpdate))
	mux.Handle("DELETE /api/v1/subscriptions/{id}", s.apiKey("admin", s.apiSubscriptionDelete))
	mux.Handle("POST /api/v1/subscriptions/{id}/replay", s.apiKey("admin", s.apiSubscriptionReplay))
	mux.Handle("GET /api/v1/subscriptions/{id}/dead-letters", s.apiKey("admin", s.apiSubscriptionDeadLetters))
	mux.HandleFunc("GET /healthz", s.healthz)
	return s.graphFallback(mux)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}
