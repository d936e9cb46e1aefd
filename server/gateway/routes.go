package gateway

import (
	"net/http"
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
