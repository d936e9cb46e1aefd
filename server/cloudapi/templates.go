package cloudapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Message templates: Meta's template API (list with paging, create, edit,
// delete, the template library, the Resumable Upload API for header
// samples) and the one reading of a template's components that the sync,
// the panel's picker and the send-time check share.

// TemplateDef is a template as GET /{waba_id}/message_templates lists it.
// Components stays raw: Pforte keeps what Meta said, including component
// kinds it does not know, and reads it with ParseComponents.
type TemplateDef struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Language        string          `json:"language"`
	Status          string          `json:"status"`
	Category        string          `json:"category"`
	ParameterFormat string          `json:"parameter_format,omitempty"`
	RejectedReason  string          `json:"rejected_reason,omitempty"`
	QualityScore    *QualityScore   `json:"quality_score,omitempty"`
	Components      json.RawMessage `json:"components,omitempty"`
	LibraryName     string          `json:"library_template_name,omitempty"`
}

// QualityScore is a template's quality rating.
type QualityScore struct {
	Score string `json:"score"`
}

// TemplateFields is the fields parameter Pforte lists templates with.
const TemplateFields = "id,name,language,status,category,parameter_format,rejected_reason,quality_score,components,library_template_name"

// Component is one part of a template: HEADER, BODY, FOOTER or BUTTONS
// (others, like CAROUSEL or LIMITED_TIME_OFFER, are kept but not checked).
type Component struct {
	Type    string            `json:"type"`
	Format  string            `json:"format,omitempty"` // HEADER: TEXT, IMAGE, VIDEO, GIF, DOCUMENT, LOCATION
	Text    string            `json:"text,omitempty"`
	Example *ComponentExample `json:"example,omitempty"`
	Buttons []Button          `json:"buttons,omitempty"`
	// Authentication templates.
	AddSecurityRecommendation bool `json:"add_security_recommendation,omitempty"`
	CodeExpirationMinutes     int  `json:"code_expiration_minutes,omitempty"`
}

// ComponentExample holds the sample values Meta's review needs.
type ComponentExample struct {
	HeaderText      []string       `json:"header_text,omitempty"`
	HeaderTextNamed []NamedExample `json:"header_text_named_params,omitempty"`
	HeaderHandle    []string       `json:"header_handle,omitempty"`
	BodyText        [][]string     `json:"body_text,omitempty"`
	BodyTextNamed   []NamedExample `json:"body_text_named_params,omitempty"`
}

// NamedExample is the sample of a named placeholder.
type NamedExample struct {
	ParamName string `json:"param_name"`
	Example   string `json:"example"`
}

// Button is one template button.
type Button struct {
	Type        string          `json:"type"` // QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP, FLOW, ...
	Text        string          `json:"text,omitempty"`
	URL         string          `json:"url,omitempty"`
	PhoneNumber string          `json:"phone_number,omitempty"`
	Example     json.RawMessage `json:"example,omitempty"` // ["suffix"] for URL, "CODE" for COPY_CODE
	OTPType     string          `json:"otp_type,omitempty"`
}

// Button types Pforte creates and checks.
const (
	ButtonQuickReply = "QUICK_REPLY"
	ButtonURL        = "URL"
	ButtonPhone      = "PHONE_NUMBER"
	ButtonCopyCode   = "COPY_CODE"
	ButtonOTP        = "OTP"
)

// Header formats.
const (
	HeaderText     = "TEXT"
	HeaderImage    = "IMAGE"
	HeaderVideo    = "VIDEO"
	HeaderGIF      = "GIF"
	HeaderDocument = "DOCUMENT"
	HeaderLocation = "LOCATION"
)

// ErrComponents: a template's components are not Meta's shape.
var ErrComponents = errors.New("cloudapi: template components unreadable")

// maxComponentsJSON bounds what is parsed; Meta's templates are a few KB.
const maxComponentsJSON = 256 << 10

