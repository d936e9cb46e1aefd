package store

// AuditAction is the stable machine key of an audit entry ("login.success").
// The store keeps the key, never a sentence: the panel translates it when
// it shows the log (web.AuditActionLabel), so the hash chain and exports
// stay the same whatever language a reader picks.
type AuditAction string

// The audit vocabulary. Every entry written anywhere uses one of these;
// TestAuditActionsAreDeclared fails on a literal that is not listed in
// AuditActions, and the web package's test on one without words.
const (
	AuditAuthzDenied          AuditAction = "authz.denied"
	AuditLoginThrottled       AuditAction = "login.throttled"
	AuditLoginFailed          AuditAction = "login.failed"
	AuditLoginPasswordOK      AuditAction = "login.password_ok"
	AuditLoginSuccess         AuditAction = "login.success"
	AuditLogout               AuditAction = "logout"
	AuditLogoutEverywhere     AuditAction = "logout.everywhere"
	AuditPasswordChange       AuditAction = "password.change"
	AuditPasswordChangeFailed AuditAction = "password.change_failed"
	AuditInviteAccept         AuditAction = "invite.accept"
	AuditUserCreate           AuditAction = "user.create"
	AuditUserInvite           AuditAction = "user.invite"
	AuditUserRole             AuditAction = "user.role"
	AuditUserDisable          AuditAction = "user.disable"
	AuditUserEnable           AuditAction = "user.enable"
	AuditUserLogout           AuditAction = "user.logout"
	AuditUser2FAEnable        AuditAction = "user.2fa_enable"
	AuditUser2FADisable       AuditAction = "user.2fa_disable"
	AuditUser2FAReset         AuditAction = "user.2fa_reset"
	AuditConversationAssign   AuditAction = "conversation.assign"
	AuditMessageRetry         AuditAction = "message.retry"
	AuditTemplateText         AuditAction = "template.text"
	AuditSettingsChange       AuditAction = "settings.change"
	AuditSettingsNumberAdd    AuditAction = "settings.number.add"
	AuditSettingsStopWords    AuditAction = "settings.stop_words"
	AuditSettingsStopReply    AuditAction = "settings.stop_reply"
	AuditAPIKeyCreate         AuditAction = "apikey.create"
	AuditAPIKeyRevoke         AuditAction = "apikey.revoke"
	AuditAPIKeyUse            AuditAction = "apikey.use"
	AuditConsentOptIn         AuditAction = "consent.opt_in"
	AuditConsentOptOut        AuditAction = "consent.opt_out"
	AuditSubscriptionCreate   AuditAction = "subscription.create"
	AuditSubscriptionUpdate   AuditAction = "subscription.update"
	AuditSubscriptionDelete   AuditAction = "subscription.delete"
	AuditSubscriptionReplay   AuditAction = "subscription.replay"
	AuditBackupRestore        AuditAction = "backup.restore"
	AuditRetentionPolicy      AuditAction = "retention.policy"
	AuditRetentionRun         AuditAction = "retention.run"
	AuditSecureLinkCreate     AuditAction = "secure_link.create"
	AuditSecureLinkAnswer     AuditAction = "secure_link.answer"
	AuditLegalHoldSet         AuditAction = "legal_hold.set"
	AuditLegalHoldRelease     AuditAction = "legal_hold.release"
	AuditContactExport        AuditAction = "contact.export"
	AuditContactErase         AuditAction = "contact.erase"
	AuditContactEraseRefused  AuditAction = "contact.erase.restricted"
	AuditRestrictionLift      AuditAction = "contact.restriction.lift"
	AuditDecisionsReplay      AuditAction = "decisions.replay"
	AuditReauthFailed         AuditAction = "reauth.failed"
	AuditReauthThrottled      AuditAction = "reauth.throttled"
	AuditPasswordReset        AuditAction = "user.password_reset"
	AuditEmailChange          AuditAction = "user.email_change"
	AuditTemplateCategory     AuditAction = "template.category"
	AuditCampaignCreate       AuditAction = "campaign.create"
	AuditCampaignStart        AuditAction = "campaign.start"
	AuditCampaignPause        AuditAction = "campaign.pause"
	AuditCampaignAutoPause    AuditAction = "campaign.auto_pause"
	AuditCampaignResume       AuditAction = "campaign.resume"
	AuditCampaignCancel       AuditAction = "campaign.cancel"
	AuditCampaignDone         AuditAction = "campaign.done"
	AuditOptInEntry           AuditAction = "optin.entry"
	AuditCampaignSettings     AuditAction = "campaign.settings"
	AuditSMTPChange           AuditAction = "settings.smtp"
	AuditPricingRates         AuditAction = "settings.pricing_rates"
	// Single sign-on and passkeys (issue 19).
	AuditSSOLogin          AuditAction = "sso.login"
	AuditSSOLink           AuditAction = "sso.link"
	AuditSSOUserCreate     AuditAction = "sso.user_create"
	AuditSSORole           AuditAction = "sso.role"
	AuditSSORefused        AuditAction = "sso.refused"
	AuditSSOSessionEnded   AuditAction = "sso.session_ended"
	AuditSSOSettings       AuditAction = "sso.settings"
	AuditSSOLogout         AuditAction = "sso.logout"
	AuditPasswordLoginOff  AuditAction = "login.password_off"
	AuditPasskeyAdd        AuditAction = "passkey.add"
	AuditPasskeyRemove     AuditAction = "passkey.remove"
	AuditPasskeyClone      AuditAction = "passkey.clone"
	AuditPasskeyFailed     AuditAction = "passkey.failed"
	AuditAutomationChange  AuditAction = "automation.change"
	AuditBotHandover       AuditAction = "conversation.bot"
	AuditTemplateCreate    AuditAction = "template.create"
	AuditTemplateEdit      AuditAction = "template.edit"
	AuditTemplateDelete    AuditAction = "template.delete"
	AuditTemplateSync      AuditAction = "template.sync"
	AuditConversationStart AuditAction = "conversation.start"
	// The address book (contactbook.go, contactimport.go).
	AuditContactCreate      AuditAction = "contact.create"
	AuditContactUpdate      AuditAction = "contact.update"
	AuditContactMerge       AuditAction = "contact.merge"
	AuditContactImport      AuditAction = "contact.import"
	AuditContactFieldCreate AuditAction = "contact_field.create"
	AuditContactFieldUpdate AuditAction = "contact_field.update"
	AuditContactFieldDelete AuditAction = "contact_field.delete"
	AuditContactInfoRequest AuditAction = "contact.request_info"
	AuditContactsExport     AuditAction = "contacts.export"
	// Password login switched off: the password sessions that were open end.
	AuditPasswordSessionsEnded AuditAction = "login.password_sessions_ended"
	AuditTeamCreate            AuditAction = "team.create"
	AuditTeamDelete            AuditAction = "team.delete"
	AuditTeamMembers           AuditAction = "team.members"
	AuditRoutingChange         AuditAction = "routing.change"
	// The off-site replica set on the settings page (replica_settings.go).
	AuditReplicaSettings  AuditAction = "replica.settings"
	AuditReplicaKeyCreate AuditAction = "replica.key_create"
	// A customer known by BSUID shared their number (contactshare.go).
	AuditContactNumberShared AuditAction = "contact.number_shared"
)

