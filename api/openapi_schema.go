package api

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
)

// JSON Schemas for the OpenAPI document, made by reflection from the Go types the handlers decode and
// encode, following encoding/json's rules (json tags, omitempty, omitzero, embedded structs), so that
// the document says what the API really reads and writes:
//
//   - An answer's schema (output) requires every field the encoder always writes: the fields without
//     omitempty or omitzero (a struct is written even with omitempty). A pointer the encoder may write
//     as null is nullable.
//   - A request body's schema (input) takes no field the decoder does not know
//     (additionalProperties: false, as decodeJSON refuses unknown fields) and requires only the fields
//     listed in requiredInput: every other field may be left out and reads as its zero value.
//
// Each named struct type is one schema in components/schemas, named after the Go type with its first
// letter upper-cased, and "Input" appended for the input form of a type that is not a request type
// already (its name ending in "Request"); a generic list[T] is "<T>List".

// direction says whether a schema describes what the API reads (input) or writes (output).
type direction int

const (
	output direction = iota
	input
)

// requiredInput names the request body fields that a request must carry, as "GoType.jsonName": without
// them the validators answer 422 "is required" (or "must be between 1 and ..."). A field not listed
// may be left out. A new request type lists its required fields here; TestOpenAPIRequiredInput checks
// that every entry names a field of a request body.
func requiredInput() []string {
	return []string{
		"createTenantRequest.name",
		"createAppRequest.name",
		"createComponentRequest.name",
		"createComponentRequest.spec",
		"putComponentRequest.spec",
		"rollbackRequest.releaseId",
		"scaleRequest.replicas",
		"ComponentSpec.image",
		"Port.port",
		"EnvVar.name",
		"ConfigFile.path",
		"Volume.name",
		"Volume.path",
		"Volume.size",
		"Probe.port",
		"Autoscaling.minReplicas",
		"Autoscaling.maxReplicas",
		"createUserRequest.name",
		"createTokenRequest.name",
		"putMemberRequest.role",
		"routeRequest.name",
		"certificateRequest.name",
		"certificateRequest.certPEM",
		"certificateRequest.keyPEM",
		"putCertificateRequest.certPEM",
		"putCertificateRequest.keyPEM",
	}
}

// schemaGenerator collects the named schemas the document's operations refer to.
type schemaGenerator struct {
	schemas  map[string]any            // components/schemas
	named    map[schemaKey]string      // a type's schema name, per direction
	owners   map[string]schemaKey      // which type a schema name belongs to
	required map[string]bool           // requiredInput
	used     map[string]bool           // the entries of requiredInput met in an input schema
	errs     []error                   // what could not be described
	inputs   map[reflect.Type][]string // json names of every input struct's fields, for the tests
}

type schemaKey struct {
	t   reflect.Type
	dir direction
}

func newSchemaGenerator() *schemaGenerator {
	g := &schemaGenerator{
		schemas: map[string]any{}, named: map[schemaKey]string{}, owners: map[string]schemaKey{},
		required: map[string]bool{}, used: map[string]bool{},
		inputs: map[reflect.Type][]string{},
	}
	for _, f := range requiredInput() {
		g.required[f] = true
	}
	return g
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	marshalerType   = reflect.TypeFor[json.Marshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// schema answers the schema of a value of type t: inline for scalars, slices and maps, a $ref to
// components/schemas for a named struct.
func (g *schemaGenerator) schema(t reflect.Type, dir direction) map[string]any {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawMessageType:
		return map[string]any{"description": "any JSON value"}
	}
	if strings.HasPrefix(t.Name(), "optional[") && t.Kind() == reflect.Struct {
		// optional[T] (optional.go) reads a T, or null, and remembers that it was there
		if f, ok := t.FieldByName("Value"); ok {
			return nullable(g.schema(f.Type, dir))
		}
	}
	if t.Kind() != reflect.Pointer && (t.Implements(marshalerType) || t.Implements(textMarshaler) ||
		reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshaler)) {
		g.errs = append(g.errs, fmt.Errorf("type %s reads or writes its own JSON: describe it in schema (openapi_schema.go)", t))
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem(), dir)}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			g.errs = append(g.errs, fmt.Errorf("map %s: only string keys have a JSON form here", t))
		}
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem(), dir)}
	case reflect.Pointer:
		return g.schema(t.Elem(), dir)
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		return map[string]any{"$ref": "#/components/schemas/" + g.define(t, dir)}
	default:
		g.errs = append(g.errs, fmt.Errorf("type %s has no JSON form", t))
		return map[string]any{}
	}
}

