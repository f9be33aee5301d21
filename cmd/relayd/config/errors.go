package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Error is one problem in a configuration file: where it is and what is
// wrong. Its text never contains a secret value.
type Error struct {
	File string // config path, or "embedded default"
	Line int    // 1-based; 0 when unknown
	Key  string // dotted TOML key without array indices ("listener.address"); "" for syntax errors
	Msg  string
	// Profile is the name of the [[profile]] the key belongs to, "" for
	// keys of other tables (and for a profile without a name).
	Profile string

	path string // indexed key path ("profile[2].tls"), to find Profile
}

// Error formats e as "FILE:LINE: KEY: MSG", or for a key of a named
// profile "FILE:LINE: profile "NAME": KEY: MSG" with KEY relative to the
// profile, so the admin sees which of several [[profile]] tables is meant.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	key := e.Key
	if rest, ok := strings.CutPrefix(key, "profile."); ok && e.Profile != "" {
		fmt.Fprintf(&b, "profile %q: ", e.Profile)
		key = rest
	}
	if key != "" {
		b.WriteString(key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem Load found, in line order. Load returns it
// as its error; use errors.As to list them.
type Errors []*Error

// Error implements error: one problem per line.
func (l Errors) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// problems collects errors and warnings while a file is loaded.
type problems struct {
	file     string
	lines    map[string]int
	errs     Errors
	seen     map[string]bool // indexed key path → an error was reported
	warnings Errors
	profiles map[string]string // indexed profile path ("profile[2]") → its name
}

func newProblems(file string) *problems {
	return &problems{file: file, lines: map[string]int{}, seen: map[string]bool{}}
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// displayKey drops array indices: "listener[1].address" → "listener.address".
func displayKey(path string) string { return indexRE.ReplaceAllString(path, "") }

// line finds the line of path, else of its nearest enclosing table.
func (p *problems) line(path string) int {
	for path != "" {
		if n, ok := p.lines[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

// errAt reports a problem with key of the table at path (indexed). Only the
// first problem of a key is kept: a value that failed to decode is not also
// reported by validation.
func (p *problems) errAt(path, key, format string, args ...any) {
	full := join(path, key)
	if p.seen[full] {
		return
	}
	p.seen[full] = true
	p.errs = append(p.errs, &Error{File: p.file, Line: p.line(full), Key: displayKey(full), Msg: fmt.Sprintf(format, args...), path: full})
}

// err reports a problem with key of table m, at the line where m's value of
// key was set (the parent's line when it is inherited through extends).
func (p *problems) err(m *tableMeta, key, format string, args ...any) {
	path := m.path
	if origin, ok := m.inherited[key]; ok {
		path = origin
	}
	p.errAt(path, key, format, args...)
}

// has reports whether an error was reported on key of table m.
func (p *problems) has(m *tableMeta, key string) bool { return p.seen[join(m.path, key)] }

// warn records a warning for key of table m ("" key: the table).
func (p *problems) warn(m *tableMeta, key, format string, args ...any) {
	full := join(m.path, key)
	p.warnings = append(p.warnings, &Error{File: p.file, Line: p.line(full), Key: displayKey(full), Msg: fmt.Sprintf(format, args...), path: full})
}

// nameProfiles records the profiles' names, for messages about their keys.
func (p *problems) nameProfiles(f *File) {
	p.profiles = map[string]string{}
	for i := range f.Profiles {
		p.profiles[f.Profiles[i].path] = f.Profiles[i].Name
	}
}

// profileOf returns the name of the profile an indexed key path is in.
func (p *problems) profileOf(path string) string {
	if !strings.HasPrefix(path, "profile[") {
		return ""
	}
	end := strings.IndexByte(path, ']')
	return p.profiles[path[:end+1]]
}

// warningTexts returns the warnings in line order, one text each.
func (p *problems) warningTexts() []string {
	if len(p.warnings) == 0 {
		return nil
	}
	sort.SliceStable(p.warnings, func(i, j int) bool { return p.warnings[i].Line < p.warnings[j].Line })
	out := make([]string, len(p.warnings))
	for i, w := range p.warnings {
		w.Profile = p.profileOf(w.path)
		out[i] = w.Error()
	}
	return out
}

// result returns the errors sorted by line, or nil.
func (p *problems) result() error {
	if len(p.errs) == 0 {
		return nil
	}
	for _, e := range p.errs {
		e.Profile = p.profileOf(e.path)
	}
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	return p.errs
}
