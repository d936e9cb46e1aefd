package store

// retentionExtensions purge the classes whose tables other parts of Pforte
// add (outbox, fan-out); see purgeSpec for the parameters.
var retentionExtensions = map[string]purgeSpec{}
