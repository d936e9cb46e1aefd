package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/privacy"
	"github.com/pforte/pforte/server/replica"
	"github.com/pforte/pforte/store"
)

// cmdExport writes the Art. 15/20 export of one customer to a ZIP file.
func cmdExport(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	contact := fs.String("contact", "", "the customer: wa_id (phone digits) or business-scoped user id (required)")
	out := fs.String("out", "", "ZIP file to write (required; must not exist)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if strings.TrimSpace(*contact) == "" {
		return settingError("contact", *contact, "give the customer's phone number or user id")
	}
	if *out == "" {
		return settingError("out", *out, "give the file to write, e.g. auskunft.zip")
	}
	if _, err := os.Stat(*out); err == nil {
		return settingError("out", *out, "the file exists; choose a new name")
	}
	st, err := store.Open(ctx, *dataDir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := st.ContactByKey(ctx, *contact)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no customer %q in %s", *contact, *dataDir)
	}
	if err != nil {
		return err
	}
	// Written under a temporary name and renamed when complete, so that a
	// half-written export never looks finished; removed on failure, since
	// it holds personal data.
	partial := *out + ".partial"
	f, err := os.OpenFile(partial, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(partial)
		}
	}()
	bar := &progressBar{w: stderr, quiet: *quiet}
	stats, err := privacy.ExportContact(ctx, st, c, f, privacy.ExportOptions{Actor: store.ActorCLI, Progress: bar.update})
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.Rename(partial, *out); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	ok = true
	bar.done()
	fmt.Fprintf(stdout, "%s: %d messages, %d media files (%s)", *out, stats.Messages, stats.MediaFiles, humanBytes(stats.MediaBytes))
	if stats.MediaMismatches > 0 {
		fmt.Fprintf(stdout, ", %d files do not match WhatsApp's checksum", stats.MediaMismatches)
	}
	if stats.MediaMissing > 0 {
		fmt.Fprintf(stdout, ", %d files not stored locally", stats.MediaMissing)
	}
	fmt.Fprintln(stdout)
	return nil
}

// progressBar draws one line on a terminal, at most ten times a second.
type progressBar struct {
	w     io.Writer
	quiet bool
	last  time.Time
	drawn bool
}

func (b *progressBar) update(p privacy.ExportProgress) {
	if b.quiet || time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	done, total := p.Messages+p.MediaBytes/(64<<10), p.TotalMessages+p.TotalMediaBytes/(64<<10)
	frac := 1.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(b.w, "\r[%s%s] %3.0f%%  %d/%d messages  %s/%s media ", strings.Repeat("#", n), strings.Repeat(".", width-n),
		frac*100, p.Messages, p.TotalMessages, humanBytes(p.MediaBytes), humanBytes(p.TotalMediaBytes))
	b.drawn = true
}

func (b *progressBar) done() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// cmdErase erases one customer (Art. 17).
func cmdErase(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("erase", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	contact := fs.String("contact", "", "the customer: wa_id (phone digits) or business-scoped user id (required)")
	yes := fs.Bool("yes", false, "really erase (required; there is no undo)")
	reason := fs.String("reason", "", "why, for the audit trail (e.g. the request's date); no personal data")
	token := fs.String("access-token", "", "Meta access token for deleting the customer's uploads at Meta (default: the one saved in the settings)")
	graphURL := fs.String("graph-url", "https://graph.facebook.com", "Graph API base URL")
	graphVersion := fs.String("graph-version", "v24.0", "Graph API version")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if strings.TrimSpace(*contact) == "" {
		return settingError("contact", *contact, "give the customer's phone number or user id")
	}
	if !*yes {
		return errors.New("erasing cannot be undone; add --yes to confirm (export first with pforte export if the customer asked for a copy)")
	}
	// Beside a running replicator the WAL is truncated by it, right after
	// it has shipped the erasure; waiting for it here would only take 30 s.
	rs, _ := replica.ReadStatus(*dataDir)
	replicating := rs.Running(time.Now())
	st, err := store.Open(ctx, *dataDir, store.Options{ReplicaRunning: func() bool { return replicating }})
	if err != nil {
		return err
	}
	defer st.Close()
	// The token saved in the settings (as "pforte serve" uses it), unless
	// --access-token names another for this run.
	tokens := accessTokens(st, "")
	if *token != "" {
		tokens = cloudapi.StaticToken(*token)
	}
	client := cloudapi.NewClientWithTokens(*graphURL, *graphVersion, tokens)
	client.HTTP.Timeout = 30 * time.Second
	eraser := privacy.Eraser{Store: st, DeleteAtMeta: client.EraseMedia, Log: newLogger(stderr, "warn", "text")}
	res, meta, err := eraser.Erase(ctx, *contact, store.EraseRequest{Actor: store.ActorCLI, Reason: *reason})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no customer %q in %s (erased already?)", *contact, *dataDir)
	}
	if err != nil {
		return err
	}
	if res.State == store.ErasureRestricted {
		fmt.Fprintf(stdout, "restricted, not erased: %d legal hold(s) apply. The erasure runs automatically when they end (request %d).\n", len(res.Holds), res.RequestID)
		for _, h := range res.Holds {
			until := "until released"
			if h.Until != 0 {
				until = "until " + time.Unix(h.Until, 0).Format("2006-01-02")
			}
			fmt.Fprintf(stdout, "  hold %d %s: %s (set by %s)\n", h.ID, until, h.Reason, h.CreatedBy)
		}
		return nil
	}
	fmt.Fprintf(stdout, "erased: %d messages, %d conversations, %d raw deliveries, %d receipts, %d events, %d media files; tombstone %s\n",
		res.Messages, res.Conversations, res.Deliveries, res.Statuses, res.Events, res.MediaFiles, res.Subject)
	for _, r := range res.Recipients {
		fmt.Fprintf(stdout, "tell this recipient of forwarded data about the erasure (Art. 19): %s\n", r)
	}
	switch {
	case res.Scrub.WALLeftToReplica:
		fmt.Fprintln(stdout, "the replicator truncates the WAL as soon as it has shipped the erasure (pforte replica status shows the erasure snapshot)")
	case res.Scrub.WALBusy:
		fmt.Fprintln(stderr, "warning: a long-running reader kept the WAL from being truncated; the next maintenance run finishes it")
	}
	if n := len(res.MetaMediaIDs); n > 0 {
		if meta.Skipped > 0 {
			fmt.Fprintf(stderr, "warning: %d files uploaded to Meta for this customer were not deleted there (no access token saved or given with --access-token); Meta drops them after 30 days\n", meta.Skipped)
			return nil
		}
		fmt.Fprintf(stdout, "deleted at Meta: %d of %d uploaded files\n", meta.Deleted, n)
		if meta.Failed > 0 {
			return fmt.Errorf("%d files could not be deleted at Meta; run again later", meta.Failed)
		}
	}
	return nil
}

