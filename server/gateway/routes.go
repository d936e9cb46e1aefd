package gateway

import (
	"net/http"

	"github.com/pforte/pforte/store"
)

// publicRoutes is the route table of the public listener.
func (s *Server) publicRoutes(human http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /webhook", s.webhookVerify)
	mux.HandleFunc("POST /webhook", s.webhookReceive)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /s/{token}", s.secureLinkPage)
	mux.HandleFunc("POST /s/{token}", s.secureLinkAnswer)

	// Everything else is the panel's.
	mux.Handle("/", human)
	return mux
}

// internalRoutes is the route table of the internal listener. Graph paths
// no route takes get Meta's "unsupported request" error (graphFallback).
func (s *Server) internalRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.Handle("GET /api/v1/messages/{id}", s.apiKey(store.ScopeRead, s.apiMessageGet))
	mux.Handle("GET /api/v1/contacts/{id}", s.apiKey(store.ScopeRead, s.apiContactGet))
	mux.Handle("GET /api/v1/contacts/{id}/messages", s.apiKey(store.ScopeRead, s.apiContactMessages))
	mux.Handle("GET /api/v1/contacts/{id}/export", s.apiKey(store.ScopeGDPR, s.apiContactExport))
	mux.Handle("DELETE /api/v1/contacts/{id}", s.apiKey(store.ScopeGDPR, s.apiContactErase))
	mux.Handle("GET /api/v1/contacts/{id}/consent", s.apiKey(store.ScopeRead, s.apiConsentList))
	mux.Handle("POST /api/v1/contacts/{id}/consent", s.apiKey(store.ScopeGDPR, s.apiConsentRecord))
	mux.Handle("GET /api/v1/contacts/{id}/legal-holds", s.apiKey(store.ScopeGDPR, s.apiHoldList))
	mux.Handle("POST /api/v1/contacts/{id}/legal-holds", s.apiKey(store.ScopeGDPR, s.apiHoldSet))
	mux.Handle("DELETE /api/v1/legal-holds/{hold}", s.apiKey(store.ScopeGDPR, s.apiHoldRelease))
	mux.Handle("POST /api/v1/contacts/{id}/secure-links", s.apiKey(store.ScopeSend, s.apiSecureLinkCreate))
	mux.Handle("GET /api/v1/retention/preview", s.apiKey(store.ScopeGDPR, s.apiRetentionPreview))
	mux.Handle("GET /api/v1/records-of-processing", s.apiKey(store.ScopeGDPR, s.apiRecordsOfProcessing))
	mux.Handle("GET /api/v1/jobs", s.apiKey(store.ScopeAdmin, s.apiJobs))
	mux.Handle("POST /api/v1/jobs/{name}/run", s.apiKey(store.ScopeAdmin, s.apiJobRun))
	mux.Handle("POST /api/v1/messages", s.apiKey(store.ScopeSend, s.apiMessageSend))
	mux.Handle("POST /api/v1/messages/{id}/retry", s.apiKey(store.ScopeSend, s.apiMessageRetry))
	mux.Handle("GET /api/v1/messages/{id}/media", s.apiKey(store.ScopeRead, s.apiMessageMedia))
	mux.Handle("GET /api/v1/costs", s.apiKey(store.ScopeAdmin, s.apiCosts))
	mux.HandleFunc("GET /api/v1/openapi.json", s.apiOpenAPI)
	// The Graph-compatible proxy: Meta's paths, an API key instead of the token.
	mux.Handle("POST /{version}/{phone_number_id}/messages", s.graphKey(store.ScopeSend, s.proxySend))
	mux.Handle("POST /{version}/{phone_number_id}/media", s.graphKey(store.ScopeSend, s.proxyUpload))
	mux.Handle("GET /{version}/{media_id}", s.graphKey(store.ScopeSend, s.proxyMediaGet))
	mux.Handle("DELETE /{version}/{media_id}", s.graphKey(store.ScopeSend, s.proxyMediaDelete))
	mux.Handle("GET /pforte/media/{media_id}", s.graphKey(store.ScopeSend, s.proxyMediaDownload))
	mux.Handle("GET /api/v1/subscriptions", s.apiKey(store.ScopeAdmin, s.apiSubscriptionList))
	mux.Handle("POST /api/v1/subscriptions", s.apiKey(store.ScopeAdmin, s.apiSubscriptionCreate))
	mux.Handle("GET /api/v1/subscriptions/{id}", s.apiKey(store.ScopeAdmin, s.apiSubscriptionGet))
	mux.Handle("PATCH /api/v1/subscriptions/{id}", s.apiKey(store.ScopeAdmin, s.apiSubscriptionUpdate))
	mux.Handle("DELETE /api/v1/subscriptions/{id}", s.apiKey(store.ScopeAdmin, s.apiSubscriptionDelete))
	mux.Handle("POST /api/v1/subscriptions/{id}/replay", s.apiKey(store.ScopeAdmin, s.apiSubscriptionReplay))
	mux.Handle("GET /api/v1/subscriptions/{id}/dead-letters", s.apiKey(store.ScopeAdmin, s.apiSubscriptionDeadLetters))
	mux.Handle("POST /api/v1/campaigns", s.apiKey(store.ScopeAdmin, s.apiCampaignCreate))
	mux.Handle("GET /api/v1/campaigns", s.apiKey(store.ScopeRead, s.apiCampaignList))
	mux.Handle("POST /api/v1/campaigns/preview", s.apiKey(store.ScopeAdmin, s.apiCampaignPreview))
	mux.Handle("GET /api/v1/campaigns/{id}", s.apiKey(store.ScopeRead, s.apiCampaignGet))
	mux.Handle("POST /api/v1/campaigns/{id}/{action}", s.apiKey(store.ScopeAdmin, s.apiCampaignControl))
	mux.Handle("GET /api/v1/campaigns/{id}/results", s.apiKey(store.ScopeRead, s.apiCampaignResults))
	mux.Handle("GET /api/v1/optin-entries", s.apiKey(store.ScopeRead, s.apiOptInList))
	mux.Handle("POST /api/v1/optin-entries", s.apiKey(store.ScopeAdmin, s.apiOptInCreate))
	mux.Handle("GET /api/v1/optin-entries/{id}/qr", s.apiKey(store.ScopeRead, s.apiOptInQR))
	mux.Handle("GET /api/v1/numbers/{phone_number_id}/business-hours", s.apiKey(store.ScopeRead, s.apiHoursGet))
	mux.Handle("PUT /api/v1/numbers/{phone_number_id}/business-hours", s.apiKey(store.ScopeAdmin, s.apiHoursPut))
	mux.Handle("GET /api/v1/numbers/{phone_number_id}/auto-replies/{kind}", s.apiKey(store.ScopeRead, s.apiAutoReplyGet))
	mux.Handle("PUT /api/v1/numbers/{phone_number_id}/auto-replies/{kind}", s.apiKey(store.ScopeAdmin, s.apiAutoReplyPut))
	mux.Handle("GET /api/v1/numbers/{phone_number_id}/conversations/{contact}/bot", s.apiKey(store.ScopeRead, s.apiBotGet))
	mux.Handle("PUT /api/v1/numbers/{phone_number_id}/conversations/{contact}/bot", s.apiKey(store.ScopeSend, s.apiBotPut))
	mux.Handle("GET /api/v1/numbers/{phone_number_id}/csat", s.apiKey(store.ScopeRead, s.apiCSATGet))
	mux.Handle("PUT /api/v1/numbers/{phone_number_id}/csat", s.apiKey(store.ScopeAdmin, s.apiCSATPut))
	mux.Handle("GET /api/v1/numbers/{phone_number_id}/routing", s.apiKey(store.ScopeRead, s.apiRoutingGet))
	mux.Handle("PUT /api/v1/numbers/{phone_number_id}/routing", s.apiKey(store.ScopeAdmin, s.apiRoutingPut))
	mux.Handle("GET /api/v1/templates", s.apiKey(store.ScopeRead, s.apiTemplateList))
	mux.Handle("POST /api/v1/templates", s.apiKey(store.ScopeAdmin, s.apiTemplateCreate))
	mux.Handle("POST /api/v1/templates/sync", s.apiKey(store.ScopeAdmin, s.apiTemplateSync))
	mux.Handle("GET /api/v1/templates/library", s.apiKey(store.ScopeAdmin, s.apiTemplateLibrary))
	mux.Handle("POST /api/v1/templates/samples", s.apiKey(store.ScopeAdmin, s.apiTemplateSample))
	mux.Handle("POST /api/v1/templates/{name}/{language}", s.apiKey(store.ScopeAdmin, s.apiTemplateEdit))
	mux.Handle("DELETE /api/v1/templates/{name}", s.apiKey(store.ScopeAdmin, s.apiTemplateDelete))
	// The address book (contactbook.go).
	mux.Handle("GET /api/v1/contacts", s.apiKey(store.ScopeRead, s.apiContactList))
	mux.Handle("POST /api/v1/contacts", s.apiKey(store.ScopeSend, s.apiContactCreate))
	mux.Handle("PATCH /api/v1/contacts/{id}", s.apiKey(store.ScopeSend, s.apiContactPatch))
	mux.Handle("POST /api/v1/contacts/import", s.apiKey(store.ScopeAdmin, s.apiContactImport))
	mux.Handle("GET /api/v1/contacts/export", s.apiKey(store.ScopeAdmin, s.apiContactExportCSV))
	mux.Handle("GET /api/v1/contact-fields", s.apiKey(store.ScopeRead, s.apiContactFieldList))
	mux.Handle("POST /api/v1/contact-fields", s.apiKey(store.ScopeAdmin, s.apiContactFieldCreate))
	mux.Handle("DELETE /api/v1/contact-fields/{id}", s.apiKey(store.ScopeAdmin, s.apiContactFieldDelete))
	mux.HandleFunc("GET /healthz", s.healthz)
	return s.graphFallback(mux)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}
