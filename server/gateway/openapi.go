package gateway

import (
	_ "embed"
	"net/http"
)

// openAPI describes /api/v1. A test checks that every /api/v1 route in
// routes.go appears in it.
//
//go:embed openapi.json
var openAPI []byte

// apiOpenAPI serves the OpenAPI document; it holds no secrets, so it needs
// no key.
func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
