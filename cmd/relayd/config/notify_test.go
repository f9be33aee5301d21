package config

import (
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// TestNotifyProfile: [notify] profile reaches relay.Config; a missing or
// disabled one is a warning naming the key, never a refusal.
func TestNotifyProfile(t *testing.T) {
	f, w := mustLoad(t, configtest.Minimal+"\n[notify]\nadmin = \"it@example.com\"\nprofile = \"p\"\n")
	rc, err := f.Relay()
	if err != nil || rc.Notify.Profile != "p" || len(w) != 0 {
		t.Fatalf("notify %+v, err %v, warnings %q", rc.Notify, err, w)
	}
	for profile, want := range map[string]string{
		"nope": `notify.profile: no profile is named "nope": alerts go through another enabled profile`,
		"off":  `notify.profile: profile "off" is disabled: alerts go through another enabled profile`,
	} {
		_, w := mustLoad(t, configtest.Minimal+"\n[[profile]]\nname = \"off\"\ntype = \"direct\"\nenabled = false\n"+
			"\n[notify]\nprofile = \""+profile+"\"\n")
		if !strings.Contains(strings.Join(w, "\n"), want) {
			t.Errorf("warnings %q, want %q", w, want)
		}
	}
}