// AuditActions lists the vocabulary, for the panel's translation test.
var AuditActions = []AuditAction{
	AuditAuthzDenied, AuditLoginThrottled, AuditLoginFailed, AuditLoginPasswordOK, AuditLoginSuccess,
	AuditLogout, AuditLogoutEverywhere, AuditPasswordChange, AuditPasswordChangeFailed, AuditInviteAccept,
	AuditUserCreate, AuditUserInvite, AuditUserRole, AuditUserDisable, AuditUserEnable, AuditUserLogout,
	AuditUser2FAEnable, AuditUser2FADisable, AuditUser2FAReset, AuditConversationAssign, AuditMessageRetry,
	AuditTemplateText, AuditSettingsChange, AuditSettingsNumberAdd, AuditSettingsStopWords, AuditSettingsStopReply,
	AuditAPIKeyCreate, AuditAPIKeyRevoke, AuditAPIKeyUse, AuditConsentOptIn, AuditConsentOptOut,
	AuditSubscriptionCreate, AuditSubscriptionUpdate, AuditSubscriptionDelete, AuditSubscriptionReplay,
	AuditBackupRestore, AuditRetentionPolicy, AuditRetentionRun, AuditSecureLinkCreate, AuditSecureLinkAnswer,
	AuditLegalHoldSet, AuditLegalHoldRelease, AuditContactExport, AuditContactErase, AuditContactEraseRefused,
	AuditRestrictionLift, AuditDecisionsReplay, AuditReauthFailed, AuditReauthThrottled, AuditPasswordReset, AuditEmailChange, AuditTemplateCategory,
	AuditCampaignCreate, AuditCampaignStart, AuditCampaignPause, AuditCampaignAutoPause, AuditCampaignResume, AuditCampaignCancel,
	AuditCampaignDone, AuditOptInEntry, AuditCampaignSettings,
	AuditSMTPChange, AuditPricingRates,
	AuditSSOLogin, AuditSSOLink, AuditSSOUserCreate, AuditSSORole, AuditSSORefused, AuditSSOSessionEnded, AuditSSOSettings,
	AuditSSOLogout, AuditPasswordLoginOff, AuditPasskeyAdd, AuditPasskeyRemove, AuditPasskeyClone, AuditPasskeyFailed,
	AuditAutomationChange, AuditBotHandover,
	AuditTemplateCreate, AuditTemplateEdit, AuditTemplateDelete, AuditTemplateSync, AuditConversationStart,
	AuditContactCreate, AuditContactUpdate, AuditContactMerge, AuditContactImport, AuditContactFieldCreate, AuditContactFieldUpdate,
	AuditContactFieldDelete, AuditContactInfoRequest, AuditContactsExport,
	AuditPasswordSessionsEnded,
	AuditTeamCreate, AuditTeamDelete, AuditTeamMembers, AuditRoutingChange,
	AuditReplicaSettings, AuditReplicaKeyCreate,
	AuditContactNumberShared,
}

// consentAction is the audit key of a consent record's action.
func consentAction(action ConsentAction) AuditAction {
	if action == OptIn {
		return AuditConsentOptIn
	}
	return AuditConsentOptOut
}
