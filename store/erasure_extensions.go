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
}
