package hf

import (
	"fmt"
	"path/filepath"

	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/nn"
)

// SaveModel writes a model folder into dir (see SaveFolder): config, marshalled by marshal, and
// the weights of ps. Errors start with pkg, the model family's package name.
func SaveModel[C any](dir, pkg string, config C, marshal func(C) ([]byte, error), ps *nn.Params) error {
	data, err := marshal(config)
	if err != nil {
		return fmt.Errorf("%s: %w", pkg, err)
	}
	if err := SaveFolder(dir, data, ps); err != nil {
		return fmt.Errorf("%s: %w", pkg, err)
	}
	return nil
}

// ReadModelConfig reads the config.json of the model folder dir and parses it with parse,
// returning the config and the file's path. An error reading the file starts with pkg, the model
// family's package name; an error parsing it starts with the file's path.
func ReadModelConfig[C any](dir, pkg string, parse func([]byte) (C, error)) (C, string, error) {
	var zero C
	path := filepath.Join(dir, "config.json")
	data, err := ReadConfig(path)
	if err != nil {
		return zero, path, fmt.Errorf("%s: %w", pkg, err)
	}
	cfg, err := parse(data)
	if err != nil {
		return zero, path, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, path, nil
}

// LoadModelWeights fills ps from the weights of the model folder dir (see OpenWeights and
// LoadFrom), then, when check is not nil, calls it with the still open files. An error opening
// or reading the weights starts with pkg, the model family's package name; check's is returned
// as it is.
func LoadModelWeights(dir, pkg string, ps *nn.Params, rename Rename, check func([]*safetensors.File) error) error {
	files, err := OpenWeights(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", pkg, err)
	}
	defer CloseAll(files)
	if err := LoadFrom(files, ps, rename); err != nil {
		return fmt.Errorf("%s: %w", pkg, err)
	}
	if check != nil {
		return check(files)
	}
	return nil
}
