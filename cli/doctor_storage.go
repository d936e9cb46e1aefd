package cli

import (
	"context"
	"strings"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/health"
)

// storageFix is where the admin learns how to turn local storage on.
const storageFix = "see docs/install.md, \"Local Storage (Datenhaltung in der EU)\": deregister the number, " +
	"POST /{phone_number_id}/settings with storage_configuration IN_COUNTRY_STORAGE_ENABLED and data_localization_region DE, register again"

// checkStorage reads each number's storage configuration from Meta
// (GET /{phone_number_id}/settings) and says plainly whether Cloud API
// local storage keeps its data at rest in the EU (region DE).
func (d *doctor) checkStorage(ctx context.Context, token string, numbers []string) {
	if token == "" || len(numbers) == 0 {
		d.skip("data residency not checked: no access token or no business number known yet")
		return
	}
	client := cloudapi.NewClient(d.cfg.GraphURL, d.cfg.GraphVersion, token)
	for _, pnid := range numbers {
		rctx, cancel := context.WithTimeout(ctx, d.timeout)
		sc, err := health.ReadStorage(rctx, client, pnid)
		cancel()
		switch {
		case err != nil:
			d.skip("data residency of number %s not checked: %v", pnid, err)
		case sc.On() && euRegion(sc.Region):
			d.ok("Local Storage is ON for number %s: Meta keeps its messages at rest in %s (EU); in transit up to 60 minutes anywhere", pnid, sc.Region)
		case sc.On():
			d.warn(storageFix, "Local Storage is on for number %s, but in %s, which is outside the EU", pnid, sc.Region)
		default:
			d.warn(storageFix, "Local Storage is OFF for number %s: Meta keeps its messages at rest in its own data centres, not necessarily in the EU", pnid)
		}
	}
}

// euRegion says whether a data_localization_region is in the EU. Of
// Meta's regions only DE is (CH and GB are in Europe, not the EU).
func euRegion(r string) bool { return strings.EqualFold(r, "DE") }
