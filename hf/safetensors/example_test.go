package safetensors_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/qkvdev/qkv/hf/safetensors"
)

func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	err = safetensors.WriteFile(path, []safetensors.Tensor{
		safetensors.F32("wte.weight", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		safetensors.BF16("ln_f.bias", []int{3}, []float32{0.5, -1, 1e-3}),
	}, map[string]string{"format": "pt"})
	if err != nil {
		log.Fatal(err)
	}

	f, err := safetensors.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	for _, t := range f.Tensors() {
		v, err := f.Float32(t.Name)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(t.Name, t.DType, t.Shape, v)
	}
	fmt.Println(f.Metadata())
	// Output:
	// wte.weight F32 [2 3] [1 2 3 4 5 6]
	// ln_f.bias BF16 [3] [0.5 -1 0.0009994507]
	// map[format:pt]
}
