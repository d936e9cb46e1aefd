package store

// erasureExtensions delete what tables outside the core keep about one
// contact; each statement takes the contact's id. Tables whose rows hang
// off conversations, messages or contacts with ON DELETE CASCADE need no
// entry. Keep this list in step with new tables that hold personal data.
var erasureExtensions = []string{}
