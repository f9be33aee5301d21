package config

import (
	"errors"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// decode parses data and decodes it into a File key by key.
//
// Why not one toml.Decode into File: it stops at the first bad value, matches
// keys case-insensitively ("Address" would pass), and its MetaData cannot say
// which element of an array of tables a key belongs to, nor whether a key of
// one [[profile]] was set (IsDefined sees arrays of tables as absent). So the
// document is decoded into toml.Primitive values, each table into
// map[string]toml.Primitive, and each leaf into its field with
// MetaData.PrimitiveDecode: every bad value and unknown key is reported, with
// its indexed path and therefore its line, and every table records which keys
// the file set. md.Undecoded() is still checked, as a safety net.
//
// A syntax error stops decoding: the returned File is nil.
func decode(p *problems, data string) *File {
	var top map[string]toml.Primitive
	md, err := toml.Decode(data, &top)
	if err != nil {
		p.errs = append(p.errs, syntaxError(p.file, err))
		return nil
	}
	p.lines = indexLines(data)
	f := &File{lines: p.lines}
	dec := &decoder{md: &md, p: p}
	dec.table(top, reflect.ValueOf(f).Elem(), "")
	if len(p.errs) == 0 {
		for _, k := range md.Undecoded() {
			p.errAt("", k.String(), "unknown key")
		}
	}
	return f
}

// secretKeys are keys whose values must never appear in a message.
var secretKeys = map[string]bool{"password": true, "client_secret": true}

// syntaxError converts a toml parse error. When it happened in the value of
// a secret key, the parser's message (which may quote the value) is replaced.
func syntaxError(file string, err error) *Error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Error{File: file, Msg: "syntax error"}
	}
	msg := pe.Message
	last := pe.LastKey
	if i := strings.LastIndexByte(last, '.'); i >= 0 {
		last = last[i+1:]
	}
	if secretKeys[last] {
		msg = "bad value (not shown: it is a secret); quote it like \"...\""
	}
	return &Error{File: file, Line: pe.Position.Line, Msg: "syntax error: " + msg}
}

type decoder struct {
	md *toml.MetaData
	p  *problems
}

var metaHolderType = reflect.TypeFor[metaHolder]()

// isTable reports whether t is a schema table struct (it embeds tableMeta).
func isTable(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && reflect.PointerTo(t).Implements(metaHolderType)
}

// tomlFields maps each toml key of struct type t to its field index.
func tomlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		out[tag] = i
	}
	return out
}

// table decodes the keys of m into the struct dst, the table at path.
func (d *decoder) table(m map[string]toml.Primitive, dst reflect.Value, path string) {
	fields := tomlFields(dst.Type())
	meta := dst.Addr().Interface().(metaHolder).meta()
	meta.path = path
	if meta.set == nil {
		meta.set = map[string]bool{}
	}
	// Tables the file does not have still get their path, for messages.
	for tag, i := range fields {
		if fv := dst.Field(i); isTable(fv.Type()) {
			fv.Addr().Interface().(metaHolder).meta().path = join(path, tag)
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		i, ok := fields[key]
		if !ok {
			d.p.errAt(path, key, "unknown key%s", suggest(key, fields))
			continue
		}
		meta.set[key] = true
		d.value(m[key], dst.Field(i), join(path, key))
	}
}

// value decodes one key's value into fv.
func (d *decoder) value(prim toml.Primitive, fv reflect.Value, path string) {
	t := fv.Type()
	// toml's map decoding silently yields an empty map for a non-table
	// value, so the shape is checked on the raw value first.
	var raw any
	if isTable(t) || (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice) && isTable(t.Elem()) {
		_ = d.md.PrimitiveDecode(prim, &raw)
	}
	switch {
	case isTable(t) || t.Kind() == reflect.Pointer && isTable(t.Elem()):
		var sub map[string]toml.Primitive
		if _, ok := raw.(map[string]any); !ok || d.md.PrimitiveDecode(prim, &sub) != nil {
			d.p.errAt(path, "", "must be a table, written [%s]", displayKey(path))
			return
		}
		if t.Kind() == reflect.Pointer {
			fv.Set(reflect.New(t.Elem()))
			fv = fv.Elem()
		}
		d.table(sub, fv, path)
	case t.Kind() == reflect.Slice && isTable(t.Elem()):
		var subs []map[string]toml.Primitive
		if _, ok := raw.([]map[string]any); !ok || d.md.PrimitiveDecode(prim, &subs) != nil {
			d.p.errAt(path, "", "must be an array of tables, written [[%s]]", displayKey(path))
			return
		}
		fv.Set(reflect.MakeSlice(t, len(subs), len(subs)))
		for i, sub := range subs {
			d.table(sub, fv.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
	default:
		if err := d.md.PrimitiveDecode(prim, fv.Addr().Interface()); err != nil {
			var pe toml.ParseError
			if errors.As(err, &pe) {
				d.p.errAt(path, "", "%s", pe.Message)
			} else {
				d.p.errAt(path, "", "%s", describe(t))
			}
			fv.SetZero()
		}
	}
}

// describe says what a value of type t must look like.
func describe(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[ProfileTLS]():
		return `must be one of "none", "starttls", "starttls-required", "implicit"`
	case reflect.TypeFor[ListenerTLS]():
		return `must be one of "none", "starttls", "implicit"`
	case reflect.TypeFor[Duration]():
		return `must be a duration string like "90s", "15m" or "5d"`
	case reflect.TypeFor[Size]():
		return `must be a size: an integer (bytes) or a string like "25MB"`
	}
	switch t.Kind() {
	case reflect.Bool:
		return "must be true or false"
	case reflect.Int, reflect.Int64:
		return "must be an integer"
	case reflect.Slice:
		return "must be an array of " + strings.TrimPrefix(describe(t.Elem()), "must be ")
	}
	return "must be a string"
}

// suggest returns ` (did you mean "x"?)` for the known key closest to key.
func suggest(key string, fields map[string]int) string {
	best, bestD := "", 3
	for k := range fields {
		if d := editDistance(strings.ToLower(key), k); d < bestD || (d == bestD && best != "" && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return ` (did you mean "` + best + `"?)`
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