// ParseComponents reads a template's components: Meta's list
// ([{"type":"BODY",…}]) or the map a components-update webhook gives
// ({"body":"…","header":"…","footer":"…","buttons":[…]}), as older
// versions of Pforte stored it.
func ParseComponents(raw []byte) ([]Component, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if len(raw) > maxComponentsJSON {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrComponents, maxComponentsJSON)
	}
	if raw[0] == '{' {
		return componentsFromUpdate(raw)
	}
	var cs []Component
	if err := json.Unmarshal(raw, &cs); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrComponents, err)
	}
	for i := range cs {
		cs[i].Type = strings.ToUpper(strings.TrimSpace(cs[i].Type))
		cs[i].Format = strings.ToUpper(strings.TrimSpace(cs[i].Format))
		for j := range cs[i].Buttons {
			cs[i].Buttons[j].Type = strings.ToUpper(strings.TrimSpace(cs[i].Buttons[j].Type))
		}
	}
	return cs, nil
}

// componentsFromUpdate turns a message_template_components_update value
// (body, title, footer, buttons) into Meta's component list.
func componentsFromUpdate(raw []byte) ([]Component, error) {
	var m struct {
		Body    json.RawMessage `json:"body"`
		Header  json.RawMessage `json:"header"`
		Footer  json.RawMessage `json:"footer"`
		Buttons []struct {
			Type  string `json:"message_template_button_type"`
			Text  string `json:"message_template_button_text"`
			URL   string `json:"message_template_button_url"`
			Phone string `json:"message_template_button_phone_number"`
		} `json:"buttons"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrComponents, err)
	}
	str := func(r json.RawMessage) string {
		var s string
		json.Unmarshal(r, &s)
		return s
	}
	var cs []Component
	if h := str(m.Header); h != "" {
		cs = append(cs, Component{Type: "HEADER", Format: HeaderText, Text: h})
	}
	cs = append(cs, Component{Type: "BODY", Text: str(m.Body)})
	if f := str(m.Footer); f != "" {
		cs = append(cs, Component{Type: "FOOTER", Text: f})
	}
	if len(m.Buttons) > 0 {
		b := Component{Type: "BUTTONS"}
		for _, x := range m.Buttons {
			b.Buttons = append(b.Buttons, Button{Type: strings.ToUpper(x.Type), Text: x.Text, URL: x.URL, PhoneNumber: x.Phone})
		}
		cs = append(cs, b)
	}
	return cs, nil
}

var placeholderRe = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// Placeholders lists a text's {{…}} placeholders in order of first use.
func Placeholders(text string) []string {
	var out []string
	for _, m := range placeholderRe.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// Slots is what a send of a template has to fill in.
type Slots struct {
	HeaderFormat string   // "" no header; TEXT, IMAGE, VIDEO, GIF, DOCUMENT, LOCATION
	HeaderParams []string // placeholders of a text header
	HeaderText   string
	Body         string
	BodyParams   []string // placeholders of the body, "1", "2" or names
	Footer       string
	Buttons      []Button
	// URLParams lists the indexes of URL buttons with a {{1}} suffix and
	// of copy-code buttons: each needs one parameter at send time.
	URLParams []int
	// Unchecked is set when the template has parts Pforte does not model
	// (carousels, limited-time offers, authentication buttons): the send is
	// then left to Meta rather than refused on a guess.
	Unchecked bool
}

// SlotsOf reads what a template's components require at send time.
func SlotsOf(cs []Component) Slots {
	var s Slots
	for _, c := range cs {
		switch c.Type {
		case "HEADER":
			s.HeaderFormat = c.Format
			if s.HeaderFormat == "" {
				s.HeaderFormat = HeaderText
			}
			if s.HeaderFormat == HeaderText {
				s.HeaderText = c.Text
				s.HeaderParams = Placeholders(c.Text)
			}
		case "BODY":
			s.Body = c.Text
			s.BodyParams = Placeholders(c.Text)
		case "FOOTER":
			s.Footer = c.Text
		case "BUTTONS":
			s.Buttons = c.Buttons
			for i, b := range c.Buttons {
				switch b.Type {
				case ButtonURL:
					if len(Placeholders(b.URL)) > 0 {
						s.URLParams = append(s.URLParams, i)
					}
				case ButtonCopyCode:
					s.URLParams = append(s.URLParams, i)
				case ButtonQuickReply, ButtonPhone:
				default:
					s.Unchecked = true
				}
			}
		default:
			s.Unchecked = true
		}
	}
	return s
}

// ParamError says how a send's parameters differ from the template: the
// refusal Meta would give (132000 for a wrong count, 132012 for a wrong
// kind), decided before Meta is called.
type ParamError struct {
	Code    ErrorCode
	Field   string // e.g. "template.components[body]"
	Details string
}

func (e *ParamError) Error() string { return "cloudapi: template parameters: " + e.Details }

type sendParam struct {
	Type          string          `json:"type"`
	ParameterName string          `json:"parameter_name"`
	Text          *string         `json:"text"`
	Image         json.RawMessage `json:"image"`
	Video         json.RawMessage `json:"video"`
	Document      json.RawMessage `json:"document"`
	Location      json.RawMessage `json:"location"`
	CouponCode    *string         `json:"coupon_code"`
	Payload       *string         `json:"payload"`
}

type sendComponent struct {
	Type       string          `json:"type"`
	SubType    string          `json:"sub_type"`
	Index      json.RawMessage `json:"index"`
	Parameters []sendParam     `json:"parameters"`
}

// CheckTemplateParams compares the template object of a send ({"name",
// "language", "components"}) with the stored template's components. A nil
// answer means the send may go to Meta (which still has the last word).
func CheckTemplateParams(cs []Component, payload []byte) *ParamError {
	s := SlotsOf(cs)
	if s.Unchecked {
		return nil
	}
	var t struct {
		Components []sendComponent `json:"components"`
	}
	if err := json.Unmarshal(payload, &t); err != nil {
		return &ParamError{Code: CodeInvalidParameter, Field: "template", Details: "the template object is not valid JSON: " + err.Error()}
	}
	var header, body *sendComponent
	buttons := map[int]*sendComponent{}
	for i := range t.Components {
		c := &t.Components[i]
		switch strings.ToLower(c.Type) {
		case "header":
			header = c
		case "body":
			body = c
		case "button":
			idx, err := strconv.Atoi(strings.Trim(string(c.Index), `"`))
			if err != nil || idx < 0 || idx >= len(s.Buttons) {
				return &ParamError{Code: CodeTemplateParamCount, Field: "template.components[button].index",
					Details: fmt.Sprintf("the template has %d buttons; index %s does not name one", len(s.Buttons), string(c.Index))}
			}
			buttons[idx] = c
		default:
			return &ParamError{Code: CodeInvalidParameter, Field: "template.components[].type",
				Details: fmt.Sprintf("component type %q is not one of header, body, button", c.Type)}
		}
	}
	if e := checkNamed("body", s.BodyParams, body); e != nil {
		return e
	}
	switch s.HeaderFormat {
	case "":
		if header != nil && len(header.Parameters) > 0 {
			return &ParamError{Code: CodeTemplateParamCount, Field: "template.components[header]", Details: "the template has no header, but header parameters were given"}
		}
	case HeaderText:
		if e := checkNamed("header", s.HeaderParams, header); e != nil {
			return e
		}
		if header != nil && len(header.Parameters) == 1 && strings.ToLower(header.Parameters[0].Type) != "text" {
			return &ParamError{Code: CodeTemplateParamFormat, Field: "template.components[header].parameters[0].type",
				Details: fmt.Sprintf("the template's header is text: the header parameter must be of type text, not %q", header.Parameters[0].Type)}
		}
	default:
		want := map[string]string{HeaderImage: "image", HeaderVideo: "video", HeaderGIF: "video", HeaderDocument: "document", HeaderLocation: "location"}[s.HeaderFormat]
		if header == nil || len(header.Parameters) != 1 {
			return &ParamError{Code: CodeTemplateParamCount, Field: "template.components[header]",
				Details: fmt.Sprintf("the template's header is a %s: give exactly one header parameter of type %s", strings.ToLower(s.HeaderFormat), want)}
		}
		p := header.Parameters[0]
		var obj json.RawMessage
		switch strings.ToLower(p.Type) {
		case "image":
			obj = p.Image
		case "video":
			obj = p.Video
		case "document":
			obj = p.Document
		case "location":
			obj = p.Location
		}
		if strings.ToLower(p.Type) != want || len(obj) == 0 || string(obj) == "null" {
			return &ParamError{Code: CodeTemplateParamFormat, Field: "template.components[header].parameters[0]",
				Details: fmt.Sprintf("the template's header is a %s: the header parameter must be of type %s with a %s object, not %q", strings.ToLower(s.HeaderFormat), want, want, p.Type)}
		}
	}
	for idx, c := range buttons {
		b := s.Buttons[idx]
		needs := slices.Contains(s.URLParams, idx)
		if !needs && len(c.Parameters) > 0 && b.Type != ButtonQuickReply {
			return &ParamError{Code: CodeTemplateParamCount, Field: fmt.Sprintf("template.components[button %d]", idx),
				Details: fmt.Sprintf("button %d (%s) takes no parameter", idx, b.Type)}
		}
		if sub := strings.ToUpper(c.SubType); sub != "" && sub != b.Type && !(sub == "URL" && b.Type == ButtonURL) {
			return &ParamError{Code: CodeTemplateParamFormat, Field: fmt.Sprintf("template.components[button %d].sub_type", idx),
				Details: fmt.Sprintf("button %d is a %s button, not %s", idx, b.Type, c.SubType)}
		}
	}
	for _, idx := range s.URLParams {
		c := buttons[idx]
		if c == nil || len(c.Parameters) != 1 {
			return &ParamError{Code: CodeTemplateParamCount, Field: fmt.Sprintf("template.components[button %d]", idx),
				Details: fmt.Sprintf("button %d (%s) needs exactly one parameter", idx, s.Buttons[idx].Type)}
		}
		p := c.Parameters[0]
		if s.Buttons[idx].Type == ButtonCopyCode {
			if p.CouponCode == nil || *p.CouponCode == "" {
				return &ParamError{Code: CodeTemplateParamFormat, Field: fmt.Sprintf("template.components[button %d].parameters[0]", idx),
					Details: fmt.Sprintf("button %d copies a code: give a parameter of type coupon_code", idx)}
			}
		} else if p.Text == nil || *p.Text == "" {
			return &ParamError{Code: CodeTemplateParamFormat, Field: fmt.Sprintf("template.components[button %d].parameters[0]", idx),
				Details: fmt.Sprintf("button %d has a link with a variable: give a parameter of type text", idx)}
		}
	}
	return nil
}

