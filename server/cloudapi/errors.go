package cloudapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error is a Graph API error as Meta returns it: {"error": {...}}. Raw keeps
// the exact body so that the proxy can hand it on unchanged.
type Error struct {
	HTTPStatus  int             `json:"-"`
	Message     string          `json:"message"`
	Type        string          `json:"type,omitempty"`
	Code        ErrorCode       `json:"code"`
	Subcode     int             `json:"error_subcode,omitempty"`
	ErrorData   json.RawMessage `json:"error_data,omitempty"`
	IsTransient bool            `json:"is_transient,omitempty"`
	FBTraceID   string          `json:"fbtrace_id,omitempty"`
	Raw         []byte          `json:"-"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("meta: graph error %d (HTTP %d): %s", e.Code, e.HTTPStatus, e.Message)
}

// Details returns error_data.details, Meta's human explanation, if any.
func (e *Error) Details() string {
	var d struct {
		Details string `json:"details"`
	}
	json.Unmarshal(e.ErrorData, &d)
	return d.Details
}

// Transient reports whether repeating the same request later may succeed.
func (e *Error) Transient() bool {
	if e.IsTransient {
		return true
	}
	switch e.Code {
	case CodeUnknown, CodeServiceDown, CodeAppRateLimit, CodeWABARateLimit,
		CodeThroughputReached, CodeSomethingWentWrong, CodeServiceUnavailable,
		CodePairRateLimit, // wait and send again
		CodeMaintenance:
		return true
	}
	// A 5xx without a recognised code is Meta's side failing.
	return e.HTTPStatus >= 500 && e.Code == 0
}

// TokenExpired reports whether the access token no longer works (190).
func (e *Error) TokenExpired() bool { return e.Code == CodeAccessTokenExpired }

// JSON returns the error as a Graph error body.
func (e *Error) JSON() []byte {
	if len(e.Raw) > 0 {
		return e.Raw
	}
	b, _ := json.Marshal(struct {
		Error *Error `json:"error"`
	}{e})
	return b
}

// Object returns the inner error object, the shape stored with a failed
// message next to the errors of failed-status webhooks.
func (e *Error) Object() json.RawMessage {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(e.JSON(), &env) == nil && len(env.Error) > 0 {
		return env.Error
	}
	b, _ := json.Marshal(e)
	return b
}

// NewError builds a Graph-shaped error the way Meta words them: the message
// is prefixed "(#code)" and error_data carries the details.
func NewError(httpStatus int, code ErrorCode, title, details string) *Error {
	e := &Error{HTTPStatus: httpStatus, Message: fmt.Sprintf("(#%d) %s", code, title), Type: "OAuthException", Code: code,
		FBTraceID: "pforte"}
	if details != "" {
		e.ErrorData, _ = json.Marshal(map[string]string{"messaging_product": "whatsapp", "details": details})
	}
	e.Raw = e.JSON()
	return e
}

// ParseError reads a non-2xx Graph response. A body that is not a Graph
// error (an HTML page from a proxy, say) becomes a transient error for 5xx
// and a permanent one otherwise, with the start of the body as message.
func ParseError(status int, body []byte) *Error {
	var env struct {
		Error *Error `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err == nil && env.Error != nil && (env.Error.Code != 0 || env.Error.Message != "") {
		env.Error.HTTPStatus = status
		env.Error.Raw = append([]byte(nil), body...)
		return env.Error
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200]
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	e := &Error{HTTPStatus: status, Message: msg}
	if status >= 500 || status == http.StatusTooManyRequests {
		e.IsTransient = true
	}
	e.Raw = nil
	return e
}

// ErrUncertain wraps failures after which the request may have reached
// Meta: it was written completely, then the answer never came. Such a
// send must not be repeated blindly.
var ErrUncertain = errors.New("meta: request may have reached Meta; outcome unknown")

// IsUncertain reports whether err means "maybe sent".
func IsUncertain(err error) bool { return errors.Is(err, ErrUncertain) }
