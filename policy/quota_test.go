package policy

import "testing"

func TestQuotaReply(t *testing.T) {
	extra := []string{"550 5.7.1 Daily message limit", "452 4.2.2"}
	tests := []struct {
		code     int
		enhanced string
		text     string
		extra    []string
		want     bool
	}{
		{550, "5.4.5", "Daily user sending limit exceeded. For more information on Gmail sending limits go to", nil, true},
		{550, "5.4.5", "", nil, true},
		{550, "5.4.50", "something else", nil, false},
		{554, "5.2.0", "STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message", nil, true},
		{554, "5.2.0", "STOREDRV.Deliver.Exception:RecipientRateLimitExceededException; Failed", nil, true},
		{554, "5.2.0", "STOREDRV.Submission.Exception:OutboundSpamException", nil, false},
		{421, "4.7.0", "Try again later, closing connection.", nil, true},
		{451, "4.7.0", "Temporary system problem, throttled", nil, true},
		{451, "4.7.500", "Server busy", nil, false},
		{421, "4.3.2", "Service not available", nil, false},
		{550, "5.1.1", "The email account that you tried to reach does not exist", nil, false},
		{550, "5.1.1", "no such user", extra, false},
		{550, "5.7.1", "daily   MESSAGE limit reached", extra, true},
		{550, "5.7.1", "Relaying denied", extra, false},
		{452, "4.2.2", "mailbox full", extra, true},
		{0, "", "connection refused", []string{""}, false},
		{550, "", "5.4.5 the code in the text, as on the wire", nil, true},
		{550, "5.1.1", "user unknown", []string{"", "  "}, false},
	}
	for _, tt := range tests {
		if got := QuotaReply(tt.code, tt.enhanced, tt.text, tt.extra); got != tt.want {
			t.Errorf("QuotaReply(%d, %q, %q, %q) = %v, want %v", tt.code, tt.enhanced, tt.text, tt.extra, got, tt.want)
		}
	}
}
