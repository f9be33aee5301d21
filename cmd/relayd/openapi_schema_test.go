package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// openAPIDoc is docs/openapi.yaml decoded into plain maps and slices.
type openAPIDoc struct {
	root map[string]any
}

// loadOpenAPI reads docs/openapi.yaml of this repository.
func loadOpenAPI(t *testing.T) *openAPIDoc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if v, _ := root["openapi"].(string); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("docs/openapi.yaml: openapi is %q, want 3.1.x", v)
	}
	return &openAPIDoc{root: root}
}

// operation is one path+method of the document and its responses.
type operation struct {
	Method, Path string
	Responses    map[string]any // status → response object
}

// operations lists every path+method of the document, sorted.
func (d *openAPIDoc) operations() []operation {
	var ops []operation
	paths, _ := d.root["paths"].(map[string]any)
	for path, item := range paths {
		item, _ := item.(map[string]any)
		for method, op := range item {
			if !slices.Contains([]string{"get", "post", "put", "patch", "delete", "head", "options"}, method) {
				continue
			}
			op, _ := op.(map[string]any)
			resp, _ := op["responses"].(map[string]any)
			ops = append(ops, operation{Method: strings.ToUpper(method), Path: path, Responses: resp})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Path+ops[i].Method < ops[j].Path+ops[j].Method })
	return ops
}

// resolve follows a local "$ref" ("#/components/...") until it reaches an
// object without one.
func (d *openAPIDoc) resolve(v any) (map[string]any, error) {
	m, _ := v.(map[string]any)
	for range 10 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		var cur any = d.root
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cm, _ := cur.(map[string]any)
			cur = cm[part]
		}
		if cur == nil {
			return nil, fmt.Errorf("unresolved $ref %q", ref)
		}
		m, _ = cur.(map[string]any)
	}
	return nil, fmt.Errorf("$ref chain too long")
}

// jsonSchema returns the application/json schema of a response object,
// nil when the response has no JSON content.
func (d *openAPIDoc) jsonSchema(resp any) (any, error) {
	r, err := d.resolve(resp)
	if err != nil {
		return nil, err
	}
	content, _ := r["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	if media == nil {
		return nil, nil
	}
	return media["schema"], nil
}

// validate checks a decoded JSON value (encoding/json into any) against
// schema. It knows the subset of JSON Schema the document uses: $ref, type
// (a name or a list, "null" included), enum, properties, required,
// additionalProperties: false, items. Other keywords (format, description)
// are annotations and ignored. It returns every mismatch, with its path.
func (d *openAPIDoc) validate(schema, v any, at string) []string {
	s, err := d.resolve(schema)
	if err != nil {
		return []string{at + ": " + err.Error()}
	}
	if s == nil {
		return []string{at + ": no schema"}
	}
	if types := schemaTypes(s["type"]); len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool { return jsonIsType(v, t) }) {
		return []string{fmt.Sprintf("%s: %s is not of type %v", at, jsonKind(v), types)}
	}
	var errs []string
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, k := range req {
			if _, ok := v[fmt.Sprint(k)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required property %q is missing", at, k))
			}
		}
		for k, pv := range v {
			ps, ok := props[k]
			if !ok {
				if ap, isBool := s["additionalProperties"].(bool); isBool && !ap {
					errs = append(errs, fmt.Sprintf("%s: property %q is not in the document", at, k))
				}
				continue
			}
			errs = append(errs, d.validate(ps, pv, at+"."+k)...)
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, e := range v {
				errs = append(errs, d.validate(items, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return errs
}

// schemaTypes is a schema's "type" as a list ("string" or [string, "null"]).
func schemaTypes(t any) []string {
	switch t := t.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, len(t))
		for i, e := range t {
			out[i] = fmt.Sprint(e)
		}
		return out
	}
	return nil
}

// jsonIsType reports whether a value decoded by encoding/json is of the
// JSON Schema type typ.
func jsonIsType(v any, typ string) bool {
	switch typ {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	}
	return false
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T %v", v, v)
}

// TestOpenAPIValidator checks the validator itself on the document's own
// schemas, so a broken validator cannot pass every answer.
func TestOpenAPIValidator(t *testing.T) {
	d := loadOpenAPI(t)
	item := map[string]any{"$ref": "#/components/schemas/QueueItem"}
	good := map[string]any{"id": "X", "state": "held", "created": "2026-01-01T00:00:00Z", "sender": "", "team": "", "from": "", "subject": "",
		"size": 12.0, "recipients": []any{map[string]any{"address": "a@b", "profile": "p", "rule": "system default",
			"state": "held", "attempts": 0.0, "next_attempt": nil, "last_error": ""}}}
	if errs := d.validate(item, good, "item"); len(errs) > 0 {
		t.Fatalf("a valid item fails: %v", errs)
	}
	bad := map[string]any{"id": 1.0, "state": "lost", "created": "x", "sender": "", "team": "", "size": 1.5,
		"extra": true, "recipients": []any{map[string]any{"address": "a@b"}}}
	errs := d.validate(item, bad, "item")
	for _, want := range []string{"item.id: float64 1 is not of type [string]", "item.state: lost is not one of",
		"item.size: float64 1.5 is not of type [integer]", `property "extra" is not in the document`,
		`item.recipients[0]: required property "next_attempt" is missing`} {
		if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, want) }) {
			t.Errorf("invalid item: no error %q in %q", want, errs)
		}
	}
}
