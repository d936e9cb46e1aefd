package cloudapi

// ErrorCode is a Graph error code (error.code in Meta's answers and in the
// errors of failed-status webhooks). The names follow Meta's error-code
// table; Pforte answers with the same codes when it refuses a request
// itself, so that client code written for Meta keeps working.
type ErrorCode int

// Graph API codes.
const (
	CodeUnknown             ErrorCode = 1     // API unknown
	CodeServiceDown         ErrorCode = 2     // API service temporarily unavailable
	CodeAppRateLimit        ErrorCode = 4     // app-level API call rate limit
	CodePermissionDenied    ErrorCode = 10    // permission denied or not granted
	CodeInvalidParameter    ErrorCode = 100   // invalid parameter (subcode 33: unsupported object)
	CodeAccessTokenExpired  ErrorCode = 190   // access token expired or invalid
	CodePolicyBlocked       ErrorCode = 368   // temporarily blocked for policy violations
	CodeUnknownPath         ErrorCode = 2500  // unknown path components
	CodeWABARateLimit       ErrorCode = 80007 // WhatsApp Business Account rate limit
	CodeThroughputReached   ErrorCode = 130429
	CodeSomethingWentWrong  ErrorCode = 131000
	CodeServiceUnavailable  ErrorCode = 131016
	CodeUndeliverable       ErrorCode = 131026 // not a WhatsApp user, old client, …
	CodeAccountLocked       ErrorCode = 131031 // account locked (policy, or wrong two-step PIN)
	CodePaymentIssue        ErrorCode = 131042 // business payment issue
	CodeReEngagement        ErrorCode = 131047 // more than 24 hours since the customer last wrote
	CodeEcosystemEngagement ErrorCode = 131049 // held back to keep engagement healthy (marketing cap)
	CodeMarketingOptOut     ErrorCode = 131050 // the customer opted out of marketing messages
	CodeUnsupportedType     ErrorCode = 131051 // message type unknown or not supported
	CodeMediaDownload       ErrorCode = 131052 // media download error (inbound, e.g. over 100 MB)
	CodeMediaUpload         ErrorCode = 131053 // media upload error (size, MIME type)
	CodePairRateLimit       ErrorCode = 131056 // same business to same customer too fast
	CodeMaintenance         ErrorCode = 131057 // number in maintenance (throughput upgrade)
	CodeMessageUnavailable  ErrorCode = 131060 // inbound message unavailable (Coexistence first contact)
	CodeTemplateParamCount  ErrorCode = 132000 // number of template parameters does not match
	CodeTemplateNotFound    ErrorCode = 132001 // template name does not exist in the language
	CodeTemplatePaused      ErrorCode = 132015 // template paused for low quality
	CodeTemplateDisabled    ErrorCode = 132016 // template permanently disabled
	CodeNumberNotRegistered ErrorCode = 133010 // phone number not registered for Cloud API
	CodeMarketingExperiment ErrorCode = 130472 // customer is in Meta's marketing message experiment group
	CodeTemplateParamFormat ErrorCode = 132012 // template parameter format does not match the template
)

// Subcodes (error_subcode) Pforte answers with or looks at.
const (
	SubcodeUnsupportedObject = 33  // with CodeInvalidParameter: object missing or not allowed
	SubcodeSessionExpired    = 463 // with CodeAccessTokenExpired
)
