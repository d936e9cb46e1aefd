package server

import (
	"encoding/json"
	"errors"
	"strings"
)

// sendBody builds Meta's request body for a composer message, the same
// bytes a Cloud API client would post; mediaID is the uploaded file's id.
func sendBody(m PanelMessage, mediaID string) ([]byte, error) {
	body := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "type": m.Type}
	switch {
	case m.ToWaID != "":
		body["to"] = "+" + m.ToWaID
	case m.ToUserID != "":
		body["recipient"] = m.ToUserID
	default:
		return nil, errors.New("panel: the conversation has no recipient")
	}
	if m.ReplyTo != "" {
		body["context"] = map[string]string{"message_id": m.ReplyTo}
	}
	switch m.Type {
	case "text":
		t := map[string]any{"body": m.Text}
		if strings.Contains(m.Text, "https://") || strings.Contains(m.Text, "http://") {
			t["preview_url"] = true
		}
		body["text"] = t
	case "image", "video", "audio", "document":
		if mediaID == "" {
			return nil, errors.New("panel: attachment not uploaded")
		}
		obj := map[string]any{"id": mediaID}
		if m.Text != "" && m.Type != "audio" {
			obj["caption"] = m.Text
		}
		if m.Type == "document" && m.File != nil {
			obj["filename"] = m.File.Name
		}
		body[m.Type] = obj
	case "template":
		if m.Template == nil {
			return nil, errors.New("panel: template missing")
		}
		t := map[string]any{"name": m.Template.Name, "language": map[string]string{"code": m.Template.Language}}
		if len(m.Template.Params) > 0 {
			var params []map[string]string
			for _, p := range m.Template.Params {
				param := map[string]string{"type": "text", "text": p.Value}
				if !isDigits(p.Name) {
					// Named-parameter templates name each value.
					param["parameter_name"] = p.Name
				}
				params = append(params, param)
			}
			t["components"] = []any{map[string]any{"type": "body", "parameters": params}}
		}
		body["template"] = t
	default:
		return nil, errors.New("panel: unknown message type " + m.Type)
	}
	return json.Marshal(body)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
