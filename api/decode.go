package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// decodeJSON reads the request's body into v strictly: a JSON object of at most maxBytes, no unknown
// fields, nothing after it. It answers a Problem saying exactly what was wrong and where.
func decodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) error {
	body, err := readJSONBody(w, r, maxBytes)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return malformed("the request body is empty; expected a JSON object")
	}
	return unmarshalStrict(body, v)
}

// decodeOptionalJSON is decodeJSON for a body that may be absent: an empty body leaves v as it is.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) error {
	body, err := readJSONBody(w, r, maxBytes)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return err
	}
	return unmarshalStrict(body, v)
}

func readJSONBody(w http.ResponseWriter, r *http.Request, maxBytes int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, &Problem{
				Type: typeUnsupportedMediaType, Status: http.StatusUnsupportedMediaType,
				Detail: fmt.Sprintf("Content-Type %q is not JSON; send application/json", ct),
			}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &Problem{
				Type: typeBodyTooLarge, Status: http.StatusRequestEntityTooLarge,
				Detail: fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit),
			}
		}
		return nil, malformed("read the request body: " + err.Error())
	}
	return body, nil
}

func unmarshalStrict(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if trimmed[0] != '{' {
		return malformed(fmt.Sprintf("the request body is a JSON %s; expected a JSON object", jsonKind(trimmed[0])))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(body, err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		end += int64(len(body[end:]) - len(bytes.TrimLeft(body[end:], " \t\r\n")))
		line, col := position(body, end)
		return malformed(fmt.Sprintf("malformed JSON: data after the JSON object at line %d, column %d", line, col))
	}
	return nil
}

// decodeProblem turns a json decoding error into a 400 problem that says where and what.
func decodeProblem(body []byte, err error) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		line, col := position(body, max(syntax.Offset-1, 0)) // Offset is just past the offending byte
		return malformed(fmt.Sprintf("malformed JSON at line %d, column %d: %s", line, col, syntax.Error()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed("malformed JSON: the body ends before the JSON object does")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "(body)"
		}
		reason := fmt.Sprintf("must be %s, not a JSON %s", typeName(typeErr.Type), typeErr.Value)
		line, col := position(body, typeErr.Offset)
		p := badRequest(field, reason)
		p.Detail = fmt.Sprintf("field %q at line %d, column %d %s", field, line, col, reason)
		return p
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		raw := strings.TrimPrefix(err.Error(), "json: unknown field ")
		name, uerr := strconv.Unquote(raw)
		if uerr != nil {
			name = strings.Trim(raw, `"`)
		}
		field := name
		if field == "" {
			field = `[""]` // the key "" (found by FuzzDecodeComponentBody): a field error always names one
		}
		p := badRequest(field, "unknown field")
		p.Detail = fmt.Sprintf("unknown field %q: the request accepts only the documented fields", name)
		return p
	default:
		return malformed("malformed JSON: " + err.Error())
	}
}

func malformed(detail string) *Problem {
	return &Problem{Type: typeMalformedRequest, Status: http.StatusBadRequest, Detail: detail}
}

// position answers the 1-based line and column of a byte offset.
func position(body []byte, offset int64) (line, col int) {
	if offset > int64(len(body)) {
		offset = int64(len(body))
	}
	before := body[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

func jsonKind(first byte) string {
	switch {
	case first == '[':
		return "array"
	case first == '"':
		return "string"
	case first == 'n':
		return "null"
	case first == 't' || first == 'f':
		return "boolean"
	case first == '-' || (first >= '0' && first <= '9'):
		return "number"
	default:
		return "value that is not valid JSON"
	}
}

// typeName names a Go type the way a JSON client thinks of it.
func typeName(t reflect.Type) string {
	if t == nil {
		return "a value of another type"
	}
	switch t.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return fmt.Sprintf("an integer (%s)", t.Kind())
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return fmt.Sprintf("a non-negative integer (%s)", t.Kind())
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return typeName(t.Elem())
	default:
		return "a " + t.String()
	}
}
