package addressbook

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pforte/pforte/store"
)

// ExportOptions shape the export.
type ExportOptions struct {
	Separator rune // ';' (default: what German Excel reads on a double click) or ','
}

// csvSafe keeps a cell from being read as a formula by a spreadsheet
// (CSV injection): a leading = + - @ gets a quote character in front.
// Phone numbers start with "+" and are written as "+49…", which Excel
// would take for a formula, so they go through here too.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Export writes every contact matching f as CSV in UTF-8 with a BOM, so
// that Excel shows umlauts; the header uses the import's names, so an
// export imports again unchanged. It returns the number of contacts.
func Export(ctx context.Context, st *store.Store, f store.ContactFilter, w io.Writer, opts ExportOptions) (int, error) {
	if opts.Separator == 0 {
		opts.Separator = ';'
	}
	defs, err := st.ContactFields(ctx)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString("\ufeff"); err != nil {
		return 0, err
	}
	cw := csv.NewWriter(bw)
	cw.Comma = opts.Separator
	cw.UseCRLF = true // Excel's line ends
	header := []string{"phone", "user_id", "username", "name", "email", "company", "note", "labels"}
	for _, d := range defs {
		header = append(header, "field:"+d.Key)
	}
	header = append(header, "consent_marketing", "consent_date")
	if err := cw.Write(header); err != nil {
		return 0, err
	}
	n := 0
	rec := make([]string, len(header))
	err = st.EachContact(ctx, f, func(c *store.ContactRecord) error {
		phone := ""
		if c.WaID != "" {
			phone = "+" + c.WaID
		}
		rec = rec[:0]
		rec = append(rec, csvSafe(phone), csvSafe(c.UserID), csvSafe(c.Username), csvSafe(c.Name), csvSafe(c.Email),
			csvSafe(c.Company), csvSafe(c.Note), csvSafe(strings.Join(c.Labels, ", ")))
		for _, d := range defs {
			rec = append(rec, csvSafe(c.Fields[d.Key]))
		}
		consent, at := "", ""
		switch c.Marketing {
		case store.OptIn:
			consent = "ja"
		case store.OptOut:
			consent = "nein"
		}
		if c.MarketingAt > 0 {
			at = time.Unix(c.MarketingAt, 0).UTC().Format(time.RFC3339)
		}
		rec = append(rec, consent, at)
		n++
		return cw.Write(rec)
	})
	if err != nil {
		return n, fmt.Errorf("addressbook: export: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, err
	}
	return n, bw.Flush()
}
