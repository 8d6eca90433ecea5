package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/tensor/kernel"
)

// withCompute adds --compute to cmd and applies it before cmd runs: the arithmetic of the
// matrix multiplies, fp32 or bf16 (inputs rounded to bfloat16, sums in float32). Where the CPU
// lacks AVX512-BF16, bf16 says so on stderr and the command runs in fp32.
func withCompute(cmd *cobra.Command) *cobra.Command {
	cmd.Flags().String("compute", "fp32", "arithmetic of the matrix multiplies: fp32, or bf16 (bfloat16 inputs, float32 sums; needs AVX512-BF16, runs on AMX tiles where the CPU has them)")
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := applyCompute(cmd); err != nil {
			return err
		}
		return run(cmd, args)
	}
	return cmd
}

// applyCompute sets the arithmetic --compute names.
func applyCompute(cmd *cobra.Command) error {
	c, _ := cmd.Flags().GetString("compute")
	switch kernel.Compute(c) {
	case kernel.FP32Compute, kernel.BF16Compute:
	default:
		return fmt.Errorf("--compute %q: want fp32 or bf16", c)
	}
	if err := kernel.SetCompute(kernel.Compute(c)); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "qkv: --compute %s: %v\n", c, err)
	}
	return nil
}
