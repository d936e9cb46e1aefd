package privacy

import "github.com/pforte/pforte/store"

// addCoexistence adds to a message's export where it came from (the phone,
// the imported history, a group update), when it was edited or revoked,
// and the texts it had before: all of it is data about the person.
func addCoexistence(j map[string]any, m *store.Message, revs []store.Revision) {
	if m.Origin != "" {
		j["origin"] = m.Origin
	}
	if m.EditedAt > 0 {
		j["edited_at"] = rfc3339(m.EditedAt)
	}
	if m.RevokedAt > 0 {
		j["revoked_at"] = rfc3339(m.RevokedAt)
	}
	if len(revs) > 0 {
		out := make([]map[string]any, 0, len(revs))
		for _, r := range revs {
			out = append(out, map[string]any{"kind": r.Kind, "text": optionalString(r.Text), "replaced_at": rfc3339(r.At)})
		}
		j["revisions"] = out
	}
}
