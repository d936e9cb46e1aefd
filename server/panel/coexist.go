package panel

import (
	"context"
	"encoding/json"

	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// decorate adds what coexistence, groups and interactive messages add to
// a message's view: where it came from, edits and revokes, the group
// member who wrote it, and what an interactive message offered.
func decorate(ctx context.Context, m *store.Message, vm *web.MessageVM) {
	vm.Sender = m.SenderName
	vm.Edited = m.EditedAt > 0
	switch m.Origin {
	case store.OriginPhone:
		vm.FromPhone = true
		switch m.Type {
		case "edit":
			vm.System = web.T(ctx, "Auf dem Telefon wurde eine Nachricht bearbeitet.")
		case "revoke":
			vm.System = web.T(ctx, "Auf dem Telefon wurde eine Nachricht gelöscht.")
		}
	case store.OriginHistory:
		vm.History = true
		if m.Type == "media_placeholder" {
			vm.Unsupported = web.T(ctx, "Datei aus dem früheren Chatverlauf (von WhatsApp nicht mitgeliefert).")
		}
	case store.OriginGroupEvent:
		vm.Unsupported = ""
		vm.System = groupEventText(ctx, m)
	}
	if m.RevokedAt > 0 {
		vm.Revoked = true
		vm.Text, vm.Media = "", nil
		vm.System = web.T(ctx, "Diese Nachricht wurde gelöscht.")
	}
	if m.Type == "interactive" && vm.Outbound {
		vm.Interactive = interactiveVM(m.Payload)
		if vm.Interactive != nil && vm.Text == web.T(ctx, "Interaktive Nachricht") {
			vm.Text = ""
		}
	}
}

// groupEventText words a group update for the conversation.
func groupEventText(ctx context.Context, m *store.Message) string {
	var g struct {
		Subject    string `json:"subject"`
		InviteLink string `json:"invite_link"`
		Added      []struct {
			WaID string `json:"wa_id"`
		} `json:"added_participants"`
		Removed []struct {
			WaID string `json:"wa_id"`
		} `json:"removed_participants"`
		GroupSubject *struct {
			Text string `json:"text"`
		} `json:"group_subject"`
	}
	json.Unmarshal(m.Payload, &g)
	numbers := func(l []struct {
		WaID string `json:"wa_id"`
	}) string {
		out := ""
		for i, p := range l {
			if i > 0 {
				out += ", "
			}
			out += "+" + p.WaID
		}
		return out
	}
	switch m.Type {
	case "group_create":
		return web.Tf(ctx, "Gruppe „%s“ erstellt. Einladungslink: %s", g.Subject, g.InviteLink)
	case "group_delete":
		return web.T(ctx, "Gruppe gelöscht.")
	case "group_participants_add":
		return web.Tf(ctx, "Beigetreten: %s", numbers(g.Added))
	case "group_participants_remove":
		return web.Tf(ctx, "Ausgetreten oder entfernt: %s", numbers(g.Removed))
	case "group_join_request_created":
		return web.T(ctx, "Neue Beitrittsanfrage.")
	case "group_join_request_revoked":
		return web.T(ctx, "Beitrittsanfrage zurückgezogen.")
	case "group_suspend":
		return web.T(ctx, "Gruppe von WhatsApp gesperrt.")
	case "group_suspend_cleared":
		return web.T(ctx, "Sperre der Gruppe aufgehoben.")
	}
	if g.GroupSubject != nil && g.GroupSubject.Text != "" {
		return web.Tf(ctx, "Gruppenname geändert: „%s“", g.GroupSubject.Text)
	}
	return web.T(ctx, "Gruppeneinstellungen geändert.")
}

// interactiveVM reads what an outbound interactive message offered.
func interactiveVM(payload []byte) *web.InteractiveVM {
	var it struct {
		Type   string `json:"type"`
		Header struct {
			Text string `json:"text"`
		} `json:"header"`
		Footer struct {
			Text string `json:"text"`
		} `json:"footer"`
		Action struct {
			Button  string `json:"button"`
			Buttons []struct {
				Reply struct {
					Title string `json:"title"`
				} `json:"reply"`
			} `json:"buttons"`
			Sections []struct {
				Title string `json:"title"`
				Rows  []struct {
					Title string `json:"title"`
				} `json:"rows"`
			} `json:"sections"`
			Parameters struct {
				DisplayText string `json:"display_text"`
				URL         string `json:"url"`
			} `json:"parameters"`
		} `json:"action"`
	}
	if json.Unmarshal(payload, &it) != nil || it.Type == "" {
		return nil
	}
	vm := &web.InteractiveVM{Kind: it.Type, Header: it.Header.Text, Footer: it.Footer.Text}
	switch it.Type {
	case "button":
		for _, b := range it.Action.Buttons {
			vm.Buttons = append(vm.Buttons, b.Reply.Title)
		}
	case "list":
		vm.Buttons = []string{it.Action.Button}
		for _, s := range it.Action.Sections {
			sec := web.ListSectionVM{Title: s.Title}
			for _, r := range s.Rows {
				sec.Rows = append(sec.Rows, r.Title)
			}
			vm.Sections = append(vm.Sections, sec)
		}
	case "cta_url":
		vm.Buttons, vm.URL = []string{it.Action.Parameters.DisplayText}, it.Action.Parameters.URL
	}
	return vm
}
