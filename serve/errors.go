package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// apiError is an error in OpenAI's envelope: {"error": {"message", "type", "param", "code"}}.
type apiError struct {
	Status     int     `json:"-"`
	Message    string  `json:"message"`
	Type       string  `json:"type"`
	Param      *string `json:"param"`
	Code       *string `json:"code"`
	RetryAfter int     `json:"-"` // seconds, for 503
}

func (e *apiError) Error() string { return e.Message }

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// invalid is a 400 invalid_request_error about param.
func invalid(param, format string, a ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, a...), Type: "invalid_request_error", Param: strp(param)}
}

func notFound(param, code, format string, a ...any) *apiError {
	return &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf(format, a...), Type: "invalid_request_error", Param: strp(param), Code: strp(code)}
}

func overloaded(retry int, format string, a ...any) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Message: fmt.Sprintf(format, a...), Type: "server_error", Code: strp("overloaded"), RetryAfter: retry}
}

// writeError sends err as OpenAI's error envelope. Errors that are not *apiError are the
// server's own failures (500), which the handlers avoid by checking input first.
func writeError(w http.ResponseWriter, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{Status: http.StatusInternalServerError, Message: err.Error(), Type: "server_error"}
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

// decodeError turns a JSON decoding error into a 400 that names the field and what was wrong.
func decodeError(err error) *apiError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("the request body is larger than the %d bytes accepted", mb.Limit), Type: "invalid_request_error", Code: strp("request_too_large")}
	case errors.As(err, &te):
		field := strings.TrimPrefix(te.Field, "samplingParams.") // the embedded struct's fields are top-level in JSON
		return invalid(field, "%s: expected %s, got a JSON %s", fieldName(field), jsonType(te.Type.Kind()), te.Value)
	case errors.As(err, &se):
		return invalid("", "the request body is not valid JSON: %v (at byte %d)", se, se.Offset)
	}
	return invalid("", "the request body is not valid JSON: %v", err)
}

// jsonType names a Go kind as JSON does.
func jsonType(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint64:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return k.String()
}

func fieldName(f string) string {
	if f == "" {
		return "the body"
	}
	return f
}
