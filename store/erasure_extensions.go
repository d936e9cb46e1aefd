package store

// erasureExtensions delete what tables outside the core keep about one
// contact; each statement takes the contact's id. Tables whose rows hang
// off conversations, messages or contacts with ON DELETE CASCADE need no
// entry. Keep this list in step with new tables that hold personal data.
var erasureExtensions = []string{
	// A history chunk not yet imported that mentions the person is dropped
	// whole, like the raw deliveries that mention them; the import would
	// skip them anyway (tombstones win), but their data must not wait.
	`DELETE FROM history_chunks WHERE state = 'pending' AND value IS NOT NULL AND (
		instr(value, (SELECT '"' || wa_id || '"' FROM contacts WHERE id = ?1 AND wa_id IS NOT NULL)) > 0 OR
		instr(value, (SELECT '"' || user_id || '"' FROM contacts WHERE id = ?1 AND user_id IS NOT NULL)) > 0)`,
}
