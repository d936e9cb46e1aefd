package store

import (
	"strconv"
	"strings"
)

// Actor says who did something: a person, an API key or a part of Pforte.
// It is stored as text (audit_log.actor, consent_records.actor, outbound
// messages, erasure requests), so the values below are part of the schema.
type Actor string

// Actors that are not a person or a key.
const (
	ActorSystem    Actor = "system"            // scheduled jobs
	ActorStopReply Actor = "system:stop-reply" // the automatic answer to a stop word
	ActorCLI       Actor = "cli"               // a pforte command on the server
	ActorSetup     Actor = "setup"             // the first-run page
	ActorAnonymous Actor = "anonymous"         // a visitor who is not logged in
	ActorCustomer  Actor = "customer"          // the contact, by message or secure link
	ActorRestore   Actor = "restore"           // decisions re-applied after a restore
	ActorAPI       Actor = "api"               // the internal API when no key is known
	ActorUnknown   Actor = "unknown"
)

// Prefixes of the actors that carry an id.
const (
	userActorPrefix = "user:"
	keyActorPrefix  = "apikey:"
)

// UserActor is the panel account id.
func UserActor(id int64) Actor { return Actor(userActorPrefix + strconv.FormatInt(id, 10)) }

// KeyActor is the API key with this (public) prefix.
func KeyActor(prefix string) Actor { return Actor(keyActorPrefix + prefix) }

// UserID is the account behind a UserActor.
func (a Actor) UserID() (int64, bool) {
	rest, ok := strings.CutPrefix(string(a), userActorPrefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil
}

// KeyPrefix is the API key prefix behind a KeyActor.
func (a Actor) KeyPrefix() (string, bool) {
	return strings.CutPrefix(string(a), keyActorPrefix)
}

// ParseActor reads an actor back from storage. It only types the text:
// every stored value is kept, known or not.
func ParseActor(s string) Actor { return Actor(s) }

// String is the stored form; it also names a user or key as an audit target.
func (a Actor) String() string { return string(a) }
