package config

import (
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// TestQuotaKeys: quota_replies and quota_pause reach the relay profile;
// quota_pause defaults to one hour and is inherited through extends.
func TestQuotaKeys(t *testing.T) {
	f, _ := mustLoad(t, configtest.Minimal+`quota_replies = ["550 5.7.1 Daily message limit"]
quota_pause = "30m"
[[profile]]
name = "child"
extends = "p"
[[profile]]
name = "plain"
type = "direct"
`)
	rc, err := f.Relay()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]time.Duration{"p": 30 * time.Minute, "child": 30 * time.Minute, "plain": time.Hour} {
		if got := rc.Profiles[name].QuotaPause; got != want {
			t.Errorf("profile %s: quota_pause %v, want %v", name, got, want)
		}
	}
	if got := rc.Profiles["child"].QuotaReplies; len(got) != 1 || got[0] != "550 5.7.1 Daily message limit" {
		t.Errorf("inherited quota_replies %q", got)
	}
}

// TestClusterKeys: [cluster] redis must be a Redis URL, and no error
// quotes it (it may hold a password); redis_password_file is read and
// needs redis.
func TestClusterKeys(t *testing.T) {
	const secret = "pw-Never-Shown"
	_, _, err := loadText(t, configtest.Minimal+"[cluster]\nredis = \"http://u:"+secret+"@10.0.0.5:6379/0\"\n")
	list := configErrors(t, err)
	if findError(list, "cluster.redis", "not a Redis URL") == nil {
		t.Errorf("errors %v: want one on redis", list)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error quotes the password: %v", err)
	}
	_, _, err = loadText(t, configtest.Minimal+"[cluster]\nredis = \"redis://:"+secret+"@10.0.0.5:notaport/0\"\n")
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("bad port: error %v, want one without the password", err)
	}
	_, _, err = loadText(t, configtest.Minimal+"[cluster]\nredis_password_file = \"/nonexistent\"\n")
	if findError(configErrors(t, err), "cluster.redis_password_file", "redis is not") == nil {
		t.Errorf("redis_password_file without redis: %v", err)
	}
	dir := t.TempDir()
	pw := configtest.WriteFile(t, dir, "redis.pw", secret+"\n", 0o600)
	f, _ := mustLoad(t, configtest.Minimal+"[cluster]\nredis = \"redis://10.0.0.5:6379/2\"\nredis_password_file = "+configtest.TOMLPath(pw)+"\n")
	if f.Cluster.password != secret {
		t.Errorf("password from the file: %q", f.Cluster.password)
	}
}
