package testenv

import "encoding/json"

func modelTypeOf(config []byte) string {
	var c struct {
		ModelType string `json:"model_type"`
	}
	if json.Unmarshal(config, &c) != nil {
		return ""
	}
	return c.ModelType
}
