package server

import (
	"net/http"
)

// publicRoutes is the route table of the public listener.
func (s *Server) publicRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /webhook", s.webhookVerify)
	mux.HandleFunc("POST /webhook", s.webhookReceive)
	mux.HandleFunc("GET /healthz", s.healthz)

	// The admin panel. Roles: admins (A), agents (G), auditors (U); every
	// route passes security headers, cross-origin protection and the session.
	p := s.panelRoute
	mux.Handle("GET /static/", p(anyone, s.panel.staticFiles.ServeHTTP))
	mux.Handle("GET /{$}", p(anyone, s.panelHome))
	mux.Handle("GET /setup", p(anyone, s.setupPage))
	mux.Handle("POST /setup", p(anyone, s.setupSubmit))
	mux.Handle("GET /login", p(anyone, s.loginPage))
	mux.Handle("POST /login", p(anyone, s.loginSubmit))
	mux.Handle("GET /login/2fa", p(anyone, s.totpPage))
	mux.Handle("POST /login/2fa", p(anyone, s.totpSubmit))
	mux.Handle("POST /logout", p(anyone, s.logout))
	mux.Handle("GET /invite/{token}", p(anyone, s.invitePage))
	mux.Handle("POST /invite/{token}", p(anyone, s.inviteSubmit))
	mux.Handle("POST /logout-all", p(everyone, s.logoutEverywhere))
	mux.Handle("GET /account", p(everyone, s.account))
	mux.Handle("POST /account/preferences", p(everyone, s.accountPreferences))
	mux.Handle("POST /account/password", p(everyone, s.accountPassword))
	mux.Handle("GET /account/2fa", p(everyone, s.enrolStart))
	mux.Handle("POST /account/2fa", p(everyone, s.enrolConfirm))
	mux.Handle("POST /account/2fa/disable", p(everyone, s.enrolDisable))
	mux.Handle("GET /inbox", p(agents, s.inbox))
	mux.Handle("GET /inbox/list", p(agents, s.inboxList))
	mux.Handle("GET /events", p(agents, s.events))
	mux.Handle("GET /search", p(agents, s.search))
	mux.Handle("GET /conversations/{id}", p(agents, s.conversation))
	mux.Handle("GET /conversations/{id}/thread", p(agents, s.thread))
	mux.Handle("GET /conversations/{id}/media/{msg}", p(agents, s.media))
	mux.Handle("POST /conversations/{id}/assign", p(agents, s.assign))
	mux.Handle("POST /conversations/{id}/status", p(agents, s.setStatus))
	mux.Handle("POST /conversations/{id}/notes", p(agents, s.addNote))
	mux.Handle("POST /conversations/{id}/labels", p(agents, s.setLabel))
	mux.Handle("POST /conversations/{id}/send", p(agents, s.sendMessage))
	mux.Handle("POST /conversations/{id}/template", p(agents, s.sendTemplate))
	mux.Handle("GET /contacts", p(agents, s.contacts))
	mux.Handle("GET /contacts/{id}", p(agents, s.contactDetail))
	mux.Handle("GET /templates", p(agents, s.templatesPage))
	mux.Handle("POST /templates/text", p(admins, s.templateText))
	mux.Handle("GET /dashboard", p(admins, s.dashboard))
	mux.Handle("GET /settings", p(admins, s.settings))
	mux.Handle("POST /settings/meta", p(admins, s.settingsMeta))
	mux.Handle("POST /settings/numbers", p(admins, s.settingsNumber))
	mux.Handle("POST /settings/security", p(admins, s.settingsSecurity))
	mux.Handle("POST /settings/apikeys", p(admins, s.apiKeyCreate))
	mux.Handle("POST /settings/apikeys/{id}/revoke", p(admins, s.apiKeyRevoke))
	mux.Handle("POST /settings/canned", p(admins, s.cannedCreate))
	mux.Handle("POST /settings/canned/{id}/delete", p(admins, s.cannedDelete))
	mux.Handle("POST /settings/labels", p(admins, s.labelCreate))
	mux.Handle("POST /settings/labels/{id}/delete", p(admins, s.labelDelete))
	mux.Handle("POST /settings/subscriptions/{id}/replay", p(admins, s.subscriptionReplay))
	mux.Handle("GET /users", p(admins, s.usersPage))
	mux.Handle("POST /users", p(admins, s.userInvite))
	mux.Handle("POST /users/{id}/role", p(admins, s.userRole))
	mux.Handle("POST /users/{id}/disable", p(admins, s.userDisable))
	mux.Handle("POST /users/{id}/enable", p(admins, s.userEnable))
	mux.Handle("POST /users/{id}/reset-2fa", p(admins, s.userReset2FA))
	mux.Handle("POST /users/{id}/logout", p(admins, s.userLogout))
	mux.Handle("POST /users/{id}/invite", p(admins, s.userReinvite))
	mux.Handle("GET /audit", p(auditors, s.auditPage))
	return mux
}

// internalRoutes is the route table of the internal listener.
func (s *Server) internalRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.Handle("GET /api/v1/messages/{id}", s.apiKey("read", s.apiMessageGet))
	mux.Handle("GET /api/v1/contacts/{id}", s.apiKey("read", s.apiContactGet))
	mux.Handle("GET /api/v1/contacts/{id}/messages", s.apiKey("read", s.apiContactMessages))
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
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}