// define answers the name of the struct's schema in components/schemas, making the schema first.
func (g *schemaGenerator) define(t reflect.Type, dir direction) string {
	key := schemaKey{t, dir}
	if name, ok := g.named[key]; ok {
		return name
	}
	name := schemaName(t, dir)
	if owner, taken := g.owners[name]; taken && owner != key {
		g.errs = append(g.errs, fmt.Errorf("schema name %s is both %s and %s: rename one type", name, owner.t, t))
	}
	g.owners[name] = key
	g.named[key] = name
	g.schemas[name] = g.object(t, dir) // named first: a type that holds itself refers to its name
	return name
}

// object answers a struct's schema.
func (g *schemaGenerator) object(t reflect.Type, dir direction) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range jsonFields(t) {
		s := g.schema(f.typ, dir)
		if dir == output && f.typ.Kind() == reflect.Pointer && !f.omitEmpty && !f.omitZero {
			s = nullable(s)
		}
		if f.asString {
			s = map[string]any{"type": "string", "description": "a JSON string holding the value"}
		}
		props[f.name] = s
		switch dir {
		case output:
			if !f.omitted() {
				required = append(required, f.name)
			}
		case input:
			g.inputs[t] = append(g.inputs[t], f.name)
			if key := t.Name() + "." + f.name; g.required[key] {
				required = append(required, f.name)
				g.used[key] = true
			}
		}
	}
	s := map[string]any{"type": "object", "properties": props, "x-go-type": t.String()}
	if len(required) > 0 {
		slices.Sort(required)
		s["required"] = required
	}
	if dir == input {
		s["additionalProperties"] = false
	}
	return s
}

// nullable answers s allowing null as well.
func nullable(s map[string]any) map[string]any {
	if typ, ok := s["type"].(string); ok && len(s) <= 2 {
		out := map[string]any{"type": []string{typ, "null"}}
		if f, ok := s["format"]; ok {
			out["format"] = f
		}
		return out
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

// schemaName names the struct's schema: its Go name, exported; list[T] is "<T>List"; the input form
// of a type that is not a request type has "Input" appended.
func schemaName(t reflect.Type, dir direction) string {
	name := t.Name()
	if base, args, generic := strings.Cut(name, "["); generic {
		args = strings.TrimSuffix(args, "]")
		var parts []string
		for arg := range strings.SplitSeq(args, ",") {
			parts = append(parts, exported(arg[strings.LastIndexByte(arg, '.')+1:]))
		}
		if base == "list" {
			name = strings.Join(parts, "") + "List"
		} else {
			name = base + "Of" + strings.Join(parts, "")
		}
	}
	if name == "" {
		name = "Anonymous"
	}
	name = exported(name)
	if dir == input && !strings.HasSuffix(name, "Request") {
		name += "Input"
	}
	return name
}

func exported(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// jsonField is one field of a struct as encoding/json sees it.
type jsonField struct {
	name      string
	typ       reflect.Type
	omitEmpty bool
	omitZero  bool
	asString  bool
}

// omitted says whether the encoder may leave the field out of an object.
func (f jsonField) omitted() bool {
	if f.omitZero {
		return true
	}
	if !f.omitEmpty {
		return false
	}
	switch f.typ.Kind() {
	case reflect.Struct:
		return false // omitempty never omits a struct
	default:
		return true
	}
}

// jsonFields answers the struct's fields as encoding/json encodes them: exported ones, under their
// json tag's name, the fields of embedded structs without a tag promoted (a shallower field wins).
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	seen := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		var embedded []reflect.Type
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					embedded = append(embedded, et)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if seen[name] {
				continue
			}
			seen[name] = true
			jf := jsonField{name: name, typ: ft}
			for o := range strings.SplitSeq(opts, ",") {
				switch o {
				case "omitempty":
					jf.omitEmpty = true
				case "omitzero":
					jf.omitZero = true
				case "string":
					switch ft.Kind() {
					case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
						reflect.Float32, reflect.Float64, reflect.String:
						jf.asString = true
					}
				}
			}
			out = append(out, jf)
		}
		for _, et := range embedded {
			walk(et)
		}
	}
	walk(t)
	return out
}