// checkNamed compares a header's or body's parameters with its
// placeholders: positional ones by count, named ones by name.
func checkNamed(part string, want []string, c *sendComponent) *ParamError {
	var got []sendParam
	if c != nil {
		got = c.Parameters
	}
	field := "template.components[" + part + "]"
	if len(got) != len(want) {
		return &ParamError{Code: CodeTemplateParamCount, Field: field,
			Details: fmt.Sprintf("%s: number of parameters (%d) does not match the expected number of params (%d)", part, len(got), len(want))}
	}
	named := len(want) > 0 && !isDigits(want[0])
	for i, p := range got {
		if p.Text == nil && strings.ToLower(p.Type) == "text" {
			return &ParamError{Code: CodeTemplateParamFormat, Field: fmt.Sprintf("%s.parameters[%d].text", field, i),
				Details: fmt.Sprintf("%s parameter %d has no text", part, i+1)}
		}
		if named {
			if !slices.Contains(want, p.ParameterName) {
				return &ParamError{Code: CodeTemplateParamCount, Field: fmt.Sprintf("%s.parameters[%d].parameter_name", field, i),
					Details: fmt.Sprintf("%s: the template has no parameter named %q (it has %s)", part, p.ParameterName, strings.Join(want, ", "))}
			}
		} else if p.ParameterName != "" && !slices.Contains(want, p.ParameterName) {
			return &ParamError{Code: CodeTemplateParamCount, Field: fmt.Sprintf("%s.parameters[%d].parameter_name", field, i),
				Details: fmt.Sprintf("%s: the template's placeholders are numbered; parameter_name %q is not expected", part, p.ParameterName)}
		}
	}
	if named {
		seen := map[string]bool{}
		for _, p := range got {
			if seen[p.ParameterName] {
				return &ParamError{Code: CodeTemplateParamCount, Field: field,
					Details: fmt.Sprintf("%s: parameter %q is given twice", part, p.ParameterName)}
			}
			seen[p.ParameterName] = true
		}
	}
	return nil
}

