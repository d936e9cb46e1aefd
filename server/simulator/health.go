package simulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// NumberState is what GET /{phone_number_id} and GET /{phone_number_id}/settings
// answer about the simulated business number.
type NumberState struct {
	QualityRating string // GREEN, YELLOW, RED, NA
	Tier          string // whatsapp_business_manager_messaging_limit, e.g. TIER_2K
	Throughput    string // STANDARD, HIGH
	NameStatus    string // APPROVED, …
	VerifiedName  string
	// StorageStatus is storage_configuration.status (IN_COUNTRY_STORAGE_ENABLED
	// or _DISABLED); StorageRegion its data_localization_region.
	StorageStatus string
	StorageRegion string
	// Forbidden makes the reads fail with Meta's permission error (#10).
	Forbidden bool
}

func defaultNumberState() NumberState {
	return NumberState{QualityRating: "GREEN", Tier: "TIER_2K", Throughput: "STANDARD", NameStatus: "APPROVED",
		VerifiedName: "Pforte Demo GmbH", StorageStatus: "IN_COUNTRY_STORAGE_DISABLED"}
}

// SetNumber changes what the number's Graph reads answer.
func (s *Simulator) SetNumber(n NumberState) { s.mu.Lock(); s.number = &n; s.mu.Unlock() }

// Number returns what the number's Graph reads answer now.
func (s *Simulator) Number() NumberState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.number == nil {
		return defaultNumberState()
	}
	return *s.number
}

// numberFields answers GET /{phone_number_id}?fields=…: the default set
// (id, display_phone_number, verified_name, quality_rating) plus what the
// fields parameter asks for, as Meta does.
func (s *Simulator) numberFields(w http.ResponseWriter, r *http.Request) {
	n := s.Number()
	if n.Forbidden {
		s.graphError(w, http.StatusForbidden, 10, "Application does not have permission for this action", "")
		return
	}
	o := s.snapshot()
	out := map[string]any{"id": o.PhoneNumberID, "display_phone_number": "+" + o.DisplayPhoneNumber,
		"verified_name": n.VerifiedName, "quality_rating": n.QualityRating}
	for _, f := range strings.Split(r.URL.Query().Get("fields"), ",") {
		switch strings.TrimSpace(f) {
		case "messaging_limit_tier", "whatsapp_business_manager_messaging_limit":
			out[strings.TrimSpace(f)] = n.Tier
		case "throughput":
			out["throughput"] = map[string]string{"level": n.Throughput}
		case "name_status":
			out["name_status"] = n.NameStatus
		case "platform_type":
			out["platform_type"] = "CLOUD_API"
		case "code_verification_status":
			out["code_verification_status"] = "VERIFIED"
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleSettings is GET /{phone_number_id}/settings: the number's storage
// configuration (Cloud API local storage).
func (s *Simulator) handleSettings(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(w, r) {
		return
	}
	if r.PathValue("pnid") != s.snapshot().PhoneNumberID {
		s.graphError(w, http.StatusBadRequest, 100, "Invalid parameter", "Unsupported get request.")
		return
	}
	n := s.Number()
	if n.Forbidden {
		s.graphError(w, http.StatusForbidden, 10, "Application does not have permission for this action", "")
		return
	}
	sc := map[string]string{"status": n.StorageStatus}
	if n.StorageRegion != "" {
		sc["data_localization_region"] = n.StorageRegion
	}
	writeJSON(w, http.StatusOK, map[string]any{"storage_configuration": sc})
}

// accountWebhook wraps a non-messages change in Meta's envelope: no
// messaging_product or metadata, an integer entry time.
func accountWebhook(o Options, field string, value map[string]any, now time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": o.WABAID, "time": now.Unix(),
			"changes": []any{map[string]any{"field": field, "value": value}}}},
	})
	return b
}

// PostQualityUpdate sends a phone_number_quality_update (event e.g.
// FLAGGED, UNFLAGGED, DOWNGRADE, UPGRADE, THROUGHPUT_UPGRADE).
func (s *Simulator) PostQualityUpdate(ctx context.Context, event, currentLimit, oldLimit string) error {
	o := s.snapshot()
	v := map[string]any{"display_phone_number": o.DisplayPhoneNumber, "event": event}
	if currentLimit != "" {
		v["current_limit"] = currentLimit
	}
	if oldLimit != "" {
		v["old_limit"] = oldLimit
	}
	return s.postChange(ctx, "phone_number_quality_update", v)
}

// PostAccountUpdate sends an account_update with the given value (its
// event and extra keys, e.g. ban_info).
func (s *Simulator) PostAccountUpdate(ctx context.Context, value map[string]any) error {
	return s.postChange(ctx, "account_update", value)
}

func (s *Simulator) postChange(ctx context.Context, field string, value map[string]any) error {
	st, err := s.PostWebhook(ctx, accountWebhook(s.snapshot(), field, value, time.Now()))
	if err != nil {
		return fmt.Errorf("simulator: %s: %w", field, err)
	}
	if st != http.StatusOK {
		return fmt.Errorf("simulator: %s: webhook answered %s", field, strconv.Itoa(st))
	}
	return nil
}
