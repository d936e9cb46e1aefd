package gateway

import (
	"net/http"
	"slices"
	"time"

	"github.com/pforte/pforte/jobs"
)

// JobInfo is a scheduled job as the API shows it.
type JobInfo struct {
	Name        string     `json:"name"`
	Next        *time.Time `json:"next_run"`
	LastStarted *time.Time `json:"last_started"`
	LastTook    string     `json:"last_took,omitempty"`
	LastResult  string     `json:"last_result,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

func jobInfo(e jobs.Entry) JobInfo {
	j := JobInfo{Name: e.Name}
	if !e.Next.IsZero() {
		next := e.Next
		j.Next = &next
	}
	if e.Last.Finished {
		started := e.Last.Started
		j.LastStarted, j.LastTook, j.LastResult = &started, e.Last.Took.Round(time.Millisecond).String(), e.Last.Summary
		if e.Last.Err != nil {
			j.LastError = e.Last.Err.Error()
		}
	}
	return j
}

func (s *Server) apiJobs(w http.ResponseWriter, r *http.Request) {
	out := []JobInfo{}
	if s.cfg.Jobs != nil {
		for _, e := range s.cfg.Jobs.Entries() {
			out = append(out, jobInfo(e))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (s *Server) apiJobRun(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.cfg.Jobs == nil || !slices.ContainsFunc(s.cfg.Jobs.Entries(), func(e jobs.Entry) bool { return e.Name == name }) {
		writeAPIError(w, http.StatusNotFound, "not_found", "no such job")
		return
	}
	if !s.cfg.Jobs.StartJob(name) {
		writeAPIError(w, http.StatusNotFound, "not_found", "no such job")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "started", "job": name})
}