// ---- the Graph calls ----

// TemplatePage is one page of a template listing.
type TemplatePage struct {
	Data   []TemplateDef `json:"data"`
	Paging struct {
		Cursors struct {
			After string `json:"after"`
		} `json:"cursors"`
		Next string `json:"next"`
	} `json:"paging"`
}

// maxTemplatePages stops a listing whose cursors never end.
const maxTemplatePages = 500

func (c *Client) graphJSON(ctx context.Context, method, path string, body any, out any) error {
	var rd *bytes.Reader
	ct := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("meta: %w", err)
		}
		rd, ct = bytes.NewReader(b), "application/json"
	}
	var resp *Response
	var err error
	if rd != nil {
		resp, err = c.Do(ctx, method, path, ct, rd)
	} else {
		resp, err = c.Do(ctx, method, path, "", nil)
	}
	if err != nil {
		return err
	}
	if resp.Status/100 != 2 {
		return ParseError(resp.Status, resp.Body)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return fmt.Errorf("meta: unreadable answer to %s %s: %v", method, redactURL(path), err)
		}
	}
	return nil
}

// ListTemplates returns every template of a WhatsApp Business Account,
// following Meta's cursors page by page (pageSize per page, 0 = Meta's
// default).
func (c *Client) ListTemplates(ctx context.Context, wabaID string, pageSize int) ([]TemplateDef, error) {
	var all []TemplateDef
	after := ""
	for range maxTemplatePages {
		q := url.Values{"fields": {TemplateFields}}
		if pageSize > 0 {
			q.Set("limit", strconv.Itoa(pageSize))
		}
		if after != "" {
			q.Set("after", after)
		}
		var p TemplatePage
		if err := c.graphJSON(ctx, http.MethodGet, "/"+url.PathEscape(wabaID)+"/message_templates?"+q.Encode(), nil, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Data...)
		if p.Paging.Next == "" || p.Paging.Cursors.After == "" || p.Paging.Cursors.After == after {
			return all, nil
		}
		after = p.Paging.Cursors.After
	}
	return nil, fmt.Errorf("meta: template listing of %s has more than %d pages", wabaID, maxTemplatePages)
}

