package cli

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/server/campaign"
)

// campaignConfig tunes the campaign engine from flags (or PFORTE_CAMPAIGN_*).
type campaignConfig struct {
	Rate        float64
	TierLimit   int
	QuietHours  string
	SendSundays bool
	FailureRate float64
}

func (c *campaignConfig) flags(fs *flag.FlagSet) {
	fs.Float64Var(&c.Rate, "campaign-rate", 0, "messages per second campaigns may use of a number's throughput (default: --send-rate; at most 1000)")
	fs.IntVar(&c.TierLimit, "campaign-tier-limit", 0, "the portfolio's messaging limit (business-initiated conversations per 24 h: 250, 1000, 10000, 100000; 0: as Meta last reported, else none)")
	fs.StringVar(&c.QuietHours, "campaign-quiet-hours", "20-8", "hours without marketing, local time, as FROM-TO (e.g. 20-8), or off")
	fs.BoolVar(&c.SendSundays, "campaign-send-sundays", false, "allow campaigns on Sundays and German public holidays")
	fs.Float64Var(&c.FailureRate, "campaign-failure-rate", 0.2, "share of failed sends that pauses a campaign (after 50 finished)")
}

// engineConfig checks the settings and builds the engine's configuration.
func (c *campaignConfig) engineConfig(loc *time.Location) (campaign.Config, error) {
	cfg := campaign.Config{Rate: c.Rate, TierLimit: c.TierLimit, SendOnSundaysAndHolidays: c.SendSundays, FailureRate: c.FailureRate, Location: loc}
	if c.Rate < 0 || c.Rate > 1000 {
		return cfg, settingError("campaign-rate", fmt.Sprint(c.Rate), "must be between 0 and 1000 messages per second")
	}
	if c.TierLimit < 0 {
		return cfg, settingError("campaign-tier-limit", fmt.Sprint(c.TierLimit), "must not be negative")
	}
	if c.FailureRate <= 0 || c.FailureRate > 1 {
		return cfg, settingError("campaign-failure-rate", fmt.Sprint(c.FailureRate), "must be a share above 0 and at most 1")
	}
	q := strings.TrimSpace(c.QuietHours)
	if q == "off" {
		cfg.QuietFrom, cfg.QuietTo = 1, 1 // equal hours: none quiet
		return cfg, nil
	}
	from, to, ok := strings.Cut(q, "-")
	f, err1 := strconv.Atoi(strings.TrimSpace(from))
	t, err2 := strconv.Atoi(strings.TrimSpace(to))
	if !ok || err1 != nil || err2 != nil || f < 0 || f > 23 || t < 0 || t > 23 || f == t {
		return cfg, settingError("campaign-quiet-hours", c.QuietHours, "must be FROM-TO in whole hours (e.g. 20-8) or off")
	}
	cfg.QuietFrom, cfg.QuietTo = f, t
	return cfg, nil
}
