package config

import (
	"errors"
	"os"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

func TestIndexLines(t *testing.T) {
	text := `# comment [not] = "a header"
title = "x" # trailing
[server]
hostname = "h"
"quoted key" = 1
multi = """
fake = 1
[fake]
"""
lit = '''
[[fake2]]
'''
arr = [
  "a", # comment
  [1, 2],
]
[[listener]]
name = "a"
[[listener]]
name = "b"
opts = { x = 1, y = { z = 2 } }
[[team]]
name = "t"
  [[team.user]]
  username = "u1"
  [[team.user]]
  username = "u2"
[[team]]
  [[team.user]]
  username = "u3"
[[profile]]
[[profile]]
oauth2.client_id = "dotted"
  [profile.oauth2]
  token_url = "x"
users = [{ username = "i1" }, { username = "i2" }]
`
	got := indexLines(text)
	for path, line := range map[string]int{
		"title": 2, "server": 3, "server.hostname": 4, "server.quoted key": 5, "server.multi": 6, "server.lit": 10,
		"server.arr": 13, "listener[0]": 17, "listener[0].name": 18, "listener[1]": 19, "listener[1].name": 20,
		"listener[1].opts": 21, "listener[1].opts.x": 21, "listener[1].opts.y.z": 21,
		"team[0].user[0].username": 25, "team[0].user[1]": 26, "team[0].user[1].username": 27,
		"team[1].user[0].username": 30, "profile[1].oauth2.client_id": 33, "profile[1].oauth2": 34,
		"profile[1].oauth2.token_url": 35, "profile[1].oauth2.users[1].username": 36,
	} {
		if got[path] != line {
			t.Errorf("%s: line %d, want %d", path, got[path], line)
		}
	}
	for _, bogus := range []string{"fake", "server.fake", "fake2", "server.fake2", "not"} {
		if _, ok := got[bogus]; ok {
			t.Errorf("%s indexed from inside a string or comment", bogus)
		}
	}
}

func FuzzLoadConfig(f *testing.F) {
	example, err := os.ReadFile(examplePath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(defaultTOML))
	f.Add([]byte(configtest.Minimal))
	f.Fuzz(func(t *testing.T, data []byte) {
		indexLines(string(data))
		file, _, err := load("fuzz.toml", "fuzz.toml", data, 0o644, LoadMode{Full: true})
		if err != nil {
			var list Errors
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty Errors", err, err)
			}
			return
		}
		if _, err := file.Relay(); err != nil {
			t.Fatalf("Relay after a successful load: %v", err)
		}
	})
}
