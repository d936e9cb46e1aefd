package store

// retentionExtensions purge the classes whose tables other parts of Pforte
// add; see purgeSpec for the parameters.
//
// The address book (schema430AddressBook) has no class of its own: its
// data is part of the contact and kept as long as the contact; erasure
// (Art. 17) removes it. A contact with no conversation, no consent record
// and no hold goes with the closed_conversations class, counted from its
// last change (its field values and labels cascade).
// Custom field definitions and labels hold no personal data. Uploaded
// import files are deleted after the import and within an hour at the
// latest (panel/contactbook.go), and by the spool sweep at start.
var retentionExtensions = map[string]purgeSpec{
	// Finished sends keep Meta's request body (failed and unknown ones) and
	// answer; the message itself stays under the messages policy. Queued
	// and sending rows are live work and never purged. Paged by id: the
	// table has no index on updated_at, and ids grow with time.
	RetainOutbox: {
		candidates: `SELECT o.id, o.id FROM outbox o
			WHERE o.state IN ('accepted', 'failed', 'unknown') AND o.updated_at < ?2 AND (o.id, o.id) > (?4, ?5) AND ?3 = ?3 AND ?1 = ?1
			ORDER BY o.id LIMIT ?6`,
		remove: []string{`DELETE FROM outbox WHERE ?1 = ?1 AND state IN ('accepted', 'failed', 'unknown') AND updated_at < ?2
			AND id IN (SELECT value FROM json_each(?3))`},
	},
	// Forwards given up on ('dead') stay for inspection and replay until the
	// fan-out period ends; pending ones are live work and never purged.
	// enqueued_at is in milliseconds. The table has no rowid, so pages are
	// keyed by delivery.
	RetainFanout: {
		candidates: `SELECT DISTINCT q.delivery_id, q.delivery_id FROM fanout_queue q
			WHERE q.state = 'dead' AND q.enqueued_at < ?2 * 1000 AND (q.delivery_id, q.delivery_id) > (?4, ?5) AND ?3 = ?3 AND ?1 = ?1
			ORDER BY q.delivery_id LIMIT ?6`,
		remove: []string{`DELETE FROM fanout_queue WHERE ?1 = ?1 AND state = 'dead' AND enqueued_at < ?2 * 1000
			AND delivery_id IN (SELECT value FROM json_each(?3))`},
	},
	// Finished (done or cancelled) campaigns with their recipient rows
	// (ON DELETE CASCADE); running, paused and scheduled ones are live.
	RetainCampaigns: {
		candidates: `SELECT c.finished_at, c.id FROM campaigns c
			WHERE c.status IN ('done', 'cancelled') AND c.finished_at < ?2 AND (c.finished_at, c.id) > (?4, ?5) AND ?3 = ?3 AND ?1 = ?1
			ORDER BY c.finished_at, c.id LIMIT ?6`,
		remove: []string{`DELETE FROM campaigns WHERE ?1 = ?1 AND status IN ('done', 'cancelled') AND finished_at < ?2
			AND id IN (SELECT value FROM json_each(?3))`},
	},
}
