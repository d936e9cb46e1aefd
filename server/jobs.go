package server

import (
	"context"
	"net/http"
	"slices"
	"time"
)

// JobInfo is a scheduled job as the API shows it; main adapts the
// scheduler to it (server does not import jobs).
type JobInfo struct {
	Name        string     `json:"name"`
	Next        *time.Time `json:"next_run"`
	LastStarted *time.Time `json:"last_started"`
	LastTook    string     `json:"last_took,omitempty"`
	LastResult  string     `json:"last_result,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

// Jobs lets the API show and start scheduled jobs.
type Jobs interface {
	Jobs() []JobInfo
	// Start runs a job now in the background; false if there is no such job.
	Start(ctx context.Context, name string) bool
}

func (s *Server) apiJobs(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Jobs == nil {
		writeJSON(w, http.StatusOK, map[string]any{"data": []JobInfo{}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": s.cfg.Jobs.Jobs()})
}

func (s *Server) apiJobRun(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.cfg.Jobs == nil || !slices.ContainsFunc(s.cfg.Jobs.Jobs(), func(j JobInfo) bool { return j.Name == name }) {
		writeAPIError(w, http.StatusNotFound, "not_found", "no such job")
		return
	}
	if !s.cfg.Jobs.Start(context.WithoutCancel(r.Context()), name) {
		writeAPIError(w, http.StatusNotFound, "not_found", "no such job")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "started", "job": name})
}
