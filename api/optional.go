package api

import "encoding/json"

// optional is a request field whose absence and null differ: Set says it was in the body (null
// included, which decodes to T's zero value), so that a PATCH can remove a value with null and keep it
// by leaving the field out.
type optional[T any] struct {
	Set   bool
	Value T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	return json.Unmarshal(b, &o.Value)
}