// TemplateCreated is Meta's answer to a new template.
type TemplateCreated struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Category string `json:"category"`
}

// CreateTemplate submits a template (Meta's create body) for review.
func (c *Client) CreateTemplate(ctx context.Context, wabaID string, body json.RawMessage) (*TemplateCreated, error) {
	var out TemplateCreated
	if err := c.graphJSON(ctx, http.MethodPost, "/"+url.PathEscape(wabaID)+"/message_templates", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// EditTemplate changes a template's components (or category) by its id.
func (c *Client) EditTemplate(ctx context.Context, templateID string, body json.RawMessage) error {
	return c.graphJSON(ctx, http.MethodPost, "/"+url.PathEscape(templateID), body, nil)
}

// DeleteTemplate deletes one language of a template (hsmID set) or every
// language of the name.
func (c *Client) DeleteTemplate(ctx context.Context, wabaID, name, hsmID string) error {
	q := url.Values{"name": {name}}
	if hsmID != "" {
		q.Set("hsm_id", hsmID)
	}
	return c.graphJSON(ctx, http.MethodDelete, "/"+url.PathEscape(wabaID)+"/message_templates?"+q.Encode(), nil, nil)
}

// LibraryTemplate is a template of Meta's template library.
type LibraryTemplate struct {
	Name       string          `json:"name"`
	Language   string          `json:"language"`
	Category   string          `json:"category"`
	Topic      string          `json:"topic,omitempty"`
	UseCase    string          `json:"usecase,omitempty"`
	Header     string          `json:"header,omitempty"`
	Body       string          `json:"body"`
	Buttons    json.RawMessage `json:"buttons,omitempty"`
	BodyParams json.RawMessage `json:"body_params,omitempty"`
}

// TemplateLibrary lists Meta's pre-approved library templates matching
// search (all when empty) in a language.
func (c *Client) TemplateLibrary(ctx context.Context, search, language string) ([]LibraryTemplate, error) {
	q := url.Values{}
	if search != "" {
		q.Set("search", search)
	}
	if language != "" {
		q.Set("language", language)
	}
	var out struct {
		Data []LibraryTemplate `json:"data"`
	}
	if err := c.graphJSON(ctx, http.MethodGet, "/message_template_library?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// HeaderSampleTypes are the file types Meta's Resumable Upload API takes
// for template header samples.
var HeaderSampleTypes = []string{"image/jpeg", "image/png", "video/mp4", "application/pdf"}

// UploadSample uploads a header sample through the Resumable Upload API
// (start a session on the app, send the bytes) and returns the handle a
// template's example.header_handle takes. appID "" uses "app", the app
// of the access token.
func (c *Client) UploadSample(ctx context.Context, appID, filename, mimeType string, data []byte) (string, error) {
	if !slices.Contains(HeaderSampleTypes, mimeType) {
		return "", fmt.Errorf("meta: %s is not a type Meta takes for a header sample", mimeType)
	}
	if appID == "" {
		appID = "app"
	}
	q := url.Values{"file_name": {filename}, "file_length": {strconv.Itoa(len(data))}, "file_type": {mimeType}}
	var session struct {
		ID string `json:"id"`
	}
	if err := c.graphJSON(ctx, http.MethodPost, "/"+url.PathEscape(appID)+"/uploads?"+q.Encode(), nil, &session); err != nil {
		return "", err
	}
	if !strings.HasPrefix(session.ID, "upload:") {
		return "", fmt.Errorf("meta: upload session id %q unexpected", session.ID)
	}
	tok, err := c.token(ctx)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/"+c.Version+"/"+session.ID, bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("meta: request: %w", err)
	}
	req.Header.Set("Authorization", "OAuth "+tok)
	req.Header.Set("file_offset", "0")
	req.Header.Set("Content-Type", "application/octet-stream")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("meta: upload: %v", stripURL(err))
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(http.MaxBytesReader(nil, resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return "", ParseError(resp.StatusCode, buf.Bytes())
	}
	var h struct {
		H string `json:"h"`
	}
	if err := json.Unmarshal(buf.Bytes(), &h); err != nil || h.H == "" {
		return "", fmt.Errorf("meta: upload answered without a handle")
	}
	return h.H, nil
}

// UserMessage is Meta's explanation of a refused template for people
// (error_user_title and error_user_msg), else its message.
func UserMessage(e *Error) string {
	var env struct {
		Error struct {
			Title string `json:"error_user_title"`
			Msg   string `json:"error_user_msg"`
		} `json:"error"`
	}
	json.Unmarshal(e.Raw, &env)
	parts := []string{}
	for _, s := range []string{env.Error.Title, env.Error.Msg} {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		if d := e.Details(); d != "" {
			return e.Message + " " + d
		}
		return e.Message
	}
	return strings.Join(parts, ": ")
}
