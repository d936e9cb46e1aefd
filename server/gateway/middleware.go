package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/pforte/pforte/store"
)

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logRequests writes one debug line per request. Only the route is logged:
// query strings can carry the verify token, and bodies carry personal data.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			return // spares building the arguments on every request
		}
		// The route pattern, not the path: paths carry phone numbers
		// (/api/v1/contacts/{id}) and secure link tokens (/s/{token}).
		route := r.Pattern
		if route == "" {
			route = "(no route)"
		}
		s.log.Debug("http", "method", r.Method, "route", route, "status", rec.status, "took", time.Since(start))
	})
}

// recoverPanics turns a handler panic into a 500 and a log line instead of
// a dropped connection.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "path", r.URL.Path, "panic", v)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type apiKeyCtx struct{}

// apiKey admits requests that carry a valid, unrevoked key with scope.
func (s *Server) apiKey(scope store.Scope, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pforte"`)
			writeAPIError(w, http.StatusUnauthorized, "unauthorized", "missing API key: send Authorization: Bearer <key>")
			return
		}
		k, err := s.store.APIKeyBySecret(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pforte", error="invalid_token"`)
			writeAPIError(w, http.StatusUnauthorized, "unauthorized", "invalid or revoked API key")
			return
		}
		if !k.Has(scope) {
			writeAPIError(w, http.StatusForbidden, "forbidden", "this API key lacks the "+string(scope)+" scope")
			return
		}
		if err := s.store.TouchAPIKey(r.Context(), k, s.now()); err != nil {
			s.log.Warn("api key last use not recorded", "key", k.Prefix, "err", err)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), apiKeyCtx{}, k)))
	})
}

// requestKey returns the API key that authenticated r, if any.
func requestKey(r *http.Request) *store.APIKey {
	k, _ := r.Context().Value(apiKeyCtx{}).(*store.APIKey)
	return k
}
