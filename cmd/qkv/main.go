// Command qkv builds, trains, evaluates and runs transformer language models.
//
//	qkv train                         train a GPT on a default corpus (no network needed)
//	qkv generate --model DIR PROMPT   continue a prompt with a trained model
//	qkv --help                        every command
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first Ctrl-C or SIGTERM cancels ctx, so that long work stops cleanly (training saves a
	// checkpoint); a second one gets the default action and ends the process, whatever it is
	// waiting on.
	go func() {
		<-ctx.Done()
		stop()
	}()
	root := newRoot()
	if err := root.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(os.Stderr, "qkv:", err)
		}
		os.Exit(1)
	}
}

// errSilent marks an error already reported to the user.
var errSilent = errors.New("")

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "qkv",
		Short: "Build, train, evaluate and run transformer language models",
		Long: `qkv builds, trains, evaluates and runs transformer language models — attention, the
Transformer, BERT and GPT — from first principles, in one Go binary.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(withCompute(withBertTraining(newTrainCmd())), withCompute(withAlignMethods(newFinetuneCmd())), withCompute(newGenerateCmd()), withCompute(withBenchServe(newBenchCmd())), newPullCmd(), newTokenizerCmd(), newConvertCmd(), withCompute(newEvalCmd()), newReasonCmd(), withCompute(newEmbedCmd()), withCompute(newChatCmd()), newTranslateCmd(), newAttentionCmd(), newPlotCmd(), withCompute(newServeCmd()))
	return root
}
