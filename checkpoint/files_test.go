package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
)

// fillCheckpoint returns a Write fill that writes every file a checkpoint holds, with
// small stand-in contents; trainer_state.json is {"step":N}.
func fillCheckpoint(step int) func(dir string) error {
	return func(dir string) error {
		for name, text := range map[string]string{
			"config.json":        `{"model_type":"gpt2"}`,
			"model.safetensors":  fmt.Sprintf("weights %d", step),
			OptimizerFile:        fmt.Sprintf("moments %d", step),
			"qkv_tokenizer.json": `{"kind":"byte"}`,
			StateFile:            fmt.Sprintf(`{"step":%d}`, step),
		} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				return err
			}
		}
		return nil
	}
}
