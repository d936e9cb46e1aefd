package store

// erasureExtensions delete what tables outside the core keep about one
// contact; each statement takes the contact's id. Tables whose rows hang
// off conversations, messages or contacts with ON DELETE CASCADE need no
// entry. Keep this list in step with new tables that hold personal data.
//
// The address book (schema430AddressBook) needs none: e-mail, company and
// note are columns of contacts, custom field values and contact labels
// cascade from contacts, and the trigram index's delete trigger (with
// secure-delete) removes the contact's tokens.
var erasureExtensions = []string{
	// Campaign recipients: the person leaves every campaign; the row's
	// status stays so that the campaign's counts do not change.
	`UPDATE campaign_recipients SET contact_id = NULL, message_id = NULL, params = NULL, country = '' WHERE contact_id = ?`,
	// A history chunk not yet imported that mentions the person is dropped
	// whole, like the raw deliveries that mention them; the import would
	// skip them anyway (tombstones win), but their data must not wait.
	`DELETE FROM history_chunks WHERE state = 'pending' AND value IS NOT NULL AND (
		instr(value, (SELECT '"' || wa_id || '"' FROM contacts WHERE id = ?1 AND wa_id IS NOT NULL)) > 0 OR
		instr(value, (SELECT '"' || user_id || '"' FROM contacts WHERE id = ?1 AND user_id IS NOT NULL)) > 0)`,
	// A waiting chunk kept only in its raw delivery (migration 500) goes
	// with that delivery, which the erasure has just removed because it
	// mentions the person.
	`DELETE FROM history_chunks WHERE ?1 = ?1 AND state = 'pending' AND value IS NULL AND delivery_id IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = history_chunks.delivery_id)`,
}
