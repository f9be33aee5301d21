package config

import (
	"strconv"
	"strings"
)

// BurntSushi/toml's MetaData keeps no positions an application can read, and
// the ones it keeps internally are per unindexed key (every [[listener]]'s
// "address" shares one entry). indexLines therefore scans the TOML text once
// more and records the line of every key and table under an indexed path:
//
//	[server] hostname        → "server.hostname"
//	second [[listener]]      → "listener[1]"
//	its address              → "listener[1].address"
//	[profile.oauth2] of the third [[profile]] → "profile[2].oauth2"
//	an inline-table element  → "team[0].user[1].username"
//
// It runs only on text the TOML parser accepted, but it never panics or
// loops on any input (it is fuzzed through FuzzLoadConfig).

// indexLines returns indexed key path → 1-based line of its first appearance.
func indexLines(src string) map[string]int {
	s := &lineScanner{src: src, line: 1, out: map[string]int{}, count: map[string]int{}, last: map[string]int{}}
	s.document()
	return s.out
}

type lineScanner struct {
	src   string
	i     int
	line  int
	out   map[string]int
	count map[string]int // indexed array-of-tables path → elements seen
	last  map[string]int // indexed array-of-tables path → index of its current element
}

func (s *lineScanner) eof() bool { return s.i >= len(s.src) }

func (s *lineScanner) peek(n int) byte {
	if s.i+n < len(s.src) {
		return s.src[s.i+n]
	}
	return 0
}

func (s *lineScanner) advance() {
	if s.src[s.i] == '\n' {
		s.line++
	}
	s.i++
}

func (s *lineScanner) record(path string, line int) {
	if _, ok := s.out[path]; !ok {
		s.out[path] = line
	}
}

// skipSpace skips blanks, and with nl also newlines and comments.
func (s *lineScanner) skipSpace(nl bool) {
	for !s.eof() {
		switch c := s.src[s.i]; {
		case c == ' ' || c == '\t' || c == '\r':
			s.advance()
		case nl && c == '\n':
			s.advance()
		case nl && c == '#':
			s.skipLine()
		default:
			return
		}
	}
}

func (s *lineScanner) skipLine() {
	for !s.eof() && s.src[s.i] != '\n' {
		s.advance()
	}
}

func (s *lineScanner) document() {
	table := ""
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		start := s.i
		if s.src[s.i] == '[' {
			table = s.header()
		} else {
			s.keyValue(table)
		}
		s.skipSpace(false)
		if s.i == start { // no progress: junk; drop the line
			s.skipLine()
		}
	}
}

// header reads "[a.b]" or "[[a.b]]" and returns the table's indexed path.
func (s *lineScanner) header() string {
	line := s.line
	array := s.peek(1) == '['
	s.advance()
	if array {
		s.advance()
	}
	parts := s.key()
	for !s.eof() && s.src[s.i] != '\n' && s.src[s.i] != '#' {
		s.advance()
	}
	path := ""
	for j, p := range parts {
		path = join(path, p)
		if array && j == len(parts)-1 {
			n := s.count[path]
			s.count[path] = n + 1
			s.last[path] = n
			path += "[" + strconv.Itoa(n) + "]"
		} else if n, ok := s.last[path]; ok {
			path += "[" + strconv.Itoa(n) + "]"
		}
	}
	s.record(path, line)
	return path
}

// key reads a dotted key: bare, "basic" or 'literal' parts.
func (s *lineScanner) key() []string {
	var parts []string
	for {
		s.skipSpace(false)
		if s.eof() {
			return parts
		}
		switch c := s.src[s.i]; {
		case c == '"' || c == '\'':
			parts = append(parts, s.quotedKey(c))
		case isBareKeyChar(c):
			j := s.i
			for s.i < len(s.src) && isBareKeyChar(s.src[s.i]) {
				s.i++
			}
			parts = append(parts, s.src[j:s.i])
		default:
			return parts
		}
		s.skipSpace(false)
		if s.eof() || s.src[s.i] != '.' {
			return parts
		}
		s.advance()
	}
}

func (s *lineScanner) quotedKey(q byte) string {
	s.advance()
	var b strings.Builder
	for !s.eof() && s.src[s.i] != q && s.src[s.i] != '\n' {
		if q == '"' && s.src[s.i] == '\\' && s.i+1 < len(s.src) {
			s.advance()
		}
		b.WriteByte(s.src[s.i])
		s.advance()
	}
	if !s.eof() && s.src[s.i] == q {
		s.advance()
	}
	return b.String()
}

func isBareKeyChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + "." + b
}

// keyValue reads "key = value" and records the key (and the keys of any
// inline tables in the value).
func (s *lineScanner) keyValue(table string) {
	line := s.line
	parts := s.key()
	if len(parts) == 0 {
		return
	}
	path := table
	for _, p := range parts {
		path = join(path, p)
	}
	s.record(path, line)
	s.skipSpace(false)
	if s.eof() || s.src[s.i] != '=' {
		return
	}
	s.advance()
	s.skipSpace(false)
	s.value(path)
}

// value skips one value; inline tables and arrays of them record their keys
// under path.
func (s *lineScanner) value(path string) {
	if s.eof() {
		return
	}
	switch c := s.src[s.i]; c {
	case '"', '\'':
		s.str(c)
	case '[':
		s.advance()
		for n := 0; ; n++ {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == ']' {
				s.advance()
				return
			}
			start := s.i
			if s.src[s.i] == '{' {
				s.record(path+"["+strconv.Itoa(n)+"]", s.line)
			}
			s.value(path + "[" + strconv.Itoa(n) + "]")
			s.skipSpace(true)
			if !s.eof() && s.src[s.i] == ',' {
				s.advance()
			} else if s.i == start {
				s.advance() // junk: make progress
			}
		}
	case '{':
		s.advance()
		for {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == '}' {
				s.advance()
				return
			}
			start := s.i
			s.keyValue(path)
			s.skipSpace(true)
			if !s.eof() && s.src[s.i] == ',' {
				s.advance()
			} else if s.i == start {
				s.advance()
			}
		}
	default: // number, bool, date: up to a delimiter
		for !s.eof() && !strings.ContainsRune(",]}\n#", rune(s.src[s.i])) {
			s.advance()
		}
	}
}

// str skips a basic, literal or multi-line string.
func (s *lineScanner) str(q byte) {
	if s.peek(1) == q && s.peek(2) == q {
		s.i += 3
		for !s.eof() {
			if q == '"' && s.src[s.i] == '\\' && s.i+1 < len(s.src) {
				s.advance()
				s.advance()
				continue
			}
			if s.src[s.i] == q && s.peek(1) == q && s.peek(2) == q {
				s.i += 3
				for k := 0; k < 2 && !s.eof() && s.src[s.i] == q; k++ { // """" ends with a quote
					s.i++
				}
				return
			}
			s.advance()
		}
		return
	}
	s.advance()
	for !s.eof() && s.src[s.i] != '\n' {
		c := s.src[s.i]
		if q == '"' && c == '\\' && s.i+1 < len(s.src) && s.src[s.i+1] != '\n' {
			s.i += 2
			continue
		}
		s.advance()
		if c == q {
			return
		}
	}
}
