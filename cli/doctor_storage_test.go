package cli

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/simulator"
)

// The doctor reads the number's storage configuration from Meta (the
// simulator) and says plainly whether Local Storage in the EU is on.
func TestDoctorSaysWhetherLocalStorageIsOn(t *testing.T) {
	sim := simulator.New(simulator.Options{AccessToken: "tok"})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	pnid := sim.Options().PhoneNumberID
	run := func(token string) []finding {
		d := &doctor{cfg: &serveConfig{GraphURL: srv.URL, GraphVersion: "v25.0"}, timeout: 5 * time.Second, now: time.Now}
		d.checkStorage(context.Background(), token, []string{pnid})
		return d.out
	}
	state := simulator.NumberState{QualityRating: "GREEN", StorageStatus: "IN_COUNTRY_STORAGE_DISABLED"}
	sim.SetNumber(state)
	if out := run("tok"); len(out) != 1 || out[0].level != "WARN" || !strings.Contains(out[0].what, "Local Storage is OFF for number "+pnid) ||
		!strings.Contains(out[0].fix, "docs/install.md") {
		t.Fatalf("off: %+v", out)
	}
	state.StorageStatus, state.StorageRegion = "IN_COUNTRY_STORAGE_ENABLED", "DE"
	sim.SetNumber(state)
	if out := run("tok"); len(out) != 1 || out[0].level != "ok" || !strings.Contains(out[0].what, "Local Storage is ON for number "+pnid+": Meta keeps its messages at rest in DE (EU)") {
		t.Fatalf("on: %+v", out)
	}
	state.StorageRegion = "GB"
	sim.SetNumber(state)
	if out := run("tok"); len(out) != 1 || out[0].level != "WARN" || !strings.Contains(out[0].what, "outside the EU") {
		t.Fatalf("GB: %+v", out)
	}
	// Meta's OpenAPI writes the status in lower case.
	state.StorageStatus, state.StorageRegion = "in_country_storage_enabled", "DE"
	sim.SetNumber(state)
	if out := run("tok"); out[0].level != "ok" {
		t.Fatalf("lower case: %+v", out)
	}
	if out := run("wrong"); len(out) != 1 || out[0].level != "skip" {
		t.Fatalf("bad token: %+v", out)
	}
}
