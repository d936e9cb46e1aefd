package panel

import "net/http"

// route is one line of the panel's route table. Roles: admins (A), agents
// (G), auditors (U), see middleware.go.
type route struct {
	pattern string
	roles   roleSet
	body    bodyKind
	handler http.HandlerFunc
}

// routes serves the route table.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range s.routeTable() {
		mux.Handle(rt.pattern, s.panelRoute(rt.roles, rt.body, rt.handler))
	}
	return mux
}

// routeTable is the panel's route table.
func (s *Server) routeTable() []route {
	// The admin panel: who may use a route and what body it takes. Every
	// route passes security headers, cross-origin protection, the session,
	// the role check and the body limit (body.go).
	return []route{
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
		{"POST /conversations/{id}/template", agents, attachmentForm, s.sendTemplate},
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
		{"GET /campaigns", agents, noBody, s.campaignsPage},
		{"POST /campaigns", admins, longForm, s.campaignSubmit},
		{"GET /campaigns/{id}", agents, noBody, s.campaignPage},
		{"GET /campaigns/{id}/counts", agents, noBody, s.campaignCounts},
		{"GET /campaigns/{id}/results.csv", agents, noBody, s.campaignResults},
		{"POST /campaigns/{id}/{action}", admins, shortForm, s.campaignControl},
		{"GET /optin", admins, noBody, s.optInPage},
		{"POST /optin", admins, longForm, s.optInSubmit},
		{"GET /optin/{id}/{format}", admins, noBody, s.optInQR},
		{"POST /conversations/{id}/typing", agents, shortForm, s.typing},
		{"POST /settings/numbers/signals", admins, shortForm, s.settingsSignals},
		{"POST /conversations/{id}/interactive", agents, longForm, s.sendInteractive},
		{"GET /health", admins, noBody, s.healthPage},
		{"POST /health/smtp", admins, shortForm, s.healthSMTP},
		{"GET /costs", admins, noBody, s.costsPage},
		{"POST /costs/export", admins, shortForm, s.costsCSV},
		{"POST /costs/rates", admins, longForm, s.costsRates},
		// Single sign-on and passkeys (sso.go, passkey.go).
		{"GET /login/sso", anyone, noBody, s.ssoStart},
		{"GET " + ssoCallbackPath, anyone, noBody, s.ssoCallback},
		{"POST /login/passkey/begin", anyone, noBody, s.passkeyLoginBegin},
		{"POST /login/passkey", anyone, shortForm, s.passkeyLoginFinish},
		{"POST /login/2fa/passkey/begin", anyone, noBody, s.passkey2FABegin},
		{"POST /login/2fa/passkey", anyone, shortForm, s.passkey2FAFinish},
		{"GET /account/passkeys", everyone, noBody, s.passkeysPage},
		{"POST /account/passkeys/begin", everyone, noBody, s.passkeyRegisterBegin},
		{"POST /account/passkeys", everyone, shortForm, s.passkeyRegisterFinish},
		{"POST /account/passkeys/{id}/delete", everyone, shortForm, s.passkeyDelete},
		{"POST /account/passkeys/reauth", everyone, shortForm, s.passkeyReauth},
		{"POST /account/passkeys/reauth/begin", everyone, noBody, s.passkeyReauthBegin},
		{"POST /account/passkeys/reauth/passkey", everyone, shortForm, s.passkeyReauthFinish},
		{"GET /settings/sso", admins, noBody, s.ssoSettingsPage},
		{"POST /settings/sso", admins, longForm, s.ssoSettingsSave},
		{"GET /automations", admins, noBody, s.automationsPage},
		{"POST /automations/{number}/hours", admins, longForm, s.automationHours},
		{"POST /automations/{number}/replies/{kind}", admins, longForm, s.automationReply},
		{"POST /automations/{number}/csat", admins, longForm, s.automationCSAT},
		{"POST /automations/{number}/routing", admins, longForm, s.automationRoutingAdd},
		{"POST /automations/{number}/routing/{index}", admins, longForm, s.automationRoutingEdit},
		{"POST /automations/{number}/routing/{index}/delete", admins, shortForm, s.automationRoutingDelete},
		{"POST /automations/{number}/routing/{index}/up", admins, shortForm, s.automationRoutingUp},
		{"POST /templates/sync", admins, shortForm, s.templateSync},
		{"POST /templates/new", admins, attachmentForm, s.templateCreate},
		{"POST /templates/library", admins, shortForm, s.templateFromLibrary},
		{"POST /templates/delete", admins, shortForm, s.templateDelete},
		{"POST /templates/edit", admins, attachmentForm, s.templateEdit},
		{"GET /conversations/new", agents, noBody, s.newConversationPage},
		{"POST /conversations/new", agents, attachmentForm, s.newConversationSubmit},
		// The address book (contactbook.go).
		{"GET /contacts/new", agents, noBody, s.contactNew},
		{"POST /contacts/new", agents, longForm, s.contactCreate},
		{"GET /contacts/{id}/edit", agents, noBody, s.contactEdit},
		{"POST /contacts/{id}/edit", agents, longForm, s.contactUpdate},
		{"POST /contacts/{id}/merge", admins, shortForm, s.contactMerge},
		{"POST /contacts/{id}/request-number", agents, shortForm, s.contactRequestNumber},
		{"GET /contacts/fields", admins, noBody, s.contactFieldsPage},
		{"POST /contacts/fields", admins, longForm, s.contactFieldCreate},
		{"POST /contacts/fields/{id}/delete", admins, shortForm, s.contactFieldDelete},
		{"GET /contacts/import", admins, noBody, s.contactImportPage},
		{"POST /contacts/import", admins, attachmentForm, s.contactImportUpload},
		{"POST /contacts/import/run", admins, longForm, s.contactImportRun},
		{"POST /contacts/export", admins, shortForm, s.contactExportCSV},
		{"POST /campaigns/parameters", admins, attachmentForm, s.campaignParamsUpload},
		{"POST /account/availability", agents, shortForm, s.accountAvailability},
		{"GET /settings/teams", admins, noBody, s.teamsPage},
		{"POST /settings/teams", admins, shortForm, s.teamCreate},
		{"POST /settings/teams/{id}/members", admins, longForm, s.teamMembers},
		{"POST /settings/teams/{id}/delete", admins, shortForm, s.teamDelete},
		// The off-site replica (replica_setup.go).
		{"POST /settings/replica", admins, longForm, s.replicaSave},
		{"POST /settings/replica/key", admins, shortForm, s.replicaKey},
	}
}