// cmdRetention runs the retention policies now.
func cmdRetention(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprintln(stderr, "usage: pforte retention run [--dry-run]")
		return errUsage
	}
	fs := flag.NewFlagSet("retention run", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	dry := fs.Bool("dry-run", false, "only list what would be deleted")
	if err := parseFlags(fs, args[1:], env); err != nil {
		return err
	}
	st, err := store.Open(ctx, *dataDir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.RunRetention(ctx, store.RetentionOptions{DryRun: *dry, Actor: store.ActorCLI})
	if err != nil {
		return err
	}
	verb := "deleted"
	if *dry {
		verb = "would delete"
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "CLASS\tNUMBER\tKEEP\tOLDER THAN\t%s\n", strings.ToUpper(verb))
	for _, it := range rep.Items {
		number := it.PhoneNumberID
		if number == "" {
			number = "all"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d days\t%s\t%d\n", it.Class, number, it.Days, it.Cutoff.Local().Format("2006-01-02 15:04"), it.Rows)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "media files: %d, unreferenced files in the media folder: %d", rep.MediaFiles, rep.OrphanFiles)
	if !*dry {
		fmt.Fprintf(stdout, ", erasures completed after their hold ended: %d, took %s", rep.Erasures, rep.Took.Round(time.Millisecond))
	}
	fmt.Fprintln(stdout)
	return nil
}

// cmdRecords prints the record of processing activities (Art. 30).
func cmdRecords(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("records", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	format := fs.String("format", "markdown", "markdown or json")
	controller := fs.String("controller", "", "the company's name and address, printed as the controller")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if *format != "markdown" && *format != "json" {
		return settingError("format", *format, `want "markdown" or "json"`)
	}
	st, err := store.Open(ctx, *dataDir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	pc := store.ProcessingContext{Controller: *controller, BackupKeep: 7, BackupMaxAge: 30 * 24 * time.Hour}
	// A replica switched on in the settings page is in the record too.
	if rs, err := st.ReplicaSettings(ctx); err != nil {
		return err
	} else if rs.Enabled {
		pc.Replica, pc.ReplicaRetention, pc.ReplicaEncrypted = redactURL(rs.URL), cmp.Or(rs.Retention, replica.DefaultRetention), !rs.Unencrypted
	}
	rec, err := st.RecordsOfProcessing(ctx, pc)
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rec)
	}
	writeRecordsMarkdown(stdout, rec)
	return nil
}

func writeRecordsMarkdown(w io.Writer, r *store.ProcessingRecords) {
	fmt.Fprintf(w, "# Verzeichnis von Verarbeitungstätigkeiten (Art. 30 DSGVO) — Pforte\n\n")
	fmt.Fprintf(w, "Stand / as of: %s\n\nVerantwortlicher / controller: %s\n\n> %s\n\n", r.GeneratedAt.Format("2006-01-02"), r.Controller, r.Note)
	for i, a := range r.Activities {
		fmt.Fprintf(w, "## %d. %s\n\n", i+1, a.Name)
		fmt.Fprintf(w, "- **Zweck / purpose:** %s\n- **Rechtsgrundlage / legal basis:** %s\n- **Betroffene / data subjects:** %s\n", a.Purpose, a.LegalBasis, a.Subjects)
		fmt.Fprintf(w, "- **Datenkategorien / data categories:** %s\n- **Empfänger / recipients:** %s\n", strings.Join(a.DataCategories, "; "), strings.Join(a.Recipients, "; "))
		fmt.Fprintf(w, "- **Drittland / third country:** %s\n- **Löschfristen / retention:** %s\n- **Ort / location:** %s\n\n", a.ThirdCountry, strings.Join(a.Retention, "; "), a.Location)
	}
	fmt.Fprintf(w, "## Auftragsverarbeiter / processors\n\n")
	for _, p := range r.Processors {
		fmt.Fprintf(w, "- %s — %s\n", p.Name, p.Role)
	}
	fmt.Fprintf(w, "\n## Technische und organisatorische Maßnahmen / technical and organisational measures\n\n")
	ms := append([]string(nil), r.Measures...)
	sort.Strings(ms)
	for _, m := range ms {
		fmt.Fprintf(w, "- %s\n", m)
	}
}

// backupDirOf is where scheduled backups go by default.
func backupDirOf(dataDir string) string { return filepath.Join(dataDir, "backups") }
