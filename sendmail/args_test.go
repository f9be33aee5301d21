package sendmail

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want Options
	}{
		{"recipients", []string{"a@x", "b@y, Carol <c@z>"}, Options{Recipients: []string{"a@x", "b@y", "c@z"}}},
		{"php -t -i", []string{"-t", "-i"}, Options{Extract: true, IgnoreDots: true}},
		{"grouped", []string{"-ti", "a@x"}, Options{Extract: true, IgnoreDots: true, Recipients: []string{"a@x"}}},
		{"cronie", []string{"-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"},
			Options{FullName: "CronDaemon", IgnoreDots: true, Extract: true, Sender: "root", SenderSet: true}},
		{"separate -F", []string{"-F", "Billing App", "-r", "<app@x>", "a@x"},
			Options{FullName: "Billing App", Sender: "app@x", SenderSet: true, Recipients: []string{"a@x"}}},
		{"attached -f", []string{"-fapp@x", "a@x"}, Options{Sender: "app@x", SenderSet: true, Recipients: []string{"a@x"}}},
		{"null sender", []string{"-f", "<>", "a@x"}, Options{Sender: "", SenderSet: true, Recipients: []string{"a@x"}}},
		{"named sender", []string{"-f", "App <app@x>", "a@x"}, Options{Sender: "app@x", SenderSet: true, Recipients: []string{"a@x"}}},
		{"-oi", []string{"-oi", "a@x"}, Options{IgnoreDots: true, Recipients: []string{"a@x"}}},
		{"-o separate", []string{"-o", "i", "a@x"}, Options{IgnoreDots: true, Recipients: []string{"a@x"}}},
		{"no-effect flags", []string{"-bm", "-odb", "-odq", "-oep", "-B8BITMIME", "-BMIME", "-v", "-L", "tag", "-LTAG", "-oXunknown", "a@x"},
			Options{Recipients: []string{"a@x"}}},
		{"-bs", []string{"-bs"}, Options{Mode: ModeSMTP}},
		{"help", []string{"-h"}, Options{Help: true}},
		{"-bp", []string{"-bp"}, Options{Mode: ModeQueue}},
		{"flags after recipients", []string{"a@x", "-f", "s@x"}, Options{Sender: "s@x", SenderSet: true, Recipients: []string{"a@x"}}},
		{"double dash", []string{"-i", "--", "-notaflag@x"}, Options{IgnoreDots: true, Recipients: []string{"-notaflag@x"}}},
		{"-config", []string{"-config", "/etc/r.toml", "--config=/x.toml", "a@x"}, Options{Config: "/x.toml", Recipients: []string{"a@x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseArgs(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("ParseArgs(%q)\n got %+v\nwant %+v", tc.args, *got, tc.want)
			}
		})
	}
}

func TestParseArgsUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the flag named in the message
	}{
		{[]string{"-X", "a@x"}, "-X"},
		{[]string{"-tq"}, "-q"},
		{[]string{"-bz"}, "-bz"},
		{[]string{"-bi"}, "-bi"}, // newaliases
		{[]string{"-BBINARYMIME"}, "-BBINARYMIME"},
		{[]string{"-f"}, "-f"},
		{[]string{"-config"}, "-config"},
		{[]string{"-\x01"}, `"-\x01"`},
	} {
		_, err := ParseArgs(tc.args)
		var se *Error
		if !errors.As(err, &se) || se.Code != ExitUsage || !strings.Contains(se.Msg, tc.want) || strings.Contains(se.Msg, "\n") {
			t.Errorf("ParseArgs(%q) = %v; want exit 64 naming %s", tc.args, err, tc.want)
		}
	}
}

func TestSplitRecipients(t *testing.T) {
	for in, want := range map[string][]string{
		"":                               nil,
		"a@x":                            {"a@x"},
		"root":                           {"root"},
		"a@x, b@y":                       {"a@x", "b@y"},
		`"Doe, John" <j@x>, k@y`:         {"j@x", "k@y"},
		"=?utf-8?q?J=C3=B6rg?= <jo@x>":   {"jo@x"},
		"undisclosed-recipients:;":       {},
		"a@x b@y":                        {"a@x", "b@y"},
		"broken <a@x, <b@y>":             {"a@x", "b@y"},
		"Team: a@x, b@y;":                {"a@x", "b@y"},
		`"quoted, local"@x`:              {`"quoted, local"@x`},
		"=?unknown?q?x?= <u@x>, v@y":     {"u@x", "v@y"},
		"(comment) a@x (another), b@y  ": {"a@x", "b@y"},
	} {
		got := SplitRecipients(in)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("SplitRecipients(%q) = %q, want %q", in, got, want)
		}
	}
}
