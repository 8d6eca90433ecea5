package testenv

import (
	"encoding/json"
	"errors"
)

// modelTypeOf returns the model_type of a config.json, or an error if it is not a JSON object
// with a non-empty string model_type.
func modelTypeOf(config []byte) (string, error) {
	var c struct {
		ModelType string `json:"model_type"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return "", err
	}
	if c.ModelType == "" {
		return "", errors.New("no model_type")
	}
	return c.ModelType, nil
}
